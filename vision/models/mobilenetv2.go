package vision

import (
	"fmt"

	"github.com/sugarme/gotch/nn"
)

// MobileNetV2, as torchvision.models.mobilenetv2 defines it (width 1.0).

func init() {
	register(Spec{Name: "mobilenet_v2", Family: "mobilenet", Build: buildMobileNetV2})
}

// convNormAct is torchvision's Conv2dNormActivation: a bias-free
// convolution with "same" padding, batch norm and an activation, named
// <p>.0 and <p>.1 (the activation has no parameters).
func convNormAct(p *nn.Path, in, out, k, stride, groups int64, act Module) (Seq, error) {
	s, err := convBN(p, "0", "1", in, out, []int64{k}, ConvOpts{Stride: []int64{stride}, Padding: []int64{(k - 1) / 2}, Groups: groups})
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
func invertedResidual(p *nn.Path, in, out, stride, expand int64) (Module, error) {
	hidden := in * expand
	cp := p.Sub("conv")
	var body Seq
	i := 0
	if expand != 1 {
		e, err := convNormAct(cp.Sub("0"), in, hidden, 1, 1, 1, ReLU6)
		if err != nil {
			return nil, err
		}
		body = append(body, e)
		i++
	}
	dw, err := convNormAct(cp.Sub(fmt.Sprint(i)), hidden, hidden, 3, stride, hidden, ReLU6)
	if err != nil {
		return nil, err
	}
	proj, err := convBN(cp, fmt.Sprint(i+1), fmt.Sprint(i+2), hidden, out, []int64{1}, ConvOpts{})
	if err != nil {
		return nil, err
	}
	body = append(body, dw, proj)
	if stride == 1 && in == out {
		return Residual(body), nil
	}
	return body, nil
}

func buildMobileNetV2(m *Model, p *nn.Path) error {
	fp := p.Sub("features")
	stem, err := convNormAct(fp.Sub("0"), 3, 32, 3, 2, 1, ReLU6)
	if err != nil {
		return err
	}
	features := Seq{stem}
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
	last, err := convNormAct(fp.Sub(fmt.Sprint(idx)), in, 1280, 1, 1, 1, ReLU6)
	if err != nil {
		return err
	}
	features = append(features, last, GlobalAvgPool)
	fc, err := NewLinear(p.Sub("classifier").Sub("1"), 1280, int64(m.NumClasses), true, normal(0.01))
	if err != nil {
		return err
	}
	m.Backbone, m.Head, m.FeatureDim = features, Seq{m.dropout(0.2), fc}, 1280
	m.HeadPrefixes = []string{"classifier.1."}
	prefixes := func(from, to int) []string {
		var out []string
		for i := from; i <= to; i++ {
			out = append(out, fmt.Sprintf("features.%d.", i))
		}
		return out
	}
	// Stages by resolution: 112, 56, 28, 14 (with the 96-channel blocks), 7 px at 224 input.
	m.Stages = []Stage{
		{"stem", prefixes(0, 0)},
		{"features.1-3", prefixes(1, 3)},
		{"features.4-6", prefixes(4, 6)},
		{"features.7-13", prefixes(7, 13)},
		{"features.14-18", prefixes(14, 18)},
		{"head", []string{"classifier."}},
	}
	return nil
}
