package finetune

import (
	"math"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"

	"github.com/gtl-dev/gtl/torch"
)

// TestEMAUpdate checks the averaging rule and the warmed-up decay against
// a hand computation, and that swap twice restores both sides.
func TestEMAUpdate(t *testing.T) {
	w := torch.NewWorker()
	defer w.Close()
	err := w.Do(func() error {
		vs := nn.NewVarStore(gotch.CPU)
		p := vs.Root().MustZeros("p", []int64{3})
		e, err := newEMA(vs, 0.99)
		if err != nil {
			return err
		}
		defer e.close()
		want := 0.0
		for step, live := range []float64{1, 2, 4} {
			one, _ := ts.OfSlice([]float32{float32(live), float32(live), float32(live)})
			_ = torch.WithoutGrad(func() error { p.Copy_(one); return nil })
			one.MustDrop()
			if err := e.update(); err != nil {
				return err
			}
			d := math.Min(0.99, float64(2+step)/float64(11+step))
			want += (1 - d) * (live - want)
			got := e.shadow[0].Float64Values()[0]
			if math.Abs(got-want) > 1e-6 {
				t.Errorf("step %d: average %g, want %g", step+1, got, want)
			}
		}
		if err := e.swap(); err != nil {
			return err
		}
		if got := p.Float64Values()[1]; math.Abs(got-want) > 1e-6 {
			t.Errorf("swapped in: %g, want the average %g", got, want)
		}
		if err := e.swap(); err != nil {
			return err
		}
		if got := p.Float64Values()[2]; got != 4 {
			t.Errorf("swapped back: %g, want 4", got)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
