package finetune

import (
	"math"
	"strings"
	"testing"

	"github.com/sugarme/gotch"

	"github.com/gtl-dev/gtl/torch"
	"github.com/gtl-dev/gtl/vision"
	"github.com/gtl-dev/gtl/vision/augment"
)

// frozenModel builds arch (seed 7, 3 classes) with its first n stages
// frozen; bnEval as SetStageFrozen takes it.
func frozenModel(t testing.TB, w *torch.Worker, arch string, n int, bnEval bool) *vision.Model {
	return seededFrozen(t, w, 7, arch, n, bnEval)
}

// seededFrozen builds arch (3 classes) from seed with its first n stages
// frozen, or all but the last -n when n is negative.
func seededFrozen(t testing.TB, w *torch.Worker, seed int64, arch string, n int, bnEval bool) *vision.Model {
	var m *vision.Model
	err := w.Do(func() error {
		if err := torch.ManualSeed(seed); err != nil {
			return err
		}
		var err error
		if m, err = vision.New(arch, 3, gotch.CPU); err != nil {
			return err
		}
		if n < 0 {
			n += len(m.Stages)
		}
		for i := 0; i < n; i++ {
			if err := m.SetStageFrozen(i, true, bnEval); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestFitPrefixCachedEqualsFit: training with the frozen prefix computed
// once per image gives Fit's weights (every tensor, batch-norm statistics
// included), losses and accuracies, within float tolerance, for a ResNet
// (residual blocks with downsampling) and a MobileNetV2 (residual
// wrappers; dropout in the head, so both paths must draw the same random
// numbers), with the optimiser, schedule, weight decay and EMA varied.
func TestFitPrefixCachedEqualsFit(t *testing.T) {
	for _, tt := range []struct {
		name    string
		arch    string
		frozen  int
		modules int // leading backbone modules cached
		cfg     Trainer
	}{
		// Two steps an epoch: on random labels more steps make training chaotic,
		// and rounding (which differs between CPUs' kernels) then grows past
		// any tolerance (AVX-512: 2.9 after 8 steps of batch 8, for resnet18 and,
		// on another AVX-512 machine, mobilenet_v2; a dropout draw out of step
		// would differ from the first step on).
		{"resnet18 freeze-2 sgd", "resnet18", 2, 5, Trainer{Train: TrainSpec{Epochs: 2, Batch: 16, LR: 0.01, WeightDecay: 1e-3}, Seed: 2}},
		{"resnet18 freeze-1 adamw cosine ema", "resnet18", 1, 3, Trainer{Train: TrainSpec{Epochs: 2, Batch: 8, LR: 1e-3, Optimizer: "adamw", Schedule: "cosine", Warmup: 0.2, EMA: 0.9}, Seed: 3}},
		{"mobilenet_v2 freeze-2 dropout", "mobilenet_v2", 2, 4, Trainer{Train: TrainSpec{Epochs: 2, Batch: 16, LR: 0.02, LRDecay: 0.5, LabelSmoothing: 0.1}, Seed: 4}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := torch.NewWorker()
			defer w.Close()
			train, val := randomImages(32, 32, 3), randomImages(12, 32, 4)
			slow, fast := frozenModel(t, w, tt.arch, tt.frozen, true), frozenModel(t, w, tt.arch, tt.frozen, true)
			defer w.Do(func() error { slow.Close(); fast.Close(); return nil })
			tr := Trainer{Train: tt.cfg.Train, Seed: tt.cfg.Seed, Normalize: tt.cfg.Normalize, Augment: tt.cfg.Augment, Device: tt.cfg.Device, Worker: w}
			rs, err := tr.Fit(slow, slow.VS, train, val)
			if err != nil {
				t.Fatal(err)
			}
			rf, err := tr.fitPrefixCached(fast, train, val)
			if err != nil {
				t.Fatal(err)
			}
			if p := rf.PrefixCache; p == nil || !p.Used || p.Modules != tt.modules || p.Bytes <= 0 {
				t.Fatalf("PrefixCache %+v, want used with %d modules", p, tt.modules)
			}
			a, b := snapshotOn(w, slow), snapshotOn(w, fast)
			var maxD, maxA float64
			for k, va := range a {
				vb := b[k]
				for i := range va {
					maxD = math.Max(maxD, math.Abs(va[i]-vb[i]))
					maxA = math.Max(maxA, math.Abs(va[i]))
				}
			}
			if maxD > 1e-4*maxA+1e-5 {
				t.Errorf("weights differ by %.3g (max |w| %.3g)", maxD, maxA)
			}
			for e := range rs.Epochs {
				s, f := rs.Epochs[e], rf.Epochs[e]
				close := func(a, b float64) bool { return math.Abs(a-b) <= 1e-4*math.Max(1, math.Abs(a)) }
				if !close(s.TrainLoss, f.TrainLoss) || !close(s.ValLoss, f.ValLoss) || s.ValAccuracy != f.ValAccuracy {
					t.Errorf("epoch %d: Fit %+v, cached %+v", e+1, s, f)
				}
			}
		})
	}
}

func snapshotOn(w *torch.Worker, m *vision.Model) map[string][]float64 {
	var s map[string][]float64
	_ = w.Do(func() error { s = snapshot(m); return nil })
	return s
}

// TestPlanPrefixCache: each reason for training through the frozen
// stages instead, and the cache limit on either side of the activations'
// size (resnet18, stem and layer1 frozen, 32 px: 64×8×8 floats, 16 KiB an
// image).
func TestPlanPrefixCache(t *testing.T) {
	w := torch.NewWorker()
	defer w.Close()
	train, val := randomImages(10, 32, 3), randomImages(6, 32, 4)
	const bytes = 16 * (64 * 8 * 8 * 4) // 16 images
	for _, tt := range []struct {
		name   string
		frozen int
		bnEval bool
		cfg    Trainer
		change func(*vision.Model)
		want   string // reason; "" when used
	}{
		{"default limit", 2, true, Trainer{Train: TrainSpec{}}, nil, ""},
		{"limit just fits", 2, true, Trainer{Train: TrainSpec{CacheLimit: bytes}}, nil, ""},
		{"stops at an opaque module", 2, true, Trainer{Train: TrainSpec{}}, func(m *vision.Model) {
			s := m.Backbone.(vision.Seq)
			s[4] = vision.Func(s[4].Forward) // layer1.1: the prefix ends before it
		}, ""},
		{"limit one byte short", 2, true, Trainer{Train: TrainSpec{CacheLimit: bytes - 1}}, nil, "activations 0.25 MiB over the cache limit 0.25 MiB"},
		{"off", 2, true, Trainer{Train: TrainSpec{CacheLimit: -1}}, nil, "turned off (cache limit 0: GTL_FROZEN_CACHE_MB=0)"},
		{"augmentation", 2, true, Trainer{Train: TrainSpec{}, Augment: Augmentation{Erase: &augment.RandomErasing{P: 0.5}}}, nil, "augmentation varies the images"},
		{"nothing frozen", 0, true, Trainer{Train: TrainSpec{}}, nil, "resnet18 backbone module 0: trainable parameters"},
		{"batch norms follow the data", 2, false, Trainer{Train: TrainSpec{}}, nil, "resnet18 backbone module 0: batch norm bn1 follows the data"},
		{"input transform", 2, true, Trainer{Train: TrainSpec{}}, func(m *vision.Model) { m.TransformInput = true }, "transforms its input"},
		{"backbone not a sequence", 2, true, Trainer{Train: TrainSpec{}}, func(m *vision.Model) { m.Backbone = vision.Func(m.Backbone.Forward) }, "not a sequence"},
		{"opaque module", 2, true, Trainer{Train: TrainSpec{}}, func(m *vision.Model) {
			s := m.Backbone.(vision.Seq)
			s[0] = vision.Func(s[0].Forward)
		}, "resnet18 backbone module 0: a vision.Func, which the walk cannot see into"},
		{"dropout", 2, true, Trainer{Train: TrainSpec{}}, func(m *vision.Model) {
			s := m.Backbone.(vision.Seq)
			s[0] = vision.Seq{s[0], m.Dropout(0.1)}
		}, "resnet18 backbone module 0: dropout"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m := frozenModel(t, w, "resnet18", tt.frozen, tt.bnEval)
			defer w.Do(func() error { m.Close(); return nil })
			if tt.change != nil {
				tt.change(m)
			}
			tr := Trainer{Train: tt.cfg.Train, Seed: tt.cfg.Seed, Normalize: tt.cfg.Normalize, Augment: tt.cfg.Augment, Device: tt.cfg.Device, Worker: w}
			p, err := tr.PlanPrefixCache(m, train, val)
			if err != nil {
				t.Fatal(err)
			}
			if p.Used != (tt.want == "") || !strings.Contains(p.Reason, tt.want) {
				t.Errorf("plan %+v, want reason %q", p, tt.want)
			}
			if modules := map[bool]int{true: 4, false: 5}[tt.name == "stops at an opaque module"]; tt.want == "" && (p.Modules != modules || p.Bytes != bytes) {
				t.Errorf("plan %+v, want %d modules, %d bytes", p, modules, bytes)
			}
			if !p.Used {
				if _, err := tr.fitPrefixCached(m, train, val); err == nil || !strings.Contains(err.Error(), p.Reason) {
					t.Errorf("fitPrefixCached: %v, want the reason %q", err, p.Reason)
				}
			}
		})
	}
}
