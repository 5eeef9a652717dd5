package finetune

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// crashEnv, set in a child process of TestResumeAfterCrash, names where
// the child kills itself: "after-last:E" (right after epoch E's
// last.safetensors) or "before-commit:E" (after epoch E's state files,
// before trainer-state.json commits them), and the folders.
const crashEnv = "GTL_TEST_CRASH"

// crashSpec is the run the crash test interrupts: AdamW (the optimiser's
// state matters), a cosine schedule, EMA optional.
func crashSpec(images, out string, ema float64) RunSpec {
	return RunSpec{Data: DataSpec{Source: images, ImageSize: 32, ValSplit: 0.34}, Model: ModelSpec{Arch: "resnet18"},
		Train: TrainSpec{Epochs: 3, Batch: 4, LR: 0.01, Optimizer: "adamw", Schedule: "cosine", Augment: "none", EMA: ema}, Seed: 5, Out: out, SaveEvery: 1}
}

// TestCrashChild is the child process of TestResumeAfterCrash; it does
// nothing unless crashEnv is set.
func TestCrashChild(t *testing.T) {
	v := os.Getenv(crashEnv)
	if v == "" {
		t.Skip("child process of TestResumeAfterCrash")
	}
	f := strings.Split(v, "|") // point:epoch|images|out|ema
	point, es, _ := strings.Cut(f[0], ":")
	at, _ := strconv.Atoi(es)
	ema, _ := strconv.ParseFloat(f[3], 64)
	kill := func(e int) {
		if e == at {
			_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {} // the signal arrives
		}
	}
	switch point {
	case "after-last":
		testHookAfterLast = kill
	case "before-commit":
		testHookBeforeCommit = kill
	}
	if _, err := Run(context.Background(), crashSpec(f[1], f[2], ema), RunEnv{}); err != nil {
		t.Fatal(err)
	}
	t.Fatal("not killed")
}

// TestResumeAfterCrash kills a run (SIGKILL, in a child process) between
// the writes of an epoch — after last.safetensors and metrics, before the
// trainer's state; after the state files, before their commit — and
// resumes it: the resumed run redoes that epoch from the committed state
// and ends with weights bit-identical to an uninterrupted run's, and with
// each epoch once in the metrics.
func TestResumeAfterCrash(t *testing.T) {
	dir := t.TempDir()
	images := filepath.Join(dir, "images")
	writeGrayFolder(t, images, map[string]uint8{"bright": 200, "dark": 40, "mid": 120}, 6)
	for _, tc := range []struct {
		point string
		ema   float64
	}{{"after-last:2", 0}, {"before-commit:2", 0}, {"after-last:2", 0.9}} {
		if testing.Short() && tc.point != "after-last:2" || testing.Short() && tc.ema > 0 {
			continue // CI: the crash the earlier layout got wrong
		}
		t.Run(fmt.Sprintf("%s ema %g", tc.point, tc.ema), func(t *testing.T) {
			ref := filepath.Join(t.TempDir(), "ref")
			if _, err := Run(context.Background(), crashSpec(images, ref, tc.ema), RunEnv{}); err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(t.TempDir(), "crashed")
			cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
			cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s|%s|%s|%g", crashEnv, tc.point, images, out, tc.ema))
			b, err := cmd.CombinedOutput()
			if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
				t.Fatalf("child: %v, want killed by SIGKILL\n%s", err, b)
			}
			done, err := CommittedEpoch(out)
			if err != nil || done != 1 {
				t.Fatalf("committed epoch %d (%v), want 1", done, err)
			}
			if e := metricEpochs(t, out); !slices.Equal(e, []int{1, 2}) {
				t.Fatalf("metrics of the killed run: epochs %v, want [1 2] (epoch 2 written, not committed)", e)
			}
			s := crashSpec(images, out, tc.ema)
			s.Resume = true
			res, err := Run(context.Background(), s, RunEnv{})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Result.Epochs) != 2 || res.Result.Epochs[0].Epoch != 2 {
				t.Errorf("resumed epochs %+v, want 2 and 3", res.Result.Epochs)
			}
			want, _ := os.ReadFile(filepath.Join(ref, "last.safetensors"))
			got, _ := os.ReadFile(filepath.Join(out, "last.safetensors"))
			if len(want) == 0 || !bytes.Equal(got, want) {
				t.Errorf("resumed last.safetensors (%d bytes) differs from the uninterrupted run's (%d bytes)", len(got), len(want))
			}
			if e := metricEpochs(t, out); !slices.Equal(e, []int{1, 2, 3}) {
				t.Errorf("metrics epochs %v, want [1 2 3]", e)
			}
			csv, _ := os.ReadFile(filepath.Join(out, "metrics.csv"))
			if n := strings.Count(string(csv), "\n"); n != 4 {
				t.Errorf("metrics.csv has %d lines, want a header and 3 epochs:\n%s", n, csv)
			}
			// Only the committed epoch's state files remain.
			var state []string
			ents, _ := os.ReadDir(out)
			for _, e := range ents {
				if strings.HasPrefix(e.Name(), stateFilePrefix) {
					state = append(state, e.Name())
				}
			}
			wantState := []string{"state-0003-optimizer.pt", "state-0003-weights.safetensors"}
			if tc.ema > 0 {
				wantState = append(wantState, "state-0003-train-weights.safetensors")
			}
			slices.Sort(wantState)
			if !slices.Equal(state, wantState) {
				t.Errorf("state files %v, want %v", state, wantState)
			}
		})
	}
}

func metricEpochs(t *testing.T, dir string) []int {
	b, err := os.ReadFile(filepath.Join(dir, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var out []int
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var r struct {
			Epoch int `json:"epoch"`
		}
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("metrics.jsonl line %q: %v", line, err)
		}
		out = append(out, r.Epoch)
	}
	return out
}

// writeGrayFolder writes n 40×30 PNG images per class, grey levels around
// the class's base value.
func writeGrayFolder(t *testing.T, root string, classes map[string]uint8, n int) {
	for c, base := range classes {
		if err := os.MkdirAll(filepath.Join(root, c), 0o755); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < n; i++ {
			m := image.NewRGBA(image.Rect(0, 0, 40, 30))
			for y := 0; y < 30; y++ {
				for x := 0; x < 40; x++ {
					v := base + uint8((i*7+x*13+y*5)%40)
					m.Set(x, y, color.RGBA{v, v, v, 255})
				}
			}
			var b bytes.Buffer
			if err := png.Encode(&b, m); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(root, c, fmt.Sprintf("%02d.png", i)), b.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}
