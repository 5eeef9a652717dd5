package torch

import (
	"runtime"
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

// TestOpGoSideCost guards scripts/gotch-overhead.patch: upstream gotch gives
// every tensor a 100 KB Go-side dummy and a unique name in a global map
// under a lock (~50 µs per op). If a gotch update or a failed patch brings
// either back, this fails.
func TestOpGoSideCost(t *testing.T) {
	const n = 500
	var before, after runtime.MemStats
	names := -1
	err := Do(func() error {
		x, err := ts.Ones([]int64{4}, gotch.Float, gotch.CPU)
		if err != nil {
			return err
		}
		defer x.MustDrop()
		one := ts.FloatScalar(1)
		runtime.ReadMemStats(&before)
		for i := 0; i < n; i++ {
			y, err := x.AddScalar(one, false)
			if err != nil {
				return err
			}
			y.MustDrop()
		}
		runtime.ReadMemStats(&after)
		names = len(ts.ExistingTensors)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	perOp := (after.TotalAlloc - before.TotalAlloc) / n
	if perOp > 1024 {
		t.Errorf("one op allocates %d bytes on the Go heap, want ≤ 1024 (upstream gotch: ~106 KB); is scripts/gotch-overhead.patch applied to .build/gotch?", perOp)
	}
	if names != 0 {
		t.Errorf("gotch keeps %d tensor names in ts.ExistingTensors, want 0 (the per-tensor name bookkeeping is back)", names)
	}
}

// Without gotch's global name map, struct copies of a tensor (as
// nn.VarStore.Variables hands out) must still free the C tensor once: the
// patch shares a freed flag between copies.
func TestTensorCopyFreedOnce(t *testing.T) {
	err := Do(func() error {
		x, err := ts.Ones([]int64{3}, gotch.Float, gotch.CPU)
		if err != nil {
			return err
		}
		c := *x
		if err := c.Drop(); err != nil {
			return err
		}
		return x.Drop() // a second AtFree would corrupt the heap
	})
	if err != nil {
		t.Fatal(err)
	}
}
