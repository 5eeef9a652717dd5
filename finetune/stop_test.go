package finetune

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/gtl-dev/gtl/weights"
)

// stopSpec is the run the stop tests interrupt: AdamW (the optimiser's
// state matters), a cosine schedule (the rate depends on the step), 3
// epochs of 3 steps on the 12 training images of stopImages, with a small
// model that has batch norms (their statistics must resume too).
func stopSpec(images, out string) RunSpec {
	return RunSpec{Data: DataSpec{Source: images, ImageSize: 32, ValSplit: 0.34}, Model: ModelSpec{Arch: "shufflenet_v2_x0_5"},
		Train: TrainSpec{Epochs: 3, Batch: 4, LR: 0.01, Optimizer: "adamw", Schedule: "cosine", Augment: "none"}, Seed: 5, Out: out}
}

// stopImages writes the stop tests' image folder: 3 classes of 6 images
// (4 train, 2 validate each).
func stopImages(t *testing.T) string {
	images := filepath.Join(t.TempDir(), "images")
	writeGrayFolder(t, images, map[string]uint8{"bright": 200, "dark": 40, "mid": 120}, 6)
	return images
}

// stopCase varies stopSpec.
type stopCase struct {
	name  string
	short bool // runs under -short
	edit  func(s *RunSpec)
	// source: the case fine-tunes the uninterrupted plain run's best
	// checkpoint (frozen stages need source weights).
	source bool
}

var stopCases = []stopCase{
	{name: "in memory", short: true, edit: func(*RunSpec) {}},
	{name: "cached features", short: true, source: true, edit: func(s *RunSpec) { s.Train.Freeze = "all"; s.Train.LR = 0.05 }},
	{name: "augmented stream, EMA, mixup", short: true, edit: func(s *RunSpec) { s.Train.Augment, s.Train.EMA, s.Train.Mixup = "light", 0.9, 0.4 }},
	{name: "frozen prefix cached, SGD momentum", source: true, edit: func(s *RunSpec) { s.Train.Freeze, s.Train.Optimizer = "2", "sgd" }},
}

// runStopCase returns the case's spec writing to out (made from the
// source run in src when the case needs one).
func (c stopCase) spec(images, src, out string) RunSpec {
	s := stopSpec(images, out)
	if c.source {
		s.Model = ModelSpec{Weights: filepath.Join(src, "best.safetensors")}
	}
	c.edit(&s)
	return s
}

// TestStopMidEpoch cancels a run's context inside epoch 2 (after its
// first step), as gtl train does on SIGTERM: the run stops at that step
// boundary with a resumable state committed there (trainer-state.json
// step 1, the partial epoch's loss sum), writes no metrics line for the
// unfinished epoch, and --resume (with other write settings, which
// config.json does not record) ends with the uninterrupted run's
// last.safetensors and best.safetensors, byte for byte, and its metrics.
// A run on cached features commits only the head's tensors.
func TestStopMidEpoch(t *testing.T) {
	images := stopImages(t)
	root := t.TempDir()
	src := filepath.Join(root, "plain-ref") // the first case's uninterrupted run
	for _, c := range stopCases {
		if testing.Short() && !c.short {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			ref := filepath.Join(root, strings.ReplaceAll(c.name, " ", "-")+"-ref")
			if c.name == stopCases[0].name {
				ref = src
			}
			if _, err := Run(context.Background(), c.spec(images, src, ref), RunEnv{}); err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(t.TempDir(), "stopped")
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var steps []string
			env := RunEnv{Hooks: RunHooks{OnStep: func(s Step) {
				steps = append(steps, fmt.Sprintf("%d.%d", s.Epoch, s.Step))
				if s.Epoch == 2 && s.Step == 1 {
					cancel() // a signal arrives during this step
				}
			}}}
			res, err := Run(ctx, c.spec(images, src, out), env)
			if err != nil {
				t.Fatal(err)
			}
			if !res.Stopped || res.Result.Stopped == nil || *res.Result.Stopped != (StopPoint{Epoch: 2, Step: 1, StepsPerEpoch: 3}) {
				t.Fatalf("stopped %v at %+v, want after step 1 of epoch 2 (steps taken %v)", res.Stopped, res.Result.Stopped, steps)
			}
			if got := strings.Join(steps, " "); got != "1.1 1.2 1.3 2.1" {
				t.Errorf("steps taken %s, want 1.1 1.2 1.3 2.1", got)
			}
			st, err := readState(out)
			if err != nil {
				t.Fatal(err)
			}
			if st.Epoch != 1 || st.Step != 1 || st.LossSum <= 0 || st.Weights != "state-0001.0001-weights.safetensors" {
				t.Errorf("state: epoch %d step %d loss sum %g weights %s, want epoch 1 step 1, a positive loss sum, state-0001.0001-weights.safetensors",
					st.Epoch, st.Step, st.LossSum, st.Weights)
			}
			if e := metricEpochs(t, out); len(e) != 1 || e[0] != 1 {
				t.Errorf("metrics of the stopped run: epochs %v, want [1]", e)
			}
			if c.spec(images, src, out).Train.Freeze == "all" {
				named, _, err := weights.ReadSafetensors(filepath.Join(out, st.Weights))
				if err != nil {
					t.Fatal(err)
				}
				for name := range named {
					if !strings.HasPrefix(name, "fc.") {
						t.Errorf("the state of a run on cached features holds %q, want only the head's tensors (fc.)", name)
					}
				}
				if len(named) != 2 {
					t.Errorf("the state holds %d tensors, want the head's 2", len(named))
				}
				weights.DropAll(named)
			}
			s := c.spec(images, src, out)
			s.Resume, s.SaveEvery, s.CheckpointEvery = true, 1, 2 // write settings are not part of the run
			steps = nil
			res, err = Run(context.Background(), s, RunEnv{Hooks: env.Hooks})
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(steps, " "); got != "2.2 2.3 3.1 3.2 3.3" {
				t.Errorf("resumed steps %s, want 2.2 2.3 3.1 3.2 3.3", got)
			}
			if res.Stopped || len(res.Result.Epochs) != 2 {
				t.Errorf("resumed run: stopped %v, %d epochs, want 2", res.Stopped, len(res.Result.Epochs))
			}
			sameRun(t, ref, out)
		})
	}
}

// sameRun compares a resumed run's folder with the uninterrupted run's:
// the checkpoints byte for byte, config.json, and every metric but the
// timings.
func sameRun(t *testing.T, ref, out string) {
	t.Helper()
	for _, f := range []string{"last.safetensors", "best.safetensors", "config.json"} {
		want, _ := os.ReadFile(filepath.Join(ref, f))
		got, err := os.ReadFile(filepath.Join(out, f))
		if err != nil || len(want) == 0 || !bytes.Equal(got, want) {
			t.Errorf("%s (%d bytes, %v) differs from the uninterrupted run's (%d bytes)", f, len(got), err, len(want))
		}
	}
	if w, g := metricsSansTime(t, ref), metricsSansTime(t, out); w != g {
		t.Errorf("metrics.jsonl:\n%s\nuninterrupted:\n%s", g, w)
	}
}

// metricsSansTime is metrics.jsonl without the seconds.
func metricsSansTime(t *testing.T, dir string) string {
	b, err := os.ReadFile(filepath.Join(dir, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("metrics.jsonl line %q: %v", line, err)
		}
		delete(m, "seconds")
		l, _ := json.Marshal(m)
		out = append(out, string(l))
	}
	return strings.Join(out, "\n")
}

// stopKillEnv, set in a child process of TestCheckpointEveryKill, names
// the position after whose commit the child kills itself ("E.S": epochs
// done, steps of the next) and the folders.
const stopKillEnv = "GTL_TEST_STOP_KILL"

// TestCheckpointEveryKillChild is the child process of
// TestCheckpointEveryKill; it does nothing unless stopKillEnv is set.
func TestCheckpointEveryKillChild(t *testing.T) {
	v := os.Getenv(stopKillEnv)
	if v == "" {
		t.Skip("child process of TestCheckpointEveryKill")
	}
	f := strings.Split(v, "|") // E.S|images|out|every
	es, ss, _ := strings.Cut(f[0], ".")
	e, _ := strconv.Atoi(es)
	s, _ := strconv.Atoi(ss)
	every, _ := strconv.Atoi(f[3])
	testHookAfterCommit = func(p position) {
		if p == (position{Epoch: e, Step: s}) {
			_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {} // the signal arrives
		}
	}
	spec := stopSpec(f[1], f[2])
	spec.CheckpointEvery = every
	if _, err := Run(context.Background(), spec, RunEnv{}); err != nil {
		t.Fatal(err)
	}
	t.Fatal("not killed")
}

// TestCheckpointEveryKill kills a run (SIGKILL, in a child process) right
// after a mid-epoch state that CheckpointEvery committed — step 4 of the
// run, step 1 of epoch 2 — and resumes it: the resumed run starts at step
// 2 of epoch 2 and ends with the uninterrupted run's checkpoints (byte
// for byte) and metrics.
func TestCheckpointEveryKill(t *testing.T) {
	images := stopImages(t)
	ref := filepath.Join(t.TempDir(), "ref")
	if _, err := Run(context.Background(), stopSpec(images, ref), RunEnv{}); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "killed")
	cmd := exec.Command(os.Args[0], "-test.run=^TestCheckpointEveryKillChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=1.1|%s|%s|2", stopKillEnv, images, out))
	b, err := cmd.CombinedOutput()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child: %v, want killed by SIGKILL\n%s", err, b)
	}
	st, err := readState(out)
	if err != nil || st.Epoch != 1 || st.Step != 1 {
		t.Fatalf("committed state: epoch %d step %d (%v), want epoch 1 step 1", st.Epoch, st.Step, err)
	}
	var steps []string
	s := stopSpec(images, out)
	s.Resume = true
	res, err := Run(context.Background(), s, RunEnv{Hooks: RunHooks{OnStep: func(s Step) { steps = append(steps, fmt.Sprintf("%d.%d", s.Epoch, s.Step)) }}})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(steps, " "); got != "2.2 2.3 3.1 3.2 3.3" || len(res.Result.Epochs) != 2 {
		t.Errorf("resumed steps %s (%d epochs), want 2.2 2.3 3.1 3.2 3.3 (2 epochs)", got, len(res.Result.Epochs))
	}
	sameRun(t, ref, out)
}
