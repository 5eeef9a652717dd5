package finetune

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
)

// TestResumeUnfreezeAt stops a run that freezes 3 stages and unfreezes one
// after epochs 1 and 2 (gtl train --freeze 3 --unfreeze-at 1,2) after epoch
// 1, 2 or 3 (ErrStop, as Ctrl-C does), resumes it, and checks that it ends with the weights of the uninterrupted run: the
// resumed run must start with the stage unfrozen at epoch 1 training, not
// with the initial frozen stages.
func TestResumeUnfreezeAt(t *testing.T) {
	dir, images, src := sourceRun(t)
	spec := func(out string) RunSpec {
		s := crashSpec(images, out, 0)
		s.Model.Weights = filepath.Join(src, "last.safetensors")
		s.Train.Freeze, s.Train.UnfreezeAt, s.Train.Epochs = "3", []int{1, 2}, 4
		return s
	}
	ref := filepath.Join(dir, "ref")
	if _, err := Run(context.Background(), spec(ref), RunEnv{}); err != nil {
		t.Fatal(err)
	}
	for _, stopAt := range []int{1, 2, 3} {
		if testing.Short() && stopAt != 2 {
			continue // CI: one stage unfrozen before the stop, one after
		}
		out := filepath.Join(dir, "stopped", string(rune('0'+stopAt)))
		s := spec(out)
		var env RunEnv
		env.Hooks.OnEpochEnd = func(e Epoch) error {
			if e.Epoch == stopAt {
				return ErrStop
			}
			return nil
		}
		if res, err := Run(context.Background(), s, env); err != nil || !res.Stopped {
			t.Fatalf("stop after epoch %d: %v", stopAt, err)
		}
		if done, err := CommittedEpoch(out); err != nil || done != stopAt {
			t.Fatalf("committed epoch %d (%v), want %d", done, err, stopAt)
		}
		s = spec(out)
		s.Resume = true
		if _, err := Run(context.Background(), s, RunEnv{}); err != nil {
			t.Fatal(err)
		}
		want, _ := os.ReadFile(filepath.Join(ref, "last.safetensors"))
		got, _ := os.ReadFile(filepath.Join(out, "last.safetensors"))
		if len(want) == 0 || !bytes.Equal(got, want) {
			t.Errorf("stopped after epoch %d and resumed: last.safetensors differs from the uninterrupted run's", stopAt)
		}
	}
}

// sourceRun trains crashSpec's model for one epoch on a folder of three
// grey classes (6 images each) in a temporary dir, as a source for
// fine-tuning tests: it returns the dir, the folder and the run's output
// (its last.safetensors).
func sourceRun(t *testing.T) (dir, images, src string) {
	t.Helper()
	dir = t.TempDir()
	images = filepath.Join(dir, "images")
	writeGrayFolder(t, images, map[string]uint8{"bright": 200, "dark": 40, "mid": 120}, 6)
	src = filepath.Join(dir, "source")
	s := crashSpec(images, src, 0)
	s.Train.Epochs = 1
	if _, err := Run(context.Background(), s, RunEnv{}); err != nil {
		t.Fatal(err)
	}
	return dir, images, src
}
