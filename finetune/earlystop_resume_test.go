package finetune

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// earlyStopSpec is stopSpec with patience 2 over up to 8 epochs at a rate
// whose validation loss (seed 5) falls for a few epochs and then rises,
// so that training stops after epoch best+2 < 8.
func earlyStopSpec(images, out string) RunSpec {
	s := stopSpec(images, out)
	s.Train.Epochs, s.Train.Patience, s.Train.LR = 8, 2, 0.003
	return s
}

// metricsRecords reads metrics.jsonl's lines as JSON objects.
func metricsRecords(t *testing.T, dir string) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("metrics.jsonl line %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

// TestEarlyStopResume interrupts a run with early stopping between its
// best epoch B and the epoch S it stops after — inside epoch B+1 (the
// state committed there must hold the best epoch's tensors, kept in
// memory until then), at the end of epoch B+1 with a state committed
// after every epoch (the best epoch's file is a link made at B's commit
// and kept since), and right after the stop's own commit, before the run
// finished (it must train no further) — and resumes it: the resumed run
// takes the uninterrupted run's remaining steps, stops after the same
// epoch, and ends with its last.safetensors, best.safetensors (epoch B's
// weights) and config.json (early_stopping) byte for byte, and its
// metrics, whose line of epoch S records the stop. It does so for a run
// in memory, one on cached features (whose state holds only the head)
// and an augmented, streamed one with EMA (whose epochs end with the
// average in the model), the last two fine-tuning the first's model.
func TestEarlyStopResume(t *testing.T) {
	images := stopImages(t)
	src := filepath.Join(t.TempDir(), "src") // the first case's uninterrupted run
	for _, c := range []struct {
		name string
		edit func(s *RunSpec)
	}{
		{"in memory", func(*RunSpec) {}},
		{"cached features", func(s *RunSpec) {
			s.Model, s.Train.Freeze, s.Train.LR = ModelSpec{Weights: filepath.Join(src, "best.safetensors")}, "all", 0.1
		}},
		{"augmented stream, EMA", func(s *RunSpec) {
			s.Model, s.Train.Augment, s.Train.EMA, s.Train.LR = ModelSpec{Weights: filepath.Join(src, "best.safetensors")}, "light", 0.9, 0.01
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			ref := filepath.Join(t.TempDir(), "ref")
			if c.name == "in memory" {
				ref = src
			}
			spec := func(out string) RunSpec {
				s := earlyStopSpec(images, out)
				c.edit(&s)
				return s
			}
			earlyStopResume(t, spec, ref, c.name == "in memory")
		})
	}
}

// earlyStopResume is TestEarlyStopResume's case of the run spec(out),
// whose uninterrupted run writes ref; with pandas, pandas reads its
// metrics.
func earlyStopResume(t *testing.T, spec func(out string) RunSpec, ref string, pandas bool) {
	var refSteps []string
	res, err := Run(context.Background(), spec(ref), RunEnv{Hooks: RunHooks{OnStep: func(s Step) {
		refSteps = append(refSteps, fmt.Sprintf("%d.%d", s.Epoch, s.Step))
	}}})
	if err != nil {
		t.Fatal(err)
	}
	es := res.Config.EarlyStop
	if es == nil || res.Stopped || es.StoppedEpoch == 0 || es.StoppedEpoch != es.BestEpoch+2 || es.BestEpoch < 2 || len(res.Result.Epochs) != es.StoppedEpoch {
		t.Fatalf("uninterrupted run: early stop %+v after %d epochs (stopped %v); want a stop 2 epochs after a best epoch > 1 (curve %+v)", es, len(res.Result.Epochs), res.Stopped, res.Result.Epochs)
	}
	B, S := es.BestEpoch, es.StoppedEpoch
	// The line of the epoch it stopped after records the stop; no other.
	recs := metricsRecords(t, ref)
	for i, r := range recs {
		got, has := r["early_stopping"].(map[string]any)
		if i < len(recs)-1 {
			if has {
				t.Errorf("metrics.jsonl epoch %v: early_stopping %v, want none before the last epoch", r["epoch"], got)
			}
			continue
		}
		if r["epoch"] != float64(S) || got == nil || got["best_epoch"] != float64(B) || got["stopped_epoch"] != float64(S) ||
			got["monitor"] != "val_loss" || got["best"] != es.Best || got["patience"] != float64(2) || recs[B-1]["val_loss"] != es.Best {
			t.Errorf("metrics.jsonl last line %v, want epoch %d with early_stopping best_epoch %d (val_loss %v), stopped_epoch %d", r, S, B, es.Best, S)
		}
	}
	if pandas {
		pandasReadsStop(t, ref, B, S)
	}

	for _, tc := range []struct {
		name string
		// stop interrupts the run (cancel ends its context): it returns
		// the run's hooks, and arms testHookAfterCommit when it needs to.
		stop      func(cancel func()) RunHooks
		saveEvery int
		// The state committed: epochs done, steps of the next, and early
		// stopping's wait count then.
		epoch, step, wait int
	}{
		{"inside epoch B+1", func(cancel func()) RunHooks {
			return RunHooks{OnStep: func(s Step) {
				if s.Epoch == B+1 && s.Step == 1 {
					cancel()
				}
			}}
		}, 0, B, 1, 0},
		{"end of epoch B+1, a state every epoch", func(cancel func()) RunHooks {
			return RunHooks{OnEpochEnd: func(e Epoch) error {
				if e.Epoch == B+1 {
					cancel()
				}
				return nil
			}}
		}, 1, B + 1, 0, 1},
		{"after the stop's commit", func(cancel func()) RunHooks {
			testHookAfterCommit = func(p position) {
				if p == (position{Epoch: S}) {
					cancel() // as a kill between the commit and the run's end
				}
			}
			return RunHooks{}
		}, 0, S, 0, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func() { testHookAfterCommit = nil }()
			out := filepath.Join(t.TempDir(), "stopped")
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			s := spec(out)
			s.SaveEvery = tc.saveEvery
			res, err := Run(ctx, s, RunEnv{Hooks: tc.stop(cancel)})
			testHookAfterCommit = nil
			if err != nil {
				t.Fatal(err)
			}
			if !res.Stopped || res.Config.EarlyStop != nil {
				t.Fatalf("interrupted run: stopped %v, early stop %+v; want an interruption, unfinished", res.Stopped, res.Config.EarlyStop)
			}
			st, err := readState(out)
			if err != nil {
				t.Fatal(err)
			}
			want := earlyStopState{Monitor: "val_loss", BestEpoch: B, Best: es.Best, Wait: tc.wait, Weights: fmt.Sprintf("state-%04d-earlystop-best.safetensors", B)}
			if tc.epoch == S {
				want.StoppedEpoch = S
			}
			if st.Epoch != tc.epoch || st.Step != tc.step || st.EarlyStop == nil || !reflect.DeepEqual(*st.EarlyStop, want) {
				t.Fatalf("state: epoch %d step %d early stopping %+v; want epoch %d step %d, %+v", st.Epoch, st.Step, st.EarlyStop, tc.epoch, tc.step, want)
			}
			if _, err := os.Stat(filepath.Join(out, want.Weights)); err != nil {
				t.Fatal(err)
			}

			s.Resume, s.SaveEvery, s.CheckpointEvery = true, 0, 0
			var steps []string
			res, err = Run(context.Background(), s, RunEnv{Hooks: RunHooks{OnStep: func(s Step) {
				steps = append(steps, fmt.Sprintf("%d.%d", s.Epoch, s.Step))
			}}})
			if err != nil {
				t.Fatal(err)
			}
			done := 3*tc.epoch + tc.step // 3 steps an epoch
			if got, want := strings.Join(steps, " "), strings.Join(refSteps[done:], " "); got != want {
				t.Errorf("resumed steps %q, want the uninterrupted run's remaining %q", got, want)
			}
			if res.Stopped || res.Config.EarlyStop == nil || *res.Config.EarlyStop != *es {
				t.Errorf("resumed run: stopped %v, early stop %+v; want %+v", res.Stopped, res.Config.EarlyStop, es)
			}
			if res.Report == nil || math.Abs(res.Report.Loss-es.Best) > 1e-6 {
				t.Errorf("resumed run's final report %+v, want epoch %d's validation loss %v", res.Report, B, es.Best)
			}
			sameRun(t, ref, out)
		})
	}
}

// TestEarlyStopBestIsLast: with patience on and no stop, the final model is
// the best monitored epoch's; when that is the last epoch and an earlier
// one had the best accuracy, best.safetensors (written for that accuracy
// during training) must end as the final model: last.safetensors.
func TestEarlyStopBestIsLast(t *testing.T) {
	images := stopImages(t)
	out := filepath.Join(t.TempDir(), "run")
	s := earlyStopSpec(images, out)
	s.Train.Epochs, s.Train.Patience = 3, 5 // (the loss falls for the first 3 epochs, the accuracy stays)
	res, err := Run(context.Background(), s, RunEnv{})
	if err != nil {
		t.Fatal(err)
	}
	ep := res.Result.Epochs
	es := res.Config.EarlyStop
	if es == nil || es.StoppedEpoch != 0 || es.BestEpoch != 3 || len(ep) != 3 || ep[0].ValAccuracy < ep[2].ValAccuracy {
		t.Fatalf("early stop %+v, curve %+v; want best epoch 3 of 3, and epoch 1 at least as accurate", es, ep)
	}
	last, _ := os.ReadFile(filepath.Join(out, "last.safetensors"))
	best, err := os.ReadFile(filepath.Join(out, "best.safetensors"))
	if err != nil || len(last) == 0 || !bytes.Equal(best, last) {
		t.Errorf("best.safetensors (%d bytes, %v) is not the final model, last.safetensors (%d bytes)", len(best), err, len(last))
	}
	recs := metricsRecords(t, out)
	got, _ := recs[len(recs)-1]["early_stopping"].(map[string]any)
	if len(recs) != 3 || got == nil || got["best_epoch"] != float64(3) || got["stopped_epoch"] != float64(0) {
		t.Errorf("metrics.jsonl: %v; want the last line with early_stopping best_epoch 3, stopped_epoch 0", recs)
	}
}

// pandasReadsStop reads dir's metrics.jsonl with pandas.read_json(lines=True),
// as a user would: one row per epoch, numeric columns, and early_stopping
// set on the last row only, naming best epoch b and stop epoch s.
func pandasReadsStop(t *testing.T, dir string, b, s int) {
	t.Helper()
	const script = `
import json, sys
import pandas as pd
df = pd.read_json(sys.argv[1], lines=True)
es = df["early_stopping"]
last = es.iloc[-1]
print(json.dumps({"rows": len(df), "epochs": df["epoch"].tolist(), "epoch_dtype": str(df["epoch"].dtype),
    "val_loss_dtype": str(df["val_loss"].dtype), "set": int(es.notna().sum()),
    "best_epoch": int(last["best_epoch"]), "stopped_epoch": int(last["stopped_epoch"])}))
`
	out, err := exec.Command("/usr/bin/python3", "-c", script, filepath.Join(dir, "metrics.jsonl")).CombinedOutput()
	if err != nil {
		t.Fatalf("pandas: %v\n%s (scripts/parity/setup.sh installs python3-pandas)", err, out)
	}
	var got struct {
		Rows         int    `json:"rows"`
		Epochs       []int  `json:"epochs"`
		EpochDtype   string `json:"epoch_dtype"`
		ValLossDtype string `json:"val_loss_dtype"`
		Set          int    `json:"set"`
		BestEpoch    int    `json:"best_epoch"`
		Stopped      int    `json:"stopped_epoch"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("pandas: %s: %v", out, err)
	}
	if got.Rows != s || len(got.Epochs) != s || got.Epochs[s-1] != s || got.EpochDtype != "int64" || got.ValLossDtype != "float64" || got.Set != 1 || got.BestEpoch != b || got.Stopped != s {
		t.Errorf("pandas.read_json(lines=True) of metrics.jsonl: %s; want %d int64 epochs, float64 val_loss, early_stopping on the last row only with best_epoch %d, stopped_epoch %d", out, s, b, s)
	}
}

// TestEarlyStopStateResume: what resume takes from a committed state
// without reading weights, and what it refuses (naming the state file).
func TestEarlyStopStateResume(t *testing.T) {
	for _, tc := range []struct {
		name    string
		st      *earlyStopState
		wantErr string
		wait    int
	}{
		{"a state without early stopping: the count starts again", nil, "", 0},
		{"before any validated epoch", &earlyStopState{Monitor: "val_acc", Wait: 1}, "", 1},
		{"another monitor", &earlyStopState{Monitor: "val_loss", BestEpoch: 2, Best: 0.5, Weights: "w.safetensors"}, "early stopping monitored val_loss; this run monitors val_acc", 0},
		{"a best epoch without its file", &earlyStopState{Monitor: "val_acc", BestEpoch: 2, Best: 0.5}, "early stopping's best epoch 2 names no weights file", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s := newEarlyStopper(TrainSpec{Patience: 3, Monitor: "val_acc", Epochs: 9})
			err := s.resume(tc.st, 4, dir, nil, nil)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), filepath.Join(dir, stateFile)) {
					t.Errorf("resume: %v, want an error naming %s: %s", err, filepath.Join(dir, stateFile), tc.wantErr)
				}
				return
			}
			if err != nil || s.seen != 4 || s.wait != tc.wait || s.es.BestEpoch != 0 || s.stopped() || !math.IsInf(s.es.Best, -1) || s.best != nil {
				t.Errorf("resume: %v; seen %d wait %d best epoch %d (%v) stopped %v, want seen 4 wait %d, no best epoch (-Inf), not stopped",
					err, s.seen, s.wait, s.es.BestEpoch, s.es.Best, s.stopped(), tc.wait)
			}
		})
	}
	// A state naming an early-stopping file outside its folder is refused.
	dir := t.TempDir()
	b, _ := json.Marshal(trainerState{Epoch: 1, Epochs: 3, EarlyStop: &earlyStopState{Monitor: "val_loss", BestEpoch: 1, Weights: "../best.safetensors"}})
	if err := os.WriteFile(filepath.Join(dir, stateFile), b, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := readState(dir); err == nil || !strings.Contains(err.Error(), `"../best.safetensors" is not in the run's folder`) {
		t.Errorf("readState: %v, want the early-stopping file refused", err)
	}
}
