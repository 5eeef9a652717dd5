package torch

import (
	"math"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"
)

// TestClipGradNorm: a gradient of norm 100·√4 = 200 is scaled to norm 1,
// so one SGD step of rate 1 moves the weights by exactly that much.
func TestClipGradNorm(t *testing.T) {
	must(t, Do(func() error {
		w, err := ts.Zeros([]int64{4}, gotch.Float, gotch.CPU)
		if err != nil {
			return err
		}
		defer w.MustDrop()
		if err := SetRequiresGrad(w, true); err != nil {
			return err
		}
		opt, err := NewOptimizer(OptimizerOptions{Kind: SGD})
		if err != nil {
			return err
		}
		defer opt.Close()
		if err := opt.Add(0, 1, 0, w); err != nil {
			return err
		}
		scaled, _ := w.MulScalar(ts.FloatScalar(100), false)
		loss, _ := scaled.Sum(gotch.Float, true)
		if err := loss.Backward(); err != nil {
			return err
		}
		loss.MustDrop()
		n, err := opt.ClipGradNorm(1)
		if err != nil {
			return err
		}
		if math.Abs(n-200) > 1e-3 {
			t.Errorf("norm before clipping %v, want 200", n)
		}
		if err := opt.Step(); err != nil {
			return err
		}
		var sq float64
		for _, v := range w.Float64Values() {
			sq += v * v
		}
		if math.Abs(math.Sqrt(sq)-1) > 1e-4 {
			t.Errorf("update norm %v, want 1 (clipped)", math.Sqrt(sq))
		}
		return nil
	}))
}

func TestParseDevice(t *testing.T) {
	cuda := len(CUDADevices()) > 0
	for _, tc := range []struct {
		in   string
		want string
		ok   bool
	}{
		{"cpu", "cpu", true},
		{"auto", map[bool]string{true: "cuda:0", false: "cpu"}[cuda], true},
		{"cuda", "cuda:0", cuda},
		{"cuda:x", "", false},
		{"cuda:-1", "", false},
		{"cuda:99", "", false}, // never a silent fall back to the CPU
		{"gpu", "", false},
	} {
		t.Run(tc.in, func(t *testing.T) {
			d, err := ParseDevice(tc.in)
			if (err == nil) != tc.ok {
				t.Fatalf("ParseDevice(%q): %v", tc.in, err)
			}
			if err == nil && DeviceName(d) != tc.want {
				t.Errorf("ParseDevice(%q) = %s, want %s", tc.in, DeviceName(d), tc.want)
			}
		})
	}
}
