package vision_test

import (
	"fmt"
	"math"
	"math/rand"
	"testing"

	"github.com/gtl-dev/gtl/torch"
	"github.com/gtl-dev/gtl/vision"
)

// In inference mode the oneDNN path (MKLDNN activations, prepacked folded
// weights) gives the unfolded eager network's logits to the fold
// tolerance, follows weight changes, and where the backbone has an op
// without a oneDNN kernel the model falls back to the ordinary path with
// the same logits.
func TestMkldnnInference(t *testing.T) {
	tests := []struct {
		arch       string
		size       int64
		wantMkldnn bool // false: must fall back
	}{
		{"resnet18", 64, true},
		{"resnet50", 64, true},
		{"mobilenet_v2", 64, true}, // ReLU6 through prim::MKLDNNHardTanh_
		{"efficientnet_b0", 64, false},
		{"densenet121", 64, false},
		{"vgg11_bn", 32, false}, // 1×1 map to 7×7: oneDNN's adaptive pooling needs divisible sizes
		{"inception_v3", 80, false},
		{"mnasnet0_5", 64, true},
		{"regnet_x_400mf", 64, true},
		{"regnet_y_400mf", 64, false},     // squeeze-excitation: broadcast multiply
		{"googlenet", 64, false},          // concatenation
		{"shufflenet_v2_x0_5", 64, false}, // concatenation
	}
	for i, tt := range tests {
		t.Run(tt.arch, func(t *testing.T) {
			if testing.Short() && tt.arch != "resnet18" && tt.arch != "mobilenet_v2" {
				t.Skip("large model: not in -short")
			}
			rng := rand.New(rand.NewSource(int64(i + 11)))
			err := torch.Do(func() error {
				m, x, err := randomModel(tt.arch, int64(i+11), rng, tt.size)
				if err != nil {
					return err
				}
				defer m.Close()
				defer x.MustDrop()
				// Reference: the unfolded network in eager mode.
				plain := func() ([]float64, error) {
					old := vision.SetFoldBN(false)
					defer vision.SetFoldBN(old)
					var out []float64
					err := torch.WithoutGrad(func() error {
						y, err := m.Forward(x, false)
						if err != nil {
							return err
						}
						out = y.Float64Values()
						y.MustDrop()
						return nil
					})
					return out, err
				}
				infer := func() ([]float64, error) {
					var out []float64
					err := torch.Inference(func() error {
						y, err := m.Forward(x, false)
						if err != nil {
							return err
						}
						if torch.IsMkldnn(y) {
							y.MustDrop()
							return fmt.Errorf("logits are an MKLDNN tensor")
						}
						out = y.Float64Values()
						y.MustDrop()
						return nil
					})
					return out, err
				}
				check := func(what string) error {
					want, err := plain()
					if err != nil {
						return err
					}
					got, err := infer()
					if err != nil {
						return fmt.Errorf("%s: %w", what, err)
					}
					if len(got) != len(want) {
						return fmt.Errorf("%s: %d logits, want %d", what, len(got), len(want))
					}
					if d := maxRelDiff(got, want); d > 2e-4 || math.IsNaN(d) {
						t.Errorf("%s: inference and unfolded eager logits differ by %.3g (relative), want ≤ 2e-4", what, d)
					}
					return nil
				}
				if err := check("first inference"); err != nil {
					return err
				}
				state := map[int32]string{vision.MkldnnUntried: "untried", vision.MkldnnWorks: "works", vision.MkldnnUnsupported: "unsupported"}
				want := vision.MkldnnUnsupported
				if tt.wantMkldnn {
					want = vision.MkldnnWorks
				}
				if got, gotErr := vision.MkldnnState(m); got != want {
					t.Errorf("oneDNN path %s (error: %v), want %s", state[got], gotErr, state[want])
				}
				if tt.wantMkldnn {
					n := 0
					for _, bn := range vision.BatchNorms(m) {
						if bn.FoldedMkldnn() {
							n++
						}
					}
					if n != len(vision.BatchNorms(m)) {
						t.Errorf("%d of %d batch norms folded into prepacked oneDNN weights, want all", n, len(vision.BatchNorms(m)))
					}
				}
				// Weights changed in place (an optimiser step, loaded
				// weights): the prepacked copy must follow.
				if err := randomiseBN(m, rng); err != nil {
					return err
				}
				if err := torch.WithoutGrad(func() error {
					w := m.VS.Variables()
					for _, name := range []string{"conv1.weight", "features.0.0.weight", "features.0.weight", "features.conv0.weight", "Conv2d_1a_3x3.conv.weight",
						"layers.0.weight", "stem.0.weight", "conv1.conv.weight", "conv1.0.weight"} {
						if v, ok := w[name]; ok {
							return fillUniform(&v, rng, -0.1, 0.2)
						}
					}
					return fmt.Errorf("no stem convolution weight found")
				}); err != nil {
					return err
				}
				if err := check("after new weights"); err != nil {
					return err
				}
				// With the path switched off, the same logits.
				vision.SetMkldnnInfer("off")
				got, err := infer()
				vision.SetMkldnnInfer("on")
				if err != nil {
					return err
				}
				want2, err := infer()
				if err != nil {
					return err
				}
				if d := maxRelDiff(got, want2); d > 2e-4 {
					t.Errorf("oneDNN path on and off differ by %.3g (relative)", d)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}
