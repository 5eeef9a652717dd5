package finetune

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/sugarme/gotch"

	"github.com/gtl-dev/gtl/torch"
	"github.com/gtl-dev/gtl/vision"
	"github.com/gtl-dev/gtl/vision/datasets"
)

// randomImages makes n labelled RGB images of size s×s, seeded.
func randomImages(n, s int, seed uint64) *datasets.Images {
	r := rand.New(rand.NewPCG(seed, 2))
	im := &datasets.Images{Height: s, Width: s, Channels: 3, Classes: []string{"a", "b", "c"}}
	im.Pix = make([]uint8, n*s*s*3)
	for i := range im.Pix {
		im.Pix[i] = uint8(r.IntN(256))
	}
	for i := 0; i < n; i++ {
		im.Labels = append(im.Labels, i%3)
	}
	return im
}

// newModel builds arch with 3 classes from libtorch's generator seeded
// with seed, on w's thread; the caller closes it there.
func newModel(t testing.TB, w *torch.Worker, arch string, seed int64) *vision.Model {
	t.Helper()
	var m *vision.Model
	if err := w.Do(func() error {
		if err := torch.ManualSeed(seed); err != nil {
			return err
		}
		var err error
		m, err = vision.New(arch, 3, gotch.CPU)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return m
}

// snapshot copies every tensor of m; it must run on m's worker thread.
func snapshot(m *vision.Model) map[string][]float64 {
	out := map[string][]float64{}
	for k, v := range m.VS.Variables() {
		out[k] = v.Float64Values()
	}
	return out
}

// TestFrozenStagesDoNotMove trains resnet18 with its first two stages
// (stem, layer1) frozen: their weights must come out bit-identical, and
// their batch-norm running statistics too unless the batch-norm policy is
// "train"; the unfrozen stages must move.
func TestFrozenStagesDoNotMove(t *testing.T) {
	for _, bnEval := range []bool{true, false} {
		name := map[bool]string{true: "bn eval", false: "bn train"}[bnEval]
		t.Run(name, func(t *testing.T) {
			w := torch.NewWorker()
			defer w.Close()
			var m *vision.Model
			var before map[string][]float64
			err := w.Do(func() error {
				if err := torch.ManualSeed(3); err != nil {
					return err
				}
				var err error
				if m, err = vision.New("resnet18", 3, gotch.CPU); err != nil {
					return err
				}
				for i := 0; i < 2; i++ {
					if err := m.SetStageFrozen(i, true, bnEval); err != nil {
						return err
					}
				}
				before = snapshot(m)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			defer w.Do(func() error { m.Close(); return nil })
			if !m.StageFrozen(0) || !m.StageFrozen(1) || m.StageFrozen(2) {
				t.Fatal("StageFrozen does not report the frozen stages")
			}
			tr := Trainer{Train: TrainSpec{Epochs: 2, Batch: 8, LR: 0.05}, Seed: 1, Worker: w}
			if _, err := tr.Fit(m, m.VS, randomImages(32, 32, 1), nil); err != nil {
				t.Fatal(err)
			}
			frozen := func(k string) bool { return m.Stages[0].Covers(k) || m.Stages[1].Covers(k) }
			var movedFrozen, stillUnfrozen []string
			err = w.Do(func() error {
				for k, v := range m.VS.Variables() {
					same := slices.Equal(before[k], v.Float64Values())
					stat := strings.HasSuffix(k, "running_mean") || strings.HasSuffix(k, "running_var") || strings.HasSuffix(k, "num_batches_tracked")
					switch {
					case frozen(k) && stat && !bnEval:
						if same {
							stillUnfrozen = append(stillUnfrozen, k) // batch statistics should follow the data
						}
					case frozen(k):
						if !same {
							movedFrozen = append(movedFrozen, k)
						}
					case strings.HasPrefix(k, "layer4.") || strings.HasPrefix(k, "fc."):
						if same {
							stillUnfrozen = append(stillUnfrozen, k)
						}
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(movedFrozen) > 0 {
				t.Errorf("%d frozen tensors changed, e.g. %v", len(movedFrozen), movedFrozen[:min(3, len(movedFrozen))])
			}
			if len(stillUnfrozen) > 0 {
				t.Errorf("%d tensors that should train did not change, e.g. %v", len(stillUnfrozen), stillUnfrozen[:min(3, len(stillUnfrozen))])
			}
		})
	}
}

func TestSetStageFrozenBadStage(t *testing.T) {
	err := torch.Do(func() error {
		m, err := vision.New("resnet18", 3, gotch.CPU)
		if err != nil {
			return err
		}
		defer m.Close()
		return m.SetStageFrozen(6, true, true)
	})
	if err == nil || !strings.Contains(err.Error(), "resnet18 has 6 stages, no stage 7") {
		t.Fatalf("err = %v", err)
	}
}

// TestUnfreezeTrainsAgain: a stage frozen and then unfrozen (gradual
// unfreezing) trains, batch norm included.
func TestUnfreezeTrainsAgain(t *testing.T) {
	w := torch.NewWorker()
	defer w.Close()
	var m *vision.Model
	var before map[string][]float64
	err := w.Do(func() error {
		var err error
		if m, err = vision.New("resnet18", 3, gotch.CPU); err != nil {
			return err
		}
		if err := m.SetStageFrozen(1, true, true); err != nil {
			return err
		}
		if err := m.SetStageFrozen(1, false, false); err != nil {
			return err
		}
		before = snapshot(m)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Do(func() error { m.Close(); return nil })
	if m.StageFrozen(1) {
		t.Fatal("stage still frozen")
	}
	tr := Trainer{Train: TrainSpec{Epochs: 1, Batch: 8, LR: 0.05}, Seed: 1, Worker: w}
	if _, err := tr.Fit(m, m.VS, randomImages(16, 32, 1), nil); err != nil {
		t.Fatal(err)
	}
	_ = w.Do(func() error {
		vars := m.VS.Variables()
		for _, k := range []string{"layer1.0.conv1.weight", "layer1.0.bn1.running_mean"} {
			v := vars[k]
			if slices.Equal(before[k], v.Float64Values()) {
				t.Errorf("%s did not change after unfreezing", k)
			}
		}
		return nil
	})
}
