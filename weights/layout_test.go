package weights

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/sugarme/gotch/ts"

	"github.com/gtl-dev/gtl/internal/torchtest"
)

// layoutFixtures makes the named files of scripts/parity/layout_weights.py
// (Debian's python3-torch) in a temporary folder and returns it.
func layoutFixtures(t *testing.T, names ...string) string {
	t.Helper()
	if err := exec.Command("/usr/bin/python3", "-c", "import torchvision").Run(); err != nil {
		t.Skipf("python3-torchvision not installed (scripts/parity/setup.sh): %v", err)
	}
	dir := t.TempDir()
	script := filepath.Join(torchtest.Root(), "scripts", "parity", "layout_weights.py")
	if out, err := exec.Command("/usr/bin/python3", append([]string{script, dir}, names...)...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", script, err, torchtest.LastLines(out))
	}
	return dir
}

// peakChildEnv makes the test binary, run again by peakRSS, read one
// weights file and exit.
const peakChildEnv = "GTL_TEST_PEAK_READ"

// peakRSS runs this test binary again to read file and returns by how much
// the child's peak resident set size grew while it read it: the child
// starts libtorch, resets its peak (/proc/self/clear_refs), reads, and
// prints VmHWM less the VmRSS it had before reading.
func peakRSS(t *testing.T, file string) int64 {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestReadPeakMemory$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), peakChildEnv+"="+file)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("reading %s in a child process: %v\n%s", file, err, torchtest.LastLines(out))
	}
	_, after, ok := strings.Cut(string(out), "PEAK-GROWTH ")
	if !ok {
		t.Fatalf("child printed no PEAK-GROWTH line:\n%s", torchtest.LastLines(out))
	}
	n, err := strconv.ParseInt(strings.Fields(after)[0], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// procStatus returns a field of /proc/self/status in bytes.
func procStatus(field string) (int64, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseInt(strings.Fields(v)[0], 10, 64)
			return kb * 1024, err
		}
	}
	return 0, fmt.Errorf("no %s in /proc/self/status", field)
}

// TestReadPeakMemory: reading a weights file takes at most about twice the
// file in memory, whatever its layout — also when its tensors are views
// into one shared storage, which an earlier reader copied once per tensor
// (a 45 MB file took 4.3 GB). Each file is read in a child process, whose
// peak RSS is measured from just before the read.
func TestReadPeakMemory(t *testing.T) {
	if f := os.Getenv(peakChildEnv); f != "" {
		torchtest.Do(t, func() error {
			runtime.GC()
			if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
				return fmt.Errorf("cannot reset the peak RSS: %w", err)
			}
			before, err := procStatus("VmRSS")
			if err != nil {
				return err
			}
			m, err := ReadWeights(f)
			if err != nil {
				return err
			}
			if len(m) == 0 {
				return errors.New("no tensors")
			}
			peak, err := procStatus("VmHWM")
			if err != nil {
				return err
			}
			DropAll(m)
			fmt.Printf("PEAK-GROWTH %d\n", peak-before)
			return nil
		})
		return
	}
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		t.Skipf("cannot reset the peak RSS here (/proc/self/clear_refs): %v", err)
	}
	files := []string{"shared.pth", "plain.pth", "p5-legacy.pth", "script.pt"}
	dir := layoutFixtures(t, files...)
	// The same tensors as safetensors and as a libtorch archive (.ot).
	torchtest.Do(t, func() error {
		m, err := ReadWeights(filepath.Join(dir, "plain.pth"))
		if err != nil {
			return err
		}
		defer DropAll(m)
		if err := WriteSafetensors(filepath.Join(dir, "plain.safetensors"), m, nil); err != nil {
			return err
		}
		return WriteOt(filepath.Join(dir, "plain.ot"), m)
	})
	files = append(files, "plain.safetensors", "plain.ot")
	for _, name := range files {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(dir, name)
			st, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			peak := peakRSS(t, p)
			limit := 2*st.Size() + 16<<20 // twice the file, and some slack for the Go heap
			t.Logf("%s: %s, peak RSS growth while reading %s (limit %s)", name, mb(st.Size()), mb(peak), mb(limit))
			if peak > limit {
				t.Errorf("reading %s (%s) took %s of memory, want at most %s", name, mb(st.Size()), mb(peak), mb(limit))
			}
		})
	}
}

func mb(n int64) string { return strconv.FormatFloat(float64(n)/1e6, 'f', 1, 64) + " MB" }

// outOfBand writes a torch.save file whose pickle (protocol 5) refers to an
// out-of-band buffer, as a pickle module with a buffer_callback makes it:
// the buffer's data are not in the file (torch.load cannot read it either).
const outOfBand = `
import pickle, sys, torch
class P(pickle.Pickler):
    def __init__(self, f, protocol=None):
        super().__init__(f, protocol=protocol, buffer_callback=lambda b: False)
class M:
    Pickler = P
    Unpickler = pickle.Unpickler
    load = pickle.load
torch.save({"w": torch.ones(2), "buf": pickle.PickleBuffer(bytearray(b"abcd"))}, sys.argv[1], pickle_module=M, pickle_protocol=5)
`

// TestPthLayouts reads the layouts other tools write — pickle protocol 5
// (Ray Train), views into one shared storage, a MoCo checkpoint's nested
// prefixes chosen with Prefix — and checks every tensor against the plain
// state dict's, and that NaN and Inf are found and counted.
func TestPthLayouts(t *testing.T) {
	dir := layoutFixtures(t, "plain.pth", "p5.pth", "p5-legacy.pth", "p5-extra.pth", "shared.pth", "moco.pth", "nan.pth")
	oob := filepath.Join(dir, "oob.pth")
	if out, err := exec.Command("/usr/bin/python3", "-c", outOfBand, oob).CombinedOutput(); err != nil {
		t.Fatalf("out-of-band fixture: %v\n%s", err, out)
	}
	cases := []struct {
		file      string
		o         WeightsOptions
		backbone  bool // want plain's tensors less fc.*, plus fc.0.* and fc.2.*
		src       WeightsSource
		nonFinite []NonFinite
		err       string
	}{
		{file: "p5.pth", src: WeightsSource{Format: "pth"}},
		{file: "p5-legacy.pth", src: WeightsSource{Format: "pth (legacy)"}},
		{file: "p5-extra.pth", src: WeightsSource{Format: "pth", Key: "model"}},
		{file: "shared.pth", src: WeightsSource{Format: "pth"}},
		{file: "moco.pth", o: WeightsOptions{Prefix: "module.encoder_q."}, backbone: true,
			src: WeightsSource{Format: "pth", Key: "state_dict", Prefix: "module.encoder_q.", Dropped: 126}},
		{file: "moco.pth", o: WeightsOptions{Prefix: "encoder_q."}, backbone: true, // after "module." is removed
			src: WeightsSource{Format: "pth", Key: "state_dict", Prefix: "encoder_q.", Dropped: 126}},
		{file: "moco.pth", o: WeightsOptions{Prefix: "encoder."},
			err: `prefix "encoder.": no tensor name starts with it (names start with module.encoder_k., module.encoder_q., module.queue, module.queue_ptr)`},
		{file: "nan.pth", src: WeightsSource{Format: "pth"}, nonFinite: []NonFinite{
			{Name: "fc.weight", Inf: 1, Numel: 2560}, {Name: "layer1.0.bn1.running_var", NaN: 1, Numel: 64}}},
		{file: "oob.pth", err: "the pickle refers to out-of-band buffers (pickle protocol 5 with a buffer_callback), whose data are not in the file"},
	}
	torchtest.Do(t, func() error {
		plain, err := ReadWeights(filepath.Join(dir, "plain.pth"))
		if err != nil {
			return err
		}
		defer DropAll(plain)
		for _, c := range cases {
			t.Run(c.file+"/"+c.o.Prefix, func(t *testing.T) {
				got, src, err := ReadWeightsWith(filepath.Join(dir, c.file), c.o)
				if c.err != "" {
					if err == nil || !strings.Contains(err.Error(), c.err) || strings.Contains(err.Error(), "\n") {
						DropAll(got)
						t.Fatalf("error %v, want one line with %q", err, c.err)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				defer DropAll(got)
				want := plain
				if c.backbone {
					want = map[string]*ts.Tensor{}
					for k, v := range plain {
						if !strings.HasPrefix(k, "fc.") {
							want[k] = v
						}
					}
					for _, k := range []string{"fc.0.weight", "fc.0.bias", "fc.2.weight", "fc.2.bias"} {
						if got[k] == nil {
							t.Fatalf("no %s in %v", k, NamePrefixes(slices.Collect(maps.Keys(got)), 1, 20))
						}
						want[k] = got[k]
					}
				}
				if c.file == "nan.pth" {
					want = got // its values differ from plain's on purpose
				}
				if err := sameTensors(want, got); err != nil {
					t.Error(err)
				}
				if src.Format != c.src.Format || src.Key != c.src.Key || src.Prefix != c.src.Prefix || src.Dropped != c.src.Dropped || src.Stripped != c.src.Stripped {
					t.Errorf("source %+v, want %+v", src, c.src)
				}
				if !slices.Equal(src.NonFinite, c.nonFinite) {
					t.Errorf("non-finite tensors %v, want %v", src.NonFinite, c.nonFinite)
				}
			})
		}
		return nil
	})
}
