package models

import (
	"math"
	"strings"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"

	"github.com/gtl-dev/gtl/torch"
)

func TestSmallCNN(t *testing.T) {
	err := torch.Do(func() error {
		if err := torch.ManualSeed(3); err != nil {
			return err
		}
		vs := nn.NewVarStore(gotch.CPU)
		m, err := NewSmallCNN(vs.Root(), 1, 10, 28)
		if err != nil {
			return err
		}
		if n := len(vs.Variables()); n != 8 {
			t.Errorf("%d variables, want 8", n)
		}
		x, err := ts.Randn([]int64{64, 1, 28, 28}, gotch.Float, gotch.CPU)
		if err != nil {
			return err
		}
		defer x.MustDrop()
		out, err := m.Forward(x, false)
		if err != nil {
			return err
		}
		if s := out.MustSize(); s[0] != 64 || s[1] != 10 {
			t.Errorf("logits shape %v", s)
		}
		// Fair scratch init: the initial loss is close to ln(classes).
		y, _ := ts.Zeros([]int64{64}, gotch.Int64, gotch.CPU)
		loss, err := out.CrossEntropyLoss(y, ts.NewTensor(), 1, -100, 0, true)
		if err != nil {
			return err
		}
		if l := loss.Float64Values(true)[0]; math.Abs(l-math.Log(10)) > 0.1*math.Log(10) {
			t.Errorf("initial loss %.3f, want within 10%% of ln 10 = %.3f", l, math.Log(10))
		}
		// Wrong input: an error, not a crash.
		rgb, _ := ts.Randn([]int64{2, 3, 28, 28}, gotch.Float, gotch.CPU)
		defer rgb.MustDrop()
		if _, err := m.Forward(rgb, false); err == nil || !strings.Contains(err.Error(), "conv1 on input [2 3 28 28]") {
			t.Errorf("3-channel input: err = %v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewSmallCNN(nil, 1, 10, 30); err == nil {
		t.Error("size 30 accepted")
	}
}
