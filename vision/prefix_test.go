package vision_test

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/gtl-dev/gtl/torch"
	"github.com/gtl-dev/gtl/vision"
)

// TestFrozenPrefix: how many leading backbone modules of real
// architectures count as fixed with their first stages frozen, and why
// none do otherwise.
func TestFrozenPrefix(t *testing.T) {
	for _, tt := range []struct {
		arch   string
		frozen int
		bnEval bool
		want   int
		why    string
	}{
		{"resnet18", 2, true, 5, ""},  // stem (conv1+bn1), relu, maxpool, layer1.0, layer1.1
		{"resnet18", 1, true, 3, ""},  // stem, relu, maxpool
		{"resnet18", 5, true, 12, ""}, // the whole backbone, global pooling included
		{"resnet18", 0, true, 0, "resnet18 backbone module 0: trainable parameters"},
		{"resnet18", 2, false, 0, "batch norm bn1 follows the data in training"},
		{"mobilenet_v2", 2, true, 4, ""}, // features.0-3, residual blocks included
		// EfficientNet's blocks are its own type, which the walk does not
		// enter: only the stem counts.
		{"efficientnet_b0", 2, true, 1, ""},
	} {
		t.Run(tt.arch, func(t *testing.T) {
			err := torch.Do(func() error {
				m, err := vision.New(tt.arch, 3, gotch.CPU)
				if err != nil {
					return err
				}
				defer m.Close()
				for i := 0; i < tt.frozen; i++ {
					if err := m.SetStageFrozen(i, true, tt.bnEval); err != nil {
						return err
					}
				}
				n, why := m.FrozenPrefix()
				if n != tt.want || !strings.Contains(why, tt.why) || (n > 0) != (why == "") {
					t.Errorf("%d frozen stages: FrozenPrefix %d %q, want %d %q", tt.frozen, n, why, tt.want, tt.why)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestForwardAfter: the logits from the activations of the backbone's
// first n modules equal Forward's, for n inside the backbone and for the
// whole backbone (resnet18 --freeze 5: nothing left but the head); n past
// the backbone is an error.
func TestForwardAfter(t *testing.T) {
	err := torch.Do(func() error {
		if err := torch.ManualSeed(3); err != nil {
			return err
		}
		m, err := vision.New("resnet18", 3, gotch.CPU)
		if err != nil {
			return err
		}
		defer m.Close()
		seq := m.Backbone.(vision.Seq)
		x, err := ts.Randn([]int64{2, 3, 32, 32}, gotch.Float, gotch.CPU)
		if err != nil {
			return err
		}
		defer x.MustDrop()
		want, err := m.Forward(x, false)
		if err != nil {
			return err
		}
		defer want.MustDrop()
		for _, n := range []int{0, 5, len(seq)} {
			a, err := seq[:n].Forward(x, false)
			if err != nil {
				return err
			}
			got, err := m.ForwardAfter(n, a, false)
			a.MustDrop()
			if err != nil {
				return fmt.Errorf("ForwardAfter(%d): %w", n, err)
			}
			g, w := got.Float64Values(), want.Float64Values()
			got.MustDrop()
			dmax := 0.0
			for i := range w {
				dmax = math.Max(dmax, math.Abs(g[i]-w[i]))
			}
			if len(g) != len(w) || dmax > 1e-5 {
				t.Errorf("ForwardAfter(%d): max |Δlogits| %g against Forward, want ≤ 1e-5", n, dmax)
			}
		}
		if _, err := m.ForwardAfter(len(seq)+1, x, false); err == nil {
			t.Errorf("ForwardAfter(%d) of a %d-module backbone: no error", len(seq)+1, len(seq))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
