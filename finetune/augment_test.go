package finetune

import (
	"slices"
	"testing"

	"github.com/gtl-dev/gtl/torch"
	"github.com/gtl-dev/gtl/vision/augment"
)

// TestAugmentedFitDeterministic: with augmentation and Mixup/CutMix, the
// loader's workers prepare the batches; the trained weights do not depend
// on how many workers there are, and a different seed changes them.
func TestAugmentedFitDeterministic(t *testing.T) {
	w := torch.NewWorker()
	defer w.Close()
	data := randomImages(24, 32, 5)
	light, err := augment.Preset("light", 32)
	if err != nil {
		t.Fatal(err)
	}
	train := func(workers int, seed uint64, mix bool) map[string][]float64 {
		m := newModel(t, w, "resnet18", 3)
		defer w.Do(func() error { m.Close(); return nil })
		a := Augmentation{Transform: light, Workers: workers, Erase: &augment.RandomErasing{P: 0.5}}
		if mix {
			a.Mix = &augment.MixCutMix{MixupAlpha: 0.2, CutMixAlpha: 1, Prob: 1, SwitchProb: 0.5}
		}
		cfg := Trainer{Train: TrainSpec{Epochs: 2, Batch: 8, LR: 0.01}, Seed: seed, Augment: a}
		res, err := (&Trainer{Train: cfg.Train, Seed: cfg.Seed, Normalize: cfg.Normalize, Augment: cfg.Augment, Device: cfg.Device, Worker: w}).Fit(m, m.VS, data, data)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Epochs) != 2 {
			t.Fatalf("%d epochs", len(res.Epochs))
		}
		var out map[string][]float64
		_ = w.Do(func() error { out = snapshot(m); return nil })
		return out
	}
	for _, mix := range []bool{false, true} {
		one, two, other := train(1, 7, mix), train(3, 7, mix), train(1, 8, mix)
		same, differ := true, false
		for k := range one {
			same = same && slices.Equal(one[k], two[k])
			differ = differ || !slices.Equal(one[k], other[k])
		}
		if !same {
			t.Errorf("mix %v: 1 and 3 workers trained different weights", mix)
		}
		if !differ {
			t.Errorf("mix %v: seeds 7 and 8 trained the same weights", mix)
		}
	}
}
