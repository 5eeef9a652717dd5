package torch_test

import (
	"math/rand/v2"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/gtl-dev/gtl/internal/torchtest"
	"github.com/gtl-dev/gtl/torch"
)

// TestAddInPlace: t += other gives the sum, keeps t's autograd history
// (d(2w + x)/dw = 2), and frees the handle gotch's Add_ replaces: a loop
// adding into a fresh 4 MB tensor per iteration and dropping it must not
// keep the tensors (gotch's Add_ alone kept every one: +4 MB per iteration,
// with or without autograd).
func TestAddInPlace(t *testing.T) {
	const n = 1 << 20 // float32 elements: 4 MiB per tensor
	const iters = 40
	r := rand.New(rand.NewPCG(3, 4))
	wv := make([]float32, n)
	xv := make([]float32, n)
	for i := range wv {
		wv[i], xv[i] = float32(r.NormFloat64()), float32(r.NormFloat64())
	}
	for _, grad := range []bool{true, false} {
		name := map[bool]string{true: "autograd", false: "no grad"}[grad]
		t.Run(name, func(t *testing.T) {
			torchtest.Do(t, func() error {
				w, err := torch.FromSlice(wv, []int64{n})
				if err != nil {
					return err
				}
				defer w.MustDrop()
				x, err := torch.FromSlice(xv, []int64{n})
				if err != nil {
					return err
				}
				defer x.MustDrop()
				if err := torch.SetRequiresGrad(w, grad); err != nil {
					return err
				}
				var before int
				for i := 0; i < iters; i++ {
					if i == 2 { // after the allocator's first rounds
						before = torchtest.RSSKiB(t)
					}
					y, err := w.MulScalar(ts.FloatScalar(2), false)
					if err != nil {
						return err
					}
					if err := torch.AddInPlace(y, x); err != nil {
						y.MustDrop()
						return err
					}
					if i == 0 {
						checkSumAndGrad(t, w, y, wv, xv, grad)
					}
					y.MustDrop()
				}
				growth := torchtest.RSSKiB(t) - before
				t.Logf("RSS growth over %d iterations: %d KiB", iters-2, growth)
				// Leaking: (iters-2) × 4 MiB = 152 MiB.
				if growth > 32<<10 {
					t.Errorf("RSS grew %d KiB over %d in-place adds of a dropped 4 MiB tensor: the replaced handles keep them", growth, iters-2)
				}
				return nil
			})
		})
	}
}

func checkSumAndGrad(t *testing.T, w, y *ts.Tensor, wv, xv []float32, grad bool) {
	t.Helper()
	got := y.Float64Values()
	for _, i := range []int{0, 1, len(wv) / 2, len(wv) - 1} {
		if want := float64(2*wv[i] + xv[i]); got[i] != want {
			t.Errorf("y[%d] = %v, want 2·%v + %v = %v", i, got[i], wv[i], xv[i], want)
		}
	}
	if !grad {
		return
	}
	s, err := y.Sum(gotch.Float, false)
	if err != nil {
		t.Fatal(err)
	}
	defer s.MustDrop()
	if err := s.Backward(); err != nil {
		t.Fatal(err)
	}
	g, err := w.Grad(false)
	if err != nil {
		t.Fatal(err)
	}
	defer g.MustDrop()
	gv := g.Float64Values()
	for _, i := range []int{0, len(gv) - 1} {
		if gv[i] != 2 {
			t.Errorf("grad[%d] = %v, want 2", i, gv[i])
		}
	}
}
