package finetune

import (
	"math"
	"testing"

	"github.com/sugarme/gotch/ts"

	"github.com/gtl-dev/gtl/torch"
	"github.com/gtl-dev/gtl/vision"
	"github.com/gtl-dev/gtl/vision/datasets"
)

// headOnly builds resnet18 (seeded) with every stage but the head frozen,
// batch norms in eval mode: the feature-extractor setting.
func headOnly(t testing.TB, w *torch.Worker) *vision.Model {
	return seededFrozen(t, w, 5, "resnet18", -1, true)
}

func headWeights(t testing.TB, w *torch.Worker, m *vision.Model) []float64 {
	var v []float64
	_ = w.Do(func() error {
		vars := m.VS.Variables()
		fw, fb := vars["fc.weight"], vars["fc.bias"]
		v = append(fw.Float64Values(), fb.Float64Values()...)
		return nil
	})
	return v
}

// TestFitCachedEqualsFit: training the head on cached features gives the
// same head, losses and accuracies as the full forward pass through the
// frozen backbone, within float tolerance.
func TestFitCachedEqualsFit(t *testing.T) {
	w := torch.NewWorker()
	defer w.Close()
	train, val := randomImages(48, 32, 3), randomImages(24, 32, 4)
	cfg := Trainer{Train: TrainSpec{Epochs: 3, Batch: 8, LR: 0.05, WeightDecay: 1e-3}, Seed: 2}
	slow, fast := headOnly(t, w), headOnly(t, w)
	defer w.Do(func() error { slow.Close(); fast.Close(); return nil })
	tr := Trainer{Train: cfg.Train, Seed: cfg.Seed, Normalize: cfg.Normalize, Augment: cfg.Augment, Device: cfg.Device, Worker: w}
	rs, err := tr.Fit(slow, slow.VS, train, val)
	if err != nil {
		t.Fatal(err)
	}
	rf, err := tr.fitCached(fast, train, val)
	if err != nil {
		t.Fatal(err)
	}
	a, b := headWeights(t, w, slow), headWeights(t, w, fast)
	var maxD, maxA float64
	for i := range a {
		maxD = math.Max(maxD, math.Abs(a[i]-b[i]))
		maxA = math.Max(maxA, math.Abs(a[i]))
	}
	if maxD > 1e-4*maxA+1e-6 {
		t.Errorf("head weights differ by %.3g (max |w| %.3g)", maxD, maxA)
	}
	for e := range rs.Epochs {
		s, f := rs.Epochs[e], rf.Epochs[e]
		if math.Abs(s.TrainLoss-f.TrainLoss) > 1e-4 || math.Abs(s.ValLoss-f.ValLoss) > 1e-4 || s.ValAccuracy != f.ValAccuracy {
			t.Errorf("epoch %d: slow %+v, cached %+v", e+1, s, f)
		}
	}
	t.Logf("head max |Δ| %.3g; epoch time slow %v, cached %v", maxD, rs.Epochs[1].Duration, rf.Epochs[1].Duration)
}

// BenchmarkFeatureExtractorEpoch compares one epoch of head training
// through the frozen backbone with one epoch on cached features (resnet18,
// 64 images of 64×64). The cached run's one-off feature pass is timed in
// its own sub-benchmark.
func BenchmarkFeatureExtractorEpoch(b *testing.B) {
	w := torch.NewWorker()
	defer w.Close()
	data := randomImages(64, 64, 6)
	cfg := Trainer{Train: TrainSpec{Epochs: 1, Batch: 16, LR: 0.01}, Seed: 1}
	tr := Trainer{Train: cfg.Train, Seed: cfg.Seed, Normalize: cfg.Normalize, Augment: cfg.Augment, Device: cfg.Device, Worker: w}
	m := headOnly(b, w)
	defer w.Do(func() error { m.Close(); return nil })
	b.Run("naive", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := tr.Fit(m, m.VS, data, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("features-once", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			fx, fy := mustFeatures(b, w, m, data, cfg)
			_ = w.Do(func() error { fx.MustDrop(); fy.MustDrop(); return nil })
		}
	})
	b.Run("cached-epoch", func(b *testing.B) {
		var fx, fy = mustFeatures(b, w, m, data, cfg)
		defer w.Do(func() error { fx.MustDrop(); fy.MustDrop(); return nil })
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			c, _ := cfg.loop()
			if _, err := tr.run(Func(m.Head.Forward), m.VS, c, func() (*torch.Optimizer, []Group, error) { return headOptimizer(m, c) },
				data.Len(), fromBatcher(rows(fx, fy), c.Batch), evalSet{}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func mustFeatures(b *testing.B, w *torch.Worker, m *vision.Model, data *datasets.Images, cfg Trainer) (fx, fy *ts.Tensor) {
	err := w.Do(func() error {
		c, err := cfg.loop()
		if err != nil {
			return err
		}
		fx, fy, err = activations(m.Backbone, data, c)
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	return fx, fy
}
