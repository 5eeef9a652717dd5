package main

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/gtl-dev/gtl/strategies"
)

// gtlProcess returns a gtl process (this test binary, in TestTrainInterrupt's
// child mode) running args; the arguments must not contain spaces.
func gtlProcess(args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^TestTrainInterrupt$")
	cmd.Env = append(os.Environ(), "GTL_TEST_MAIN=1", "GTL_TEST_ARGS="+strings.Join(args, " "))
	return cmd
}

// readResults reads a comparison's results.json.
func readResults(t *testing.T, dir string) *strategies.Results {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	var r strategies.Results
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("%s/results.json: %v", dir, err)
	}
	return &r
}

// TestCompareInterrupt kills a real gtl compare grid (SIGKILL; and Ctrl-C,
// SIGINT) while its second run trains, after the first finished, and
// continues it with --resume: the finished run is kept as it was (not
// rerun), the interrupted one is redone from scratch, the rest run, and
// every run's numbers (curve of training losses and accuracies, final and
// best accuracy) equal those of the same grid run without interruption.
func TestCompareInterrupt(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "source")
	if _, errOut, code := gtl("--threads", "1", "train", "--data", "fashion-mnist", "-q", "--model", "squeezenet1_1", "--classes", "0-2", "--shots", "4", "--epochs", "1",
		"--val", "10", "--image-size", "32", "--out", src); code != 0 {
		t.Fatalf("source: %s", errOut)
	}
	// linear (cached features, well under a second), then full (seconds):
	// the signal sent when the first run is reported lands in the second.
	args := func(out string, extra ...string) []string {
		return append([]string{"--threads", "1", "compare", "--data", "fashion-mnist", "-q", "--weights", filepath.Join(src, "best.safetensors"), "--strategies", "linear,full",
			"--shots", "4", "--seeds", "2", "--classes", "5-7", "--val", "30", "--out", out}, extra...)
	}
	ref := filepath.Join(dir, "ref")
	if _, errOut, code := gtl(args(ref)...); code != 0 {
		t.Fatalf("uninterrupted grid: %s", errOut)
	}
	want := readResults(t, ref)
	if len(want.Runs) != 4 {
		t.Fatalf("uninterrupted grid: %d runs, want 4", len(want.Runs))
	}
	first := strategies.Cell{Strategy: "linear", Shots: 4, Seed: 1}
	for _, tc := range []struct {
		name string
		sig  syscall.Signal
	}{{"SIGKILL", syscall.SIGKILL}, {"SIGINT", syscall.SIGINT}} {
		if testing.Short() && tc.sig == syscall.SIGINT {
			continue // CI: the kill; Ctrl-C in make test-all (~35 s in all at load 8 on 2 cores)
		}
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(dir, tc.name)
			cmd := gtlProcess(args(out)...)
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 1<<16)
			var seen string
			for !regexp.MustCompile(`(?m)^  linear +4 shots seed 1: .*\n`).MatchString(seen) {
				n, err := stdout.Read(buf)
				if err != nil {
					cmd.Process.Kill()
					t.Fatalf("no first run: %v\n%s\n%s", err, seen, stderr.String())
				}
				seen += string(buf[:n])
			}
			if err := cmd.Process.Signal(tc.sig); err != nil {
				t.Fatal(err)
			}
			rest, _ := io.ReadAll(stdout)
			err = cmd.Wait()
			seen += string(rest)
			ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
			switch tc.sig {
			case syscall.SIGKILL:
				if !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
					t.Fatalf("exit %v, want killed\n%s\n%s", err, seen, stderr.String())
				}
			case syscall.SIGINT:
				if ws.ExitStatus() != 130 || !strings.Contains(stderr.String(), "full, 4 shots, seed 1: stopped unfinished; --resume runs it again") ||
					!strings.Contains(seen, "continue with the same flags and --resume") {
					t.Fatalf("exit %v, want 130 and the unfinished run named\n%s\n%s", err, seen, stderr.String())
				}
			}
			if strings.Contains(seen, "  full ") {
				t.Fatalf("the second run finished before the signal:\n%s", seen)
			}
			kept := readResults(t, out)
			if len(kept.Runs) != 1 || kept.Runs[0].Cell != first {
				t.Fatalf("after %s: runs %+v, want only %v", tc.name, kept.Runs, first)
			}
			// --resume: the finished run is not rerun, the interrupted one is.
			stdout2, errOut, code := gtl(args(out, "--resume")...)
			if code != 0 || !strings.Contains(stdout2, "= 4 runs (3 to do)") {
				t.Fatalf("--resume: %d\n%s\n%s", code, stdout2, errOut)
			}
			if strings.Contains(stdout2, "linear        4 shots seed 1:") || !strings.Contains(stdout2, "full          4 shots seed 1:") {
				t.Errorf("--resume ran:\n%s\nwant every run but linear seed 1", stdout2)
			}
			got := readResults(t, out)
			if len(got.Runs) != 4 {
				t.Fatalf("after --resume: %d runs, want 4", len(got.Runs))
			}
			if rec, _ := got.Find(first); !reflect.DeepEqual(rec, kept.Runs[0]) {
				t.Errorf("the finished run's record changed on --resume:\n%+v\nwas\n%+v", rec, kept.Runs[0])
			}
			for _, cell := range want.Grid.Cells() {
				w, _ := want.Find(cell)
				g, ok := got.Find(cell)
				if !ok {
					t.Errorf("%s: missing after --resume", cell)
					continue
				}
				if g.FinalAccuracy != w.FinalAccuracy || g.BestAccuracy != w.BestAccuracy || g.EpochsTo95 != w.EpochsTo95 || len(g.Curve) != len(w.Curve) {
					t.Errorf("%s: final %g best %g (%d epochs to 95%%, %d points), uninterrupted %g %g (%d, %d)", cell, g.FinalAccuracy, g.BestAccuracy,
						g.EpochsTo95, len(g.Curve), w.FinalAccuracy, w.BestAccuracy, w.EpochsTo95, len(w.Curve))
					continue
				}
				for i := range w.Curve {
					a, b := g.Curve[i], w.Curve[i]
					if a.Epoch != b.Epoch || a.TrainLoss != b.TrainLoss || (a.ValAccuracy == nil) != (b.ValAccuracy == nil) ||
						a.ValAccuracy != nil && *a.ValAccuracy != *b.ValAccuracy {
						t.Errorf("%s: epoch %d: loss %g, uninterrupted %g", cell, b.Epoch, a.TrainLoss, b.TrainLoss)
						break
					}
				}
			}
			if _, err := os.Stat(filepath.Join(out, "report.html")); err != nil {
				t.Error(err)
			}
		})
	}
}
