package vision

import (
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"

	"github.com/gtl-dev/gtl/internal/torchtest"
	"github.com/gtl-dev/gtl/torch"
)

// TestNormalInitSameNumbers: normalInit draws exactly what gotch's
// nn.NewRandnInit draws from the same seed, by InitTensor and by Set, so
// seeded models keep their weights.
func TestNormalInitSameNumbers(t *testing.T) {
	for _, tt := range []struct{ mean, std float64 }{{0, 0.5}, {0, 1e-3}, {0.25, 2}} {
		err := torch.Do(func() error {
			draw := func(init nn.Init, set bool) []float32 {
				if err := torch.ManualSeed(7); err != nil {
					t.Fatal(err)
				}
				if !set {
					x := init.InitTensor([]int64{3, 50}, gotch.CPU)
					defer x.MustDrop()
					return x.Vals().([]float32)
				}
				x := ts.MustZeros([]int64{3, 50}, gotch.Float, gotch.CPU)
				defer x.MustDrop()
				init.Set(x)
				return x.Vals().([]float32)
			}
			for _, set := range []bool{false, true} {
				got, want := draw(normalInit{tt.mean, tt.std}, set), draw(nn.NewRandnInit(tt.mean, tt.std), set)
				if len(got) != 150 || len(want) != 150 {
					t.Fatalf("N(%g, %g²) set=%v: %d and %d values", tt.mean, tt.std, set, len(got), len(want))
				}
				for i := range got {
					if got[i] != want[i] {
						t.Fatalf("N(%g, %g²) set=%v: value %d is %g, gotch's %g", tt.mean, tt.std, set, i, got[i], want[i])
					}
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestNormalInitLeavesNothing: drawing a 4 MiB tensor and dropping it
// leaves no C memory behind for Go's garbage collector to free later
// (gotch's nn.NewRandnInit left its discarded 4 MiB draw per call).
func TestNormalInitLeavesNothing(t *testing.T) {
	const calls = 10
	torchtest.Do(t, func() error {
		draw := func() {
			x := Normal(0.1).InitTensor([]int64{1 << 20}, gotch.CPU)
			x.MustDrop()
		}
		draw()
		before := torchtest.MallocInUse()
		for i := 0; i < calls; i++ {
			draw()
		}
		// No runtime.GC here: what is kept is what the GC would have had to free.
		kept := torchtest.MallocInUse() - before
		t.Logf("C heap kept after %d draws of 4 MiB: %d bytes", calls, kept)
		if kept > 1<<20 {
			t.Errorf("%d draws of a dropped 4 MiB tensor kept %d bytes of C heap", calls, kept)
		}
		return nil
	})
}
