package torch

import (
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"
)

// BenchmarkOpOverhead measures the cost of one small libtorch op through
// gotch from the pinned worker (create the result, free it): the per-op
// floor that every layer call pays. Compare with PyTorch's
//
//	python3 -m timeit -s 'import torch; x=torch.ones(4)' 'x.add(1)'
func BenchmarkOpOverhead(b *testing.B) {
	err := Do(func() error {
		x, err := ts.Ones([]int64{4}, gotch.Float, gotch.CPU)
		if err != nil {
			return err
		}
		defer x.MustDrop()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			y, err := x.AddScalar(ts.FloatScalar(1), false)
			if err != nil {
				return err
			}
			y.MustDrop()
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
}
