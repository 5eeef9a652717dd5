package vision

import (
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/nn"

	"github.com/gtl-dev/gtl/torch"
)

// TestUniformInitSameNumbers: uniformInit draws exactly what gotch's
// nn.NewUniformInit draws from the same seed (it only frees the handle
// gotch leaks).
func TestUniformInitSameNumbers(t *testing.T) {
	for _, b := range []float64{0.5, 1e-3} {
		var got, want []float32
		err := torch.Do(func() error {
			draw := func(init nn.Init) []float32 {
				if err := torch.ManualSeed(7); err != nil {
					t.Fatal(err)
				}
				x := init.InitTensor([]int64{3, 50}, gotch.CPU)
				defer x.MustDrop()
				return x.Vals().([]float32)
			}
			got, want = draw(uniformInit{-b, b}), draw(nn.NewUniformInit(-b, b))
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 150 || len(got) != len(want) {
			t.Fatalf("bound %g: %d and %d values", b, len(got), len(want))
		}
		for i := range got {
			if got[i] != want[i] || got[i] < float32(-b) || got[i] > float32(b) {
				t.Fatalf("bound %g: value %d is %g, gotch's %g", b, i, got[i], want[i])
			}
		}
	}
}
