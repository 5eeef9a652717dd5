package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"
	"github.com/urfave/cli/v2"

	"github.com/gtl-dev/gtl/env"
	"github.com/gtl-dev/gtl/torch"
	"github.com/gtl-dev/gtl/vision/datasets"
	"github.com/gtl-dev/gtl/vision/datasets/glyphs"
	"github.com/gtl-dev/gtl/vision/models"
)

type level int

const (
	ok level = iota
	warn
	fail
)

func (l level) String() string { return [...]string{"OK", "WARN", "FAIL"}[l] }

// check is one line of the doctor's report; fix says what to do about a
// WARN or FAIL.
type check struct {
	level      level
	name, text string
	fix        string
}

func doctorCommand() *cli.Command {
	return &cli.Command{
		Name:  "doctor",
		Usage: "check that libtorch, the wrapper library, devices and data are usable",
		Description: "Each line is OK, WARN (gtl works, something may be missing) or FAIL (gtl cannot work),\n" +
			"with the fix for anything not OK. Exits 1 when any line is FAIL.",
		Action: func(c *cli.Context) error {
			checks := diagnose()
			worst := report(c.App.Writer, checks)
			if worst == fail {
				return cli.Exit("doctor: gtl cannot work here; see the FAIL lines above", 1)
			}
			return nil
		},
	}
}

func report(w io.Writer, checks []check) level {
	worst := ok
	for _, c := range checks {
		fmt.Fprintf(w, "%-4s  %-9s %s\n", c.level, c.name, c.text)
		if c.level != ok && c.fix != "" {
			fmt.Fprintf(w, "      %-9s fix: %s\n", "", c.fix)
		}
		worst = max(worst, c.level)
	}
	return worst
}

func diagnose() []check {
	b := torch.Build()
	maps := loadedLibraries()
	checks := []check{
		{ok, "gtl", fmt.Sprintf("%s (%s, %s/%s)", versionString(), runtime.Version(), runtime.GOOS, runtime.GOARCH), ""},
		libtorchCheck(b, maps),
		wrapperCheck(b, maps),
		threadsCheck(),
		distCheck(),
	}
	checks = append(checks, cudaChecks(b)...)
	checks = append(checks, computeCheck(gotch.CPU))
	if b.CUDA && len(torch.CUDADevices()) > 0 {
		checks = append(checks, computeCheck(gotch.CudaBuilder(0)))
	}
	checks = append(checks, dataCheck(), fontsCheck())
	return checks
}

// loadedLibraries lists the shared objects mapped into this process.
func loadedLibraries() []string {
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return nil
	}
	defer f.Close()
	seen := map[string]bool{}
	var libs []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 6 && strings.Contains(fields[5], ".so") && !seen[fields[5]] {
			seen[fields[5]] = true
			libs = append(libs, fields[5])
		}
	}
	return libs
}

func findLib(libs []string, base string) string {
	for _, l := range libs {
		if strings.HasPrefix(filepath.Base(l), base) {
			return l
		}
	}
	return ""
}

func libtorchCheck(b torch.BuildInfo, libs []string) check {
	kind := "CPU"
	if b.CUDA {
		kind = "CUDA"
	}
	loaded := findLib(libs, "libtorch_cpu.so")
	c := check{ok, "libtorch", fmt.Sprintf("%s (%s build), loaded from %s", b.LibtorchVersion, kind, loaded), ""}
	if loaded == "" {
		c.level, c.text = fail, fmt.Sprintf("%s built, but libtorch_cpu is not loaded", b.LibtorchVersion)
		c.fix = "rerun scripts/setup.sh (or make build)"
	} else if filepath.Dir(loaded) != b.LibtorchDir {
		c.level = warn
		c.text += fmt.Sprintf(", but the wrapper was built against %s", b.LibtorchDir)
		c.fix = "rebuild against the libtorch you run with: make build (LIBTORCH=... to choose)"
	}
	return c
}

func wrapperCheck(b torch.BuildInfo, libs []string) check {
	text := fmt.Sprintf("%s, gotch %s, %d generated ops disabled (not in libtorch %s)",
		findLib(libs, "libgtltorch.so"), b.GotchVersion, b.DisabledOps, b.LibtorchVersion)
	if b.DisabledOps < 0 {
		return check{warn, "wrapper", text, "rebuild with scripts/setup.sh so the build records its disabled ops"}
	}
	return check{ok, "wrapper", text, ""}
}

func distCheck() check {
	if b := torch.DistBackends(); len(b) > 0 {
		return check{ok, "c10d", strings.Join(b, ", ") + ": data-parallel training (gtl train --nproc-per-node, torchrun, Slurm, PyTorchJob)", ""}
	}
	return check{warn, "c10d", "not built with c10d: data-parallel training is unavailable", "install libgloo-dev and run make setup"}
}

func threadsCheck() check {
	if _, err := env.Threads(); err != nil {
		return check{fail, "threads", err.Error(), "set " + env.NumThreads.Name + " to a whole number ≥ 1, or unset it"}
	}
	return check{ok, "threads", fmt.Sprintf("%d intra-op, %d inter-op (%d cores)", torch.NumThreads(), torch.NumInteropThreads(), runtime.NumCPU()), ""}
}

func cudaChecks(b torch.BuildInfo) []check {
	hasGPU := false
	if _, err := os.Stat("/dev/nvidia0"); err == nil {
		hasGPU = true
	} else if _, err := exec.LookPath("nvidia-smi"); err == nil {
		hasGPU = true
	}
	if !b.CUDA {
		c := check{ok, "cuda", "not used: gtl was built against a CPU-only libtorch", ""}
		if hasGPU {
			c.level, c.text = warn, "an NVIDIA GPU is present, but gtl was built against a CPU-only libtorch"
			c.fix = "rebuild with a CUDA libtorch: LIBTORCH=/path/to/torch make build (see README, GPU)"
		}
		return []check{c, {ok, "cudnn", "not used (CPU build)", ""}}
	}
	devs := torch.CUDADevices()
	if len(devs) == 0 {
		return []check{{warn, "cuda", "CUDA build, but no CUDA device is visible", "check the NVIDIA driver (nvidia-smi) and CUDA_VISIBLE_DEVICES"}}
	}
	var names []string
	for _, d := range devs {
		names = append(names, fmt.Sprintf("%d: %s (%.0f GiB)", d.Index, d.Name, float64(d.MemoryBytes)/(1<<30)))
	}
	out := []check{{ok, "cuda", fmt.Sprintf("%d device(s): %s", len(devs), strings.Join(names, "; ")), ""}}
	if avail, ver := torch.CuDNN(); avail {
		out = append(out, check{ok, "cudnn", fmt.Sprintf("available, version %d", ver), ""})
	} else {
		out = append(out, check{warn, "cudnn", "not available: convolutions will be slow", "install the cuDNN that matches this libtorch"})
	}
	return out
}

// computeCheck runs one forward and backward pass of a small convnet on dev
// from the torch worker, and checks that grad mode survives a no-grad section.
func computeCheck(dev gotch.Device) check {
	name := "compute"
	if dev.IsCuda() {
		name = "gpu"
	}
	err := torch.Do(func() error {
		vs := nn.NewVarStore(dev)
		m, err := models.NewSmallCNN(vs.Root(), 1, 10, 28)
		if err != nil {
			return err
		}
		x, err := ts.Randn([]int64{4, 1, 28, 28}, gotch.Float, dev)
		if err != nil {
			return err
		}
		defer x.MustDrop()
		out, err := m.Forward(x, true)
		if err != nil {
			return err
		}
		s, err := out.Sum(gotch.Float, true)
		if err != nil {
			return err
		}
		defer s.MustDrop()
		if err := torch.NoGrad(func() error { return nil }); err != nil {
			return err
		}
		if !torch.GradEnabled() {
			return fmt.Errorf("grad mode is off after a no-grad section")
		}
		return s.Backward()
	})
	where := "CPU"
	if dev.IsCuda() {
		where = fmt.Sprintf("cuda:%d", dev.Value)
	}
	if err != nil {
		return check{fail, name, fmt.Sprintf("a small convnet's forward/backward on %s failed: %s", where, firstLine(err.Error())),
			"rebuild with scripts/setup.sh; if it persists, report it with this output"}
	}
	return check{ok, name, "forward and backward of a small convnet on " + where + " from the pinned torch thread", ""}
}

// fontsCheck: gtl glyphs (and so the demo) draws from the pinned fonts only.
func fontsCheck() check {
	var pkgs []string
	for _, p := range glyphs.PinnedPackages {
		pkgs = append(pkgs, p.Name)
	}
	if err := glyphs.CheckPinnedFonts(); err != nil {
		return check{warn, "fonts", "gtl glyphs (the demo's data) cannot draw from its pinned fonts: " + err.Error(),
			"sudo apt-get install --no-install-recommends " + strings.Join(pkgs, " ") + " (or gtl glyphs --fonts all)"}
	}
	return check{ok, "fonts", fmt.Sprintf("the %d pinned fonts of gtl glyphs, from %s", len(glyphs.PinnedFonts), strings.Join(pkgs, ", ")), ""}
}

func dataCheck() check {
	dir := env.FashionMNISTDir.Value()
	n := 0
	for _, split := range []datasets.Split{datasets.Train, datasets.Test} {
		im, err := datasets.LoadFashionMNIST(dir, split)
		if err != nil {
			return check{warn, "data", "Fashion-MNIST (demo and tests) unreadable: " + err.Error(),
				"sudo apt-get install dataset-fashion-mnist (or set " + env.FashionMNISTDir.Name + ")"}
		}
		n += im.Len()
	}
	return check{ok, "data", fmt.Sprintf("Fashion-MNIST: %d images in %s", n, dir), ""}
}
