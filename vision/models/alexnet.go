package models

import (
	"github.com/gtl-dev/gtl/vision"
	"github.com/sugarme/gotch/nn"
)

// AlexNet, as torchvision.models.alexnet defines it (the "one weird trick"
// variant: 64-192-384-256-256 channels, the second convolution 5×5 with
// padding 2 and stride 1), with PyTorch's default initialisation.

func init() {
	vision.Register(vision.Spec{Name: "alexnet", Family: "alexnet", Build: buildAlexNet})
}

// buildAlexNet builds features, a 6×6 adaptive average pool and the
// classifier (dropout, linear, ReLU, dropout, linear, ReLU, linear). The
// backbone ends after classifier.5 (the second 4096-wide ReLU); the head is
// classifier.6 alone, as torchvision has no dropout before it.
func buildAlexNet(m *vision.Model, p *nn.Path) error {
	fp := p.Sub("features")
	type convSpec struct {
		name                    string
		in, out, k, stride, pad int64
	}
	convs := map[string]vision.Module{}
	for _, c := range []convSpec{
		{"0", 3, 64, 11, 4, 2},
		{"3", 64, 192, 5, 1, 2},
		{"6", 192, 384, 3, 1, 1},
		{"8", 384, 256, 3, 1, 1},
		{"10", 256, 256, 3, 1, 1},
	} {
		conv, err := vision.NewConv2d(fp.Sub(c.name), c.in, c.out, []int64{c.k},
			vision.ConvOpts{Stride: []int64{c.stride}, Padding: []int64{c.pad}, Bias: true})
		if err != nil {
			return err
		}
		convs[c.name] = conv
	}
	features := vision.Seq{
		convs["0"], vision.ReLU, vision.MaxPool(3, 2, 0, false),
		convs["3"], vision.ReLU, vision.MaxPool(3, 2, 0, false),
		convs["6"], vision.ReLU, convs["8"], vision.ReLU, convs["10"], vision.ReLU, vision.MaxPool(3, 2, 0, false),
	}
	cp := p.Sub("classifier")
	fc1, err := vision.NewLinear(cp.Sub("1"), 256*6*6, 4096, true, nil)
	if err != nil {
		return err
	}
	fc4, err := vision.NewLinear(cp.Sub("4"), 4096, 4096, true, nil)
	if err != nil {
		return err
	}
	fc6, err := vision.NewLinear(cp.Sub("6"), 4096, int64(m.NumClasses), true, nil)
	if err != nil {
		return err
	}
	m.Backbone = vision.Seq{features, vision.AdaptiveAvgPool(6, 6), vision.Flatten, m.Dropout(0.5), fc1, vision.ReLU, m.Dropout(0.5), fc4, vision.ReLU}
	m.Head = fc6
	m.FeatureDim = 4096
	m.HeadPrefixes = []string{"classifier.6."}
	m.Stages = []vision.Stage{
		{Name: "stem", Prefixes: []string{"features.0."}},
		{Name: "features.3-5", Prefixes: []string{"features.3."}},
		{Name: "features.6-12", Prefixes: []string{"features.6.", "features.8.", "features.10."}},
		{Name: "head", Prefixes: []string{"classifier."}},
	}
	return nil
}
