package vision

import (
	"reflect"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/gtl-dev/gtl/torch"
)

// The in-place activations must overwrite only Seq's own intermediates,
// never the tensor the caller passed in, and give the out-of-place result.
func TestSeqInPlaceActivation(t *testing.T) {
	vals := []float32{-7, -1, 0, 0.5, 3, 6, 9, -0.25}
	neg := Func(func(x *ts.Tensor, _ bool) (*ts.Tensor, error) { return x.Neg(false) })
	tests := []struct {
		name string
		seq  Seq
		want []float64
	}{
		{"relu first (caller's tensor)", Seq{ReLU}, []float64{0, 0, 0, 0.5, 3, 6, 9, 0}},
		{"relu6 first", Seq{ReLU6}, []float64{0, 0, 0, 0.5, 3, 6, 6, 0}},
		{"relu on an intermediate", Seq{neg, ReLU}, []float64{7, 1, 0, 0, 0, 0, 0, 0.25}},
		{"relu6 on an intermediate", Seq{neg, ReLU6}, []float64{6, 1, 0, 0, 0, 0, 0, 0.25}},
		{"twice", Seq{neg, ReLU, neg, ReLU}, []float64{0, 0, 0, 0, 0, 0, 0, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := torch.Do(func() error {
				x, err := ts.NewTensorFromData(vals, []int64{2, 4})
				if err != nil {
					return err
				}
				defer x.MustDrop()
				y, err := tt.seq.Forward(x, true)
				if err != nil {
					return err
				}
				defer y.MustDrop()
				if got := y.Float64Values(); !reflect.DeepEqual(got, tt.want) {
					t.Errorf("Forward = %v, want %v", got, tt.want)
				}
				in := make([]float64, len(vals))
				for i, v := range vals {
					in[i] = float64(v)
				}
				if got := x.Float64Values(); !reflect.DeepEqual(got, in) {
					t.Errorf("input changed to %v", got)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

// Backward through an in-place relu gives the gradient of the out-of-place one.
func TestInPlaceReLUBackward(t *testing.T) {
	err := torch.Do(func() error {
		w, err := ts.NewTensorFromData([]float32{-2, -0.5, 1, 3}, []int64{4})
		if err != nil {
			return err
		}
		defer w.MustDrop()
		if err := torch.SetRequiresGrad(w, true); err != nil {
			return err
		}
		double := Func(func(x *ts.Tensor, _ bool) (*ts.Tensor, error) { return x.MulScalar(ts.FloatScalar(2), false) })
		y, err := Seq{double, ReLU}.Forward(w, true)
		if err != nil {
			return err
		}
		defer y.MustDrop()
		s, err := y.Sum(gotch.Float, false)
		if err != nil {
			return err
		}
		defer s.MustDrop()
		if err := s.Backward(); err != nil {
			return err
		}
		g, err := w.Grad(false)
		if err != nil {
			return err
		}
		defer g.MustDrop()
		if got, want := g.Float64Values(), []float64{0, 0, 2, 2}; !reflect.DeepEqual(got, want) {
			t.Errorf("grad = %v, want %v", got, want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
