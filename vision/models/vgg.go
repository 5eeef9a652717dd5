package models

import (
	"fmt"

	"github.com/gtl-dev/gtl/vision"
	"github.com/sugarme/gotch/nn"
)

// VGG family, as torchvision.models.vgg defines it: configurations A, B, D
// and E (vgg11, vgg13, vgg16, vgg19), with or without batch norm.

// vggCfgs are torchvision's layer configurations: a number is a 3×3
// convolution (padding 1) with that many output channels, 0 a 2×2 max pool.
var vggCfgs = map[string][]int64{
	"A": {64, 0, 128, 0, 256, 256, 0, 512, 512, 0, 512, 512, 0},
	"B": {64, 64, 0, 128, 128, 0, 256, 256, 0, 512, 512, 0, 512, 512, 0},
	"D": {64, 64, 0, 128, 128, 0, 256, 256, 256, 0, 512, 512, 512, 0, 512, 512, 512, 0},
	"E": {64, 64, 0, 128, 128, 0, 256, 256, 256, 256, 0, 512, 512, 512, 512, 0, 512, 512, 512, 512, 0},
}

func init() {
	for _, v := range []struct{ depth, cfg string }{{"11", "A"}, {"13", "B"}, {"16", "D"}, {"19", "E"}} {
		for _, bn := range []bool{false, true} {
			name, cfg, bn := "vgg"+v.depth, v.cfg, bn
			if bn {
				name += "_bn"
			}
			vision.Register(vision.Spec{Name: name, Family: "vgg", Build: func(m *vision.Model, p *nn.Path) error {
				return buildVGG(m, p, vggCfgs[cfg], bn)
			}})
		}
	}
}

// buildVGG builds features (convolutions [+ batch norm] + ReLU, max pools),
// a 7×7 adaptive average pool and the three-layer classifier. The backbone
// ends after classifier.4 (the second 4096-wide ReLU), so its features are
// deterministic; the head is classifier.5 (dropout) and classifier.6.
func buildVGG(m *vision.Model, p *nn.Path, cfg []int64, batchNorm bool) error {
	fp := p.Sub("features")
	var features vision.Seq
	var stages []vision.Stage
	var prefixes []string
	in, idx, first := int64(3), 0, 0
	for _, v := range cfg {
		if v == 0 {
			features = append(features, vision.MaxPool(2, 2, 0, false))
			name := fmt.Sprintf("features.%d-%d", first, idx)
			if len(stages) == 0 {
				name = "stem"
			}
			stages = append(stages, vision.Stage{Name: name, Prefixes: prefixes})
			prefixes = nil
			idx++
			first = idx
			continue
		}
		c, err := vision.NewConv2d(fp.Sub(fmt.Sprint(idx)), in, v, []int64{3},
			vision.ConvOpts{Padding: []int64{1}, Bias: true, Init: vision.KaimingNormalOut(v, 3, 3)})
		if err != nil {
			return err
		}
		features = append(features, c)
		prefixes = append(prefixes, fmt.Sprintf("features.%d.", idx))
		idx++
		if batchNorm {
			bn, err := vision.NewBatchNorm2d(fp.Sub(fmt.Sprint(idx)), v, 1e-5, 0.1)
			if err != nil {
				return err
			}
			features = append(features, bn)
			prefixes = append(prefixes, fmt.Sprintf("features.%d.", idx))
			idx++
		}
		features = append(features, vision.ReLU)
		idx++
		in = v
	}
	cp := p.Sub("classifier")
	fc0, err := vision.NewLinear(cp.Sub("0"), 512*7*7, 4096, true, vision.Normal(0.01))
	if err != nil {
		return err
	}
	fc3, err := vision.NewLinear(cp.Sub("3"), 4096, 4096, true, vision.Normal(0.01))
	if err != nil {
		return err
	}
	fc6, err := vision.NewLinear(cp.Sub("6"), 4096, int64(m.NumClasses), true, vision.Normal(0.01))
	if err != nil {
		return err
	}
	m.Backbone = vision.Seq{features, vision.AdaptiveAvgPool(7, 7), vision.Flatten, fc0, vision.ReLU, m.Dropout(0.5), fc3, vision.ReLU}
	m.Head = vision.Seq{m.Dropout(0.5), fc6}
	m.FeatureDim = 4096
	m.HeadPrefixes = []string{"classifier.6."}
	m.Stages = append(stages, vision.Stage{Name: "head", Prefixes: []string{"classifier."}})
	return nil
}
