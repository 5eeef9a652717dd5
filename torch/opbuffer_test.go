package torch_test

import (
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/gtl-dev/gtl/internal/torchtest"
)

// TestOpOutputBuffersFreed: a gotch generated op keeps no C memory once its
// results are dropped. Upstream each call leaves the C.malloc(0) buffer its
// results' handles were written to (32 bytes of glibc heap per call: ~0.8
// MiB per gtl compare run); scripts/setup.sh makes the generated code free
// it. Single-result (Relu) and several-result (MaxDim: values, indices) ops.
func TestOpOutputBuffersFreed(t *testing.T) {
	const calls = 20000
	tests := []struct {
		name string
		op   func(x *ts.Tensor) error
	}{
		{"one result", func(x *ts.Tensor) error {
			y, err := x.Relu(false)
			if err == nil {
				y.MustDrop()
			}
			return err
		}},
		{"two results", func(x *ts.Tensor) error {
			v, i, err := x.MaxDim(0, false, false)
			if err == nil {
				v.MustDrop()
				i.MustDrop()
			}
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			torchtest.Do(t, func() error {
				x, err := ts.Ones([]int64{4}, gotch.Float, gotch.CPU)
				if err != nil {
					return err
				}
				defer x.MustDrop()
				for i := 0; i < 100; i++ { // first-call allocations (dispatcher, caches)
					if err := tt.op(x); err != nil {
						return err
					}
				}
				before := torchtest.MallocInUse()
				for i := 0; i < calls; i++ {
					if err := tt.op(x); err != nil {
						return err
					}
				}
				kept := torchtest.MallocInUse() - before
				t.Logf("C heap kept after %d calls: %d bytes (%.2f per call)", calls, kept, float64(kept)/calls)
				// Leaking: 32 bytes per call, 640000 in all.
				if kept > calls {
					t.Errorf("%d calls kept %d bytes of C heap (%.1f per call): the op's output buffer is not freed", calls, kept, float64(kept)/calls)
				}
				return nil
			})
		})
	}
}
