package finetune

import (
	"math"
	"reflect"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"

	"github.com/gtl-dev/gtl/torch"
	"github.com/gtl-dev/gtl/vision/datasets"
)

// TestSamplerReachesTheLoop: with Sampler balanced the loop trains on the
// images BalancedOrder draws for the seed and each epoch, in that order
// (cut to whole batches); without it, on a permutation of the images.
func TestSamplerReachesTheLoop(t *testing.T) {
	const n = 42 // 40 of class 0, 2 of class 1
	im := &datasets.Images{Height: 1, Width: 1, Channels: 1, Pix: make([]uint8, n), Labels: make([]int, n), Classes: []string{"many", "few"}}
	for i := range im.Pix {
		im.Pix[i] = uint8(i) // each image's one pixel is its index
		if i >= 40 {
			im.Labels[i] = 1
		}
	}
	for _, sampler := range []string{"random", "balanced"} {
		t.Run(sampler, func(t *testing.T) {
			var seen []int
			vs := nn.NewVarStore(gotch.CPU)
			var lin *nn.Linear
			if err := torch.Do(func() error { lin = nn.NewLinear(vs.Root(), 1, 2, nn.DefaultLinearConfig()); return nil }); err != nil {
				t.Fatal(err)
			}
			m := Func(func(x *ts.Tensor, train bool) (*ts.Tensor, error) {
				flat, err := x.Flatten(1, -1, false)
				if err != nil {
					return nil, err
				}
				if train {
					for _, v := range flat.Float64Values() {
						seen = append(seen, int(math.Round(v*255)))
					}
				}
				out := lin.Forward(flat)
				flat.MustDrop()
				return out, nil
			})
			tr := &Trainer{Train: TrainSpec{Epochs: 2, Batch: 8, Sampler: sampler, ClassWeights: "auto", Schedule: "constant"}, Seed: 11}
			if _, err := tr.Fit(m, vs, im, nil); err != nil {
				t.Fatal(err)
			}
			if len(seen) != 2*40 { // 5 whole batches of 8 per epoch
				t.Fatalf("%d images trained on, want 80", len(seen))
			}
			few := 0
			for _, i := range seen {
				few += im.Labels[i]
			}
			if sampler == "random" {
				if few > 4 {
					t.Errorf("random: %d minority images in 2 epochs, want at most 4", few)
				}
				return
			}
			var want []int
			for e := 1; e <= 2; e++ {
				o, err := BalancedOrder(im.Labels, 11, e)
				if err != nil {
					t.Fatal(err)
				}
				want = append(want, o[:40]...)
			}
			if !reflect.DeepEqual(seen, want) {
				t.Errorf("trained on %v\nwant BalancedOrder's %v", seen, want)
			}
			if few < 25 { // about 40 of 80 expected
				t.Errorf("balanced: %d minority images in 80 draws", few)
			}
		})
	}
}
