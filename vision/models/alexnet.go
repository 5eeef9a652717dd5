package vision

import (
	"github.com/sugarme/gotch/nn"
)

// AlexNet, as torchvision.models.alexnet defines it (the "one weird trick"
// variant: 64-192-384-256-256 channels, the second convolution 5×5 with
// padding 2 and stride 1), with PyTorch's default initialisation.

func init() {
	register(Spec{Name: "alexnet", Family: "alexnet", Build: buildAlexNet})
}

// buildAlexNet builds features, a 6×6 adaptive average pool and the
// classifier (dropout, linear, ReLU, dropout, linear, ReLU, linear). The
// backbone ends after classifier.5 (the second 4096-wide ReLU); the head is
// classifier.6 alone, as torchvision has no dropout before it.
func buildAlexNet(m *Model, p *nn.Path) error {
	fp := p.Sub("features")
	type convSpec struct {
		name                    string
		in, out, k, stride, pad int64
	}
	convs := map[string]Module{}
	for _, c := range []convSpec{
		{"0", 3, 64, 11, 4, 2},
		{"3", 64, 192, 5, 1, 2},
		{"6", 192, 384, 3, 1, 1},
		{"8", 384, 256, 3, 1, 1},
		{"10", 256, 256, 3, 1, 1},
	} {
		conv, err := NewConv2d(fp.Sub(c.name), c.in, c.out, []int64{c.k},
			ConvOpts{Stride: []int64{c.stride}, Padding: []int64{c.pad}, Bias: true})
		if err != nil {
			return err
		}
		convs[c.name] = conv
	}
	features := Seq{
		convs["0"], ReLU, MaxPool(3, 2, 0, false),
		convs["3"], ReLU, MaxPool(3, 2, 0, false),
		convs["6"], ReLU, convs["8"], ReLU, convs["10"], ReLU, MaxPool(3, 2, 0, false),
	}
	cp := p.Sub("classifier")
	fc1, err := NewLinear(cp.Sub("1"), 256*6*6, 4096, true, nil)
	if err != nil {
		return err
	}
	fc4, err := NewLinear(cp.Sub("4"), 4096, 4096, true, nil)
	if err != nil {
		return err
	}
	fc6, err := NewLinear(cp.Sub("6"), 4096, int64(m.NumClasses), true, nil)
	if err != nil {
		return err
	}
	m.Backbone = Seq{features, AdaptiveAvgPool(6, 6), Flatten, m.dropout(0.5), fc1, ReLU, m.dropout(0.5), fc4, ReLU}
	m.Head = fc6
	m.FeatureDim = 4096
	m.HeadPrefixes = []string{"classifier.6."}
	m.Stages = []Stage{
		{"stem", []string{"features.0."}},
		{"features.3-5", []string{"features.3."}},
		{"features.6-12", []string{"features.6.", "features.8.", "features.10."}},
		{"head", []string{"classifier."}},
	}
	return nil
}
