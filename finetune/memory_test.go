package finetune

import (
	"runtime"
	"testing"

	"github.com/gtl-dev/gtl/internal/torchtest"
	"github.com/gtl-dev/gtl/torch"
)

// TestMemoryFlat: the resident memory after epoch 20 of a small run is
// within 5% of that after epoch 2, so no step leaks tensors.
func TestMemoryFlat(t *testing.T) {
	w := torch.NewWorker()
	defer w.Close()
	m := headOnly(t, w) // resnet18; unfreeze everything for full training
	err := w.Do(func() error {
		for i := range m.Stages {
			if err := m.SetStageFrozen(i, false, false); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Do(func() error { m.Close(); return nil })
	var at2, at20 int
	tr := Trainer{Train: TrainSpec{Epochs: 20, Batch: 16, LR: 0.01}, Seed: 1, Worker: w, Hooks: Hooks{OnEpochEnd: func(e Epoch) error {
		if e.Epoch == 2 || e.Epoch == 20 {
			runtime.GC() // gotch frees dropped tensors' Go side through finalizers
			runtime.GC()
			if e.Epoch == 2 {
				at2 = torchtest.RSSKiB(t)
			} else {
				at20 = torchtest.RSSKiB(t)
			}
		}
		return nil
	}}}
	if _, err := tr.Fit(m, m.VS, randomImages(64, 32, 9), randomImages(32, 32, 10)); err != nil {
		t.Fatal(err)
	}
	growth := float64(at20-at2) / float64(at2)
	t.Logf("RSS after epoch 2: %d MB, after epoch 20: %d MB (%+.1f%%)", at2/1024, at20/1024, 100*growth)
	if growth > 0.05 {
		t.Errorf("RSS grew %.1f%% between epochs 2 and 20 (%d → %d kB)", 100*growth, at2, at20)
	}
}
