package finetune

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sugarme/gotch/ts"

	"github.com/gtl-dev/gtl/torch"
)

// TestCheckpointWrites drives a run's writer through epochs that commit
// and epochs that do not: an improvement between commits is kept in
// memory and written at the next commit with the weights of the epoch that
// improved (not the model's later ones), an improvement at a commit makes
// best a hard link to last, and nothing is written between commits.
func TestCheckpointWrites(t *testing.T) {
	w := torch.Default()
	m := newModel(t, w, "shufflenet_v2_x0_5", 1)
	defer w.Do(func() error { m.Close(); return nil })
	dir := t.TempDir()
	rw, best, err := newRunWriter(dir, OutOptions{}, RunConfig{Spec: RunSpec{Data: DataSpec{ImageSize: 32}}, Classes: []string{"a", "b", "c"}})
	if err != nil {
		t.Fatal(err)
	}
	defer rw.close()
	rw.m = m
	ref := t.TempDir()     // the checkpoints the epochs would have written at once
	bump := func() error { // training: every tensor of the head moves
		return torch.WithoutGrad(func() error {
			for name, v := range m.VS.Variables() {
				if strings.HasPrefix(name, "fc.") {
					one := ts.FloatScalar(1)
					n := v.MustAddScalar(one, false)
					v.Copy_(n)
					n.MustDrop()
					one.MustDrop()
				}
			}
			return nil
		})
	}
	exists := func(name string) bool { _, err := os.Stat(filepath.Join(dir, name)); return err == nil }
	read := func(d, name string) []byte { b, _ := os.ReadFile(filepath.Join(d, name)); return b }
	steps := []struct {
		acc        float64
		commit     bool
		wantBest   int  // the epoch whose weights best.safetensors holds after the step (0: none yet)
		wantLinked bool // best and last are the same file
	}{
		{acc: 0.5, commit: false, wantBest: 0},                   // kept in memory, nothing written
		{acc: 0.4, commit: false, wantBest: 0},                   // worse: still nothing
		{acc: 0.3, commit: true, wantBest: 1},                    // the commit writes epoch 1's weights
		{acc: 0.6, commit: true, wantBest: 4, wantLinked: true},  // improved at a commit: a link
		{acc: 0.7, commit: false, wantBest: 4, wantLinked: true}, // kept, not written: both still epoch 4's
	}
	for i, s := range steps {
		e := i + 1
		err := w.Do(func() error {
			if e > 1 {
				if err := bump(); err != nil {
					return err
				}
			}
			if err := m.SaveCheckpoint(filepath.Join(ref, fmt.Sprintf("epoch%d.safetensors", e)), rw.meta); err != nil {
				return err
			}
			if err := rw.epoch(Epoch{Epoch: e, ValAccuracy: s.acc}, &best); err != nil {
				return err
			}
			return rw.epochEnd(s.commit)
		})
		if err != nil {
			t.Fatal(err)
		}
		if s.wantBest == 0 {
			if exists("best.safetensors") || exists("last.safetensors") {
				t.Errorf("epoch %d: checkpoints written before any commit", e)
			}
			continue
		}
		want := read(ref, fmt.Sprintf("epoch%d.safetensors", s.wantBest))
		if got := read(dir, "best.safetensors"); len(want) == 0 || !bytes.Equal(got, want) {
			t.Errorf("epoch %d: best.safetensors (%d bytes) is not epoch %d's weights", e, len(got), s.wantBest)
		}
		a, _ := os.Stat(filepath.Join(dir, "best.safetensors"))
		b, _ := os.Stat(filepath.Join(dir, "last.safetensors"))
		if linked := a != nil && b != nil && os.SameFile(a, b); linked != s.wantLinked {
			t.Errorf("epoch %d: best and last the same file: %v, want %v", e, linked, s.wantLinked)
		}
	}
	// A mid-epoch commit writes the kept best (epoch 5's) and not last.
	lastBefore := read(dir, "last.safetensors")
	if err := w.Do(func() error {
		if err := bump(); err != nil {
			return err
		}
		return rw.flush()
	}); err != nil {
		t.Fatal(err)
	}
	if want, got := read(ref, "epoch5.safetensors"), read(dir, "best.safetensors"); !bytes.Equal(got, want) {
		t.Error("after a mid-epoch commit, best.safetensors is not epoch 5's weights")
	}
	if !bytes.Equal(read(dir, "last.safetensors"), lastBefore) {
		t.Error("a mid-epoch commit rewrote last.safetensors")
	}
	var tmp []string
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.Contains(e.Name(), ".tmp") {
			tmp = append(tmp, e.Name())
		}
	}
	if len(tmp) > 0 {
		t.Errorf("temporary files left: %v", tmp)
	}
}

// TestSaveEvery checks when a run commits its state: SaveEvery N after
// every N-th epoch and the last; by default (a run far under a minute)
// only after the last; and the committed weights file is a link to
// last.safetensors.
func TestSaveEvery(t *testing.T) {
	images := stopImages(t)
	for _, tc := range []struct {
		name  string
		every int
		want  []int // epochs whose state exists when the next epoch ends
	}{{"auto, short run", 0, nil}, {"every epoch", 1, []int{1, 2}}, {"every 2", 2, []int{0, 2}}} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "run")
			s := stopSpec(images, out)
			s.SaveEvery = tc.every
			var seen []int
			env := RunEnv{Hooks: RunHooks{OnEpochEnd: func(e Epoch) error {
				if e.Epoch > 1 { // what the previous epoch left
					done, err := CommittedEpoch(out)
					if err != nil {
						done = 0
					}
					seen = append(seen, done)
				}
				return nil
			}}}
			if _, err := Run(context.Background(), s, env); err != nil {
				t.Fatal(err)
			}
			want := tc.want
			if want == nil {
				want = []int{0, 0}
			}
			if !slices.Equal(seen, want) {
				t.Errorf("committed epochs seen at epochs 2 and 3: %v, want %v", seen, want)
			}
			st, err := readState(out)
			if err != nil || st.Epoch != 3 {
				t.Fatalf("final state: epoch %d (%v), want 3", st.Epoch, err)
			}
			a, _ := os.Stat(filepath.Join(out, st.Weights))
			b, _ := os.Stat(filepath.Join(out, "last.safetensors"))
			if a == nil || b == nil || !os.SameFile(a, b) {
				t.Errorf("%s is not a link to last.safetensors", st.Weights)
			}
		})
	}
}
