package finetune

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/sugarme/gotch"

	"github.com/gtl-dev/gtl/torch"
	"github.com/gtl-dev/gtl/vision"
)

func TestStageLRs(t *testing.T) {
	tests := []struct {
		n         int
		lr, decay float64
		want      []float64
	}{
		{3, 0.1, 0.5, []float64{0.025, 0.05, 0.1}},
		{2, 0.01, 0, []float64{0.01, 0.01}},
		{1, 1, 0.1, []float64{1}},
	}
	for _, tt := range tests {
		got := StageLRs(tt.n, tt.lr, tt.decay)
		for i := range got {
			if math.Abs(got[i]-tt.want[i]) > 1e-12 {
				t.Errorf("StageLRs(%d, %g, %g) = %v, want %v", tt.n, tt.lr, tt.decay, got, tt.want)
				break
			}
		}
	}
}

// TestStageOptimizerGroups checks the groups libtorch actually holds: one
// rate per stage as asked (read back from libtorch, not from Go), weight
// decay only on weights, and every parameter in exactly one group.
func TestStageOptimizerGroups(t *testing.T) {
	err := torch.Do(func() error {
		m, err := vision.New("resnet18", 3, gotch.CPU)
		if err != nil {
			return err
		}
		defer m.Close()
		lrs := StageLRs(len(m.Stages), 0.1, 0.5)
		opt, groups, err := NewStageOptimizer(m, torch.OptimizerOptions{Kind: torch.SGD, Momentum: 0.9}, lrs, 1e-4)
		if err != nil {
			return err
		}
		defer opt.Close()
		if opt.Groups() != len(groups) || len(groups) != 2*len(m.Stages) {
			t.Fatalf("%d groups in libtorch, %d described, want %d", opt.Groups(), len(groups), 2*len(m.Stages))
		}
		tensors := 0
		for g, gr := range groups {
			lr, err := opt.LR(g)
			if err != nil {
				return err
			}
			wd, _ := opt.WeightDecay(g)
			wantLR := lrs[g/2]
			wantWD := map[bool]float64{false: 1e-4, true: 0}[gr.NoDecay]
			if lr != wantLR || wd != wantWD || lr != gr.LR || wd != gr.WeightDecay {
				t.Errorf("group %d (%s, no decay %v): lr %g wd %g, want %g %g", g, gr.Stage, gr.NoDecay, lr, wd, wantLR, wantWD)
			}
			tensors += gr.Tensors
		}
		params := 0
		for n := range m.VS.Variables() {
			if !isBuffer(n) {
				params++
			}
		}
		if tensors != params {
			t.Errorf("%d tensors in groups, the model has %d parameters", tensors, params)
		}
		if err := opt.SetLR(3, 0.123); err != nil {
			return err
		}
		if lr, _ := opt.LR(3); lr != 0.123 {
			t.Errorf("SetLR: group 3 has lr %g", lr)
		}
		if _, err := opt.LR(99); err == nil {
			t.Error("LR of a group that does not exist: no error")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestDiscriminativeRates trains with a zero rate below the head: those
// stages' weights stay bit-identical while the head moves.
func TestDiscriminativeRates(t *testing.T) {
	w := torch.NewWorker()
	defer w.Close()
	var m *vision.Model
	var before map[string][]float64
	err := w.Do(func() error {
		var err error
		if m, err = vision.New("resnet18", 3, gotch.CPU); err != nil {
			return err
		}
		before = snapshot(m)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Do(func() error { m.Close(); return nil })
	// LRDecay 0 means "no decay", so use a tiny one: every update below the
	// head (lr·1e-300^k) is too small to change a float32 weight.
	tr := Trainer{Train: TrainSpec{Epochs: 1, Batch: 8, LR: 0.05, LRDecay: 1e-300}, Seed: 1, Worker: w}
	var plan Plan
	tr.Hooks.OnStart = func(p Plan) { plan = p }
	if _, err := tr.Fit(m, m.VS, randomImages(16, 32, 2), nil); err != nil {
		t.Fatal(err)
	}
	if len(plan.Groups) != 12 || plan.Groups[11].LR != 0.05 || plan.Groups[0].LR != 0 {
		t.Fatalf("plan groups %+v", plan.Groups)
	}
	var moved []string
	_ = w.Do(func() error {
		for k, v := range m.VS.Variables() {
			if isBuffer(k) {
				continue
			}
			same := slices.Equal(before[k], v.Float64Values())
			if strings.HasPrefix(k, "fc.") == same {
				moved = append(moved, fmt.Sprintf("%s (unchanged %v)", k, same))
			}
		}
		return nil
	})
	if len(moved) > 0 {
		t.Errorf("wrong tensors moved or stood still: %v", moved[:min(4, len(moved))])
	}
}
