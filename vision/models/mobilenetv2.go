package models

import (
	"fmt"

	"github.com/gtl-dev/gtl/vision"
	"github.com/sugarme/gotch/nn"
)

// MobileNetV2, as torchvision.models.mobilenetv2 defines it (width 1.0).

func init() {
	vision.Register(vision.Spec{Name: "mobilenet_v2", Family: "mobilenet", Build: buildMobileNetV2})
}

// convNormAct is torchvision's Conv2dNormActivation: a bias-free
// convolution with "same" padding, batch norm and an activation, named
// <p>.0 and <p>.1 (the activation has no parameters).
func convNormAct(p *nn.Path, in, out, k, stride, groups int64, act vision.Module) (vision.Seq, error) {
	s, err := convBN(p, "0", "1", in, out, []int64{k}, vision.ConvOpts{Stride: []int64{stride}, Padding: []int64{(k - 1) / 2}, Groups: groups})
	if err != nil {
		return nil, err
	}
	if act != nil {
		s = append(s, act)
	}
	return s, nil
}

// invertedResidual is MobileNetV2's block: expand (1×1), depthwise (3×3),
// project (1×1), with a residual connection when shapes allow.
func invertedResidual(p *nn.Path, in, out, stride, expand int64) (vision.Module, error) {
	hidden := in * expand
	cp := p.Sub("conv")
	var body vision.Seq
	i := 0
	if expand != 1 {
		e, err := convNormAct(cp.Sub("0"), in, hidden, 1, 1, 1, vision.ReLU6)
		if err != nil {
			return nil, err
		}
		body = append(body, e)
		i++
	}
	dw, err := convNormAct(cp.Sub(fmt.Sprint(i)), hidden, hidden, 3, stride, hidden, vision.ReLU6)
	if err != nil {
		return nil, err
	}
	proj, err := convBN(cp, fmt.Sprint(i+1), fmt.Sprint(i+2), hidden, out, []int64{1}, vision.ConvOpts{})
	if err != nil {
		return nil, err
	}
	body = append(body, dw, proj)
	if stride == 1 && in == out {
		return vision.Residual(body), nil
	}
	return body, nil
}

func buildMobileNetV2(m *vision.Model, p *nn.Path) error {
	fp := p.Sub("features")
	stem, err := convNormAct(fp.Sub("0"), 3, 32, 3, 2, 1, vision.ReLU6)
	if err != nil {
		return err
	}
	features := vision.Seq{stem}
	in := int64(32)
	idx := 1
	for _, s := range [][4]int64{{1, 16, 1, 1}, {6, 24, 2, 2}, {6, 32, 3, 2}, {6, 64, 4, 2}, {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1}} {
		t, c, n, stride := s[0], s[1], s[2], s[3]
		for i := int64(0); i < n; i++ {
			st := stride
			if i > 0 {
				st = 1
			}
			b, err := invertedResidual(fp.Sub(fmt.Sprint(idx)), in, c, st, t)
			if err != nil {
				return err
			}
			features = append(features, b)
			in = c
			idx++
		}
	}
	last, err := convNormAct(fp.Sub(fmt.Sprint(idx)), in, 1280, 1, 1, 1, vision.ReLU6)
	if err != nil {
		return err
	}
	features = append(features, last, vision.GlobalAvgPool)
	fc, err := vision.NewLinear(p.Sub("classifier").Sub("1"), 1280, int64(m.NumClasses), true, vision.Normal(0.01))
	if err != nil {
		return err
	}
	m.Backbone, m.Head, m.FeatureDim = features, vision.Seq{m.Dropout(0.2), fc}, 1280
	m.HeadPrefixes = []string{"classifier.1."}
	prefixes := func(from, to int) []string {
		var out []string
		for i := from; i <= to; i++ {
			out = append(out, fmt.Sprintf("features.%d.", i))
		}
		return out
	}
	// Stages by resolution: 112, 56, 28, 14 (with the 96-channel blocks), 7 px at 224 input.
	m.Stages = []vision.Stage{
		{Name: "stem", Prefixes: prefixes(0, 0)},
		{Name: "features.1-3", Prefixes: prefixes(1, 3)},
		{Name: "features.4-6", Prefixes: prefixes(4, 6)},
		{Name: "features.7-13", Prefixes: prefixes(7, 13)},
		{Name: "features.14-18", Prefixes: prefixes(14, 18)},
		{Name: "head", Prefixes: []string{"classifier."}},
	}
	return nil
}
