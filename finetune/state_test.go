package finetune

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/sugarme/gotch"

	"github.com/gtl-dev/gtl/torch"
	"github.com/gtl-dev/gtl/vision"
	"github.com/gtl-dev/gtl/weights"
)

// TestResumeEqualsUninterrupted: 4 epochs in one go give the same weights
// as 2 epochs, a restart from the saved weights and state, and 2 more.
// With EMA, the checkpoints hold the averaged weights and the state the
// live ones.
func TestResumeEqualsUninterrupted(t *testing.T) {
	for _, tc := range []struct {
		name     string
		ema      float64
		balanced bool // unequal classes, the balanced sampler and class weights
	}{{"plain", 0, false}, {"ema", 0.9, false}, {"balanced sampler and class weights", 0, true}} {
		t.Run(tc.name, func(t *testing.T) { testResume(t, tc.ema, tc.balanced) })
	}
}

func testResume(t *testing.T, emaDecay float64, balanced bool) {
	w := torch.NewWorker()
	defer w.Close()
	data := randomImages(24, 32, 8)
	cfg := Trainer{Train: TrainSpec{Epochs: 4, Batch: 8, LR: 0.02, Optimizer: "adamw", Schedule: "cosine", Warmup: 0.1, EMA: emaDecay}, Seed: 4}
	if balanced { // 14, 8 and 2 images
		for i := range data.Labels {
			data.Labels[i] = min(i/14, 1) + min(i/22, 1)
		}
		cfg.Train.Sampler, cfg.Train.ClassWeights = "balanced", "auto"
	}
	build := func(seed int64) *vision.Model {
		var m *vision.Model
		if err := w.Do(func() error {
			if err := torch.ManualSeed(seed); err != nil {
				return err
			}
			var err error
			m, err = vision.New("resnet18", 3, gotch.CPU)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return m
	}
	valuesOf := func(m *vision.Model) (out map[string][]float64) {
		_ = w.Do(func() error { out = snapshot(m); return nil })
		return out
	}
	a := build(1)
	if _, err := (&Trainer{Train: cfg.Train, Seed: cfg.Seed, Normalize: cfg.Normalize, Augment: cfg.Augment, Device: cfg.Device, Worker: w}).Fit(a, a.VS, data, nil); err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	b := build(1)
	// The schedule spans the whole run: a 2-epoch run is not the first half
	// of a 4-epoch one. Interrupt a 4-epoch run after epoch 2 instead.
	tr := Trainer{Train: cfg.Train, Seed: cfg.Seed, Normalize: cfg.Normalize, Augment: cfg.Augment, Device: cfg.Device, Worker: w, StateDir: dir, Hooks: Hooks{OnEpochEnd: func(e Epoch) error {
		if err := b.SaveWeights(filepath.Join(dir, "last.safetensors"), nil); err != nil {
			return err
		}
		if e.Epoch == 2 {
			return ErrStop
		}
		return nil
	}}}
	if _, err := tr.Fit(b, b.VS, data, nil); err != nil {
		t.Fatal(err)
	}
	c := build(99) // other initial weights: everything must come from the files
	err := w.Do(func() error {
		named, err := weights.ReadWeights(filepath.Join(dir, "last.safetensors"))
		if err != nil {
			return err
		}
		defer weights.DropAll(named)
		_, err = c.LoadTensors(named, vision.LoadOptions{})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	res, err := (&Trainer{Train: cfg.Train, Seed: cfg.Seed, Normalize: cfg.Normalize, Augment: cfg.Augment, Device: cfg.Device, Worker: w, StateDir: dir, Resume: true}).Fit(c, c.VS, data, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Epochs) != 2 || res.Epochs[0].Epoch != 3 {
		t.Fatalf("resumed run trained epochs %+v, want 3 and 4", res.Epochs)
	}
	wa, wc := valuesOf(a), valuesOf(c)
	var diff []string
	for k := range wa {
		if !slices.Equal(wa[k], wc[k]) {
			diff = append(diff, k)
		}
	}
	if len(diff) > 0 {
		t.Errorf("%d of %d tensors differ after resuming, e.g. %v", len(diff), len(wa), diff[:min(3, len(diff))])
	}
	// A state from another run is refused.
	other := cfg
	other.Seed = 5
	if _, err := (&Trainer{Train: other.Train, Seed: other.Seed, Normalize: other.Normalize, Augment: other.Augment, Device: other.Device, Worker: w, StateDir: dir, Resume: true}).Fit(c, c.VS, data, nil); err == nil {
		t.Error("resumed with another seed")
	}
	_ = w.Do(func() error { a.Close(); b.Close(); c.Close(); return nil })
}
