package vision_test

import (
	"strings"
	"testing"

	"github.com/sugarme/gotch"

	"github.com/gtl-dev/gtl/vision"
	"github.com/gtl-dev/gtl/vision/torch"
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
