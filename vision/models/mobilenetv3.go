package models

import (
	"fmt"

	"github.com/gtl-dev/gtl/vision"
	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"
)

// MobileNetV3 (small and large), as torchvision.models.mobilenetv3 defines
// them (width 1.0, no reduced tail, no dilation).

func init() {
	vision.Register(vision.Spec{Name: "mobilenet_v3_small", Family: "mobilenet", Build: func(m *vision.Model, p *nn.Path) error {
		return buildMobileNetV3(m, p, mobileNetV3Small, 1024, [][2]int{{1, 1}, {2, 3}, {4, 8}, {9, 12}})
	}})
	vision.Register(vision.Spec{Name: "mobilenet_v3_large", Family: "mobilenet", Build: func(m *vision.Model, p *nn.Path) error {
		return buildMobileNetV3(m, p, mobileNetV3Large, 1280, [][2]int{{1, 3}, {4, 6}, {7, 12}, {13, 16}})
	}})
}

// bneck is one inverted-residual block: input, kernel, expanded and output
// channels, squeeze-excitation, hard-swish (else ReLU), stride.
type bneck struct {
	in, k, exp, out int64
	se, hs          bool
	stride          int64
}

var mobileNetV3Large = []bneck{
	{16, 3, 16, 16, false, false, 1}, {16, 3, 64, 24, false, false, 2}, {24, 3, 72, 24, false, false, 1},
	{24, 5, 72, 40, true, false, 2}, {40, 5, 120, 40, true, false, 1}, {40, 5, 120, 40, true, false, 1},
	{40, 3, 240, 80, false, true, 2}, {80, 3, 200, 80, false, true, 1}, {80, 3, 184, 80, false, true, 1},
	{80, 3, 184, 80, false, true, 1}, {80, 3, 480, 112, true, true, 1}, {112, 3, 672, 112, true, true, 1},
	{112, 5, 672, 160, true, true, 2}, {160, 5, 960, 160, true, true, 1}, {160, 5, 960, 160, true, true, 1},
}

var mobileNetV3Small = []bneck{
	{16, 3, 16, 16, true, false, 2}, {16, 3, 72, 24, false, false, 2}, {24, 3, 88, 24, false, false, 1},
	{24, 5, 96, 40, true, true, 2}, {40, 5, 240, 40, true, true, 1}, {40, 5, 240, 40, true, true, 1},
	{40, 5, 120, 48, true, true, 1}, {48, 5, 144, 48, true, true, 1}, {48, 5, 288, 96, true, true, 2},
	{96, 5, 576, 96, true, true, 1}, {96, 5, 576, 96, true, true, 1},
}

// makeDivisible is torchvision's _make_divisible(v, 8).
func makeDivisible(v float64, divisor int64) int64 {
	n := max(divisor, int64(v+float64(divisor)/2)/divisor*divisor)
	if float64(n) < 0.9*v {
		n += divisor
	}
	return n
}

// convNormActEps is Conv2dNormActivation with MobileNetV3's batch norm
// (eps 0.001, momentum 0.01).
func convNormActEps(p *nn.Path, in, out, k, stride, groups int64, act vision.Module) (vision.Seq, error) {
	return convNormActBN(p, in, out, k, stride, groups, act, 0.001, 0.01)
}

// convNormActBN is Conv2dNormActivation (Kaiming-normal fan-out conv, "same"
// padding, no bias) with the given batch-norm eps and momentum.
func convNormActBN(p *nn.Path, in, out, k, stride, groups int64, act vision.Module, eps, momentum float64) (vision.Seq, error) {
	c, err := vision.NewConv2d(p.Sub("0"), in, out, []int64{k}, vision.ConvOpts{Stride: []int64{stride}, Padding: []int64{(k - 1) / 2}, Groups: groups, Init: vision.KaimingNormalOut(out, k, k)})
	if err != nil {
		return nil, err
	}
	bn, err := vision.NewBatchNorm2d(p.Sub("1"), out, eps, momentum)
	if err != nil {
		return nil, err
	}
	s := vision.Seq{c, bn}
	if act != nil {
		s = append(s, act)
	}
	return s, nil
}

// squeezeExcite is torchvision's SqueezeExcitation: x · σ(fc2(δ(fc1(avgpool(x))))).
type squeezeExcite struct {
	fc1, fc2   *vision.Conv2d
	act, scale vision.Module
}

func newSqueezeExcite(p *nn.Path, in, squeeze int64, act, scale vision.Module, init func(out, k int64) nn.Init) (*squeezeExcite, error) {
	o1, o2 := vision.ConvOpts{Bias: true}, vision.ConvOpts{Bias: true}
	if init != nil {
		o1.Init, o2.Init = init(squeeze, 1), init(in, 1)
	}
	fc1, err := vision.NewConv2d(p.Sub("fc1"), in, squeeze, []int64{1}, o1)
	if err != nil {
		return nil, err
	}
	fc2, err := vision.NewConv2d(p.Sub("fc2"), squeeze, in, []int64{1}, o2)
	if err != nil {
		return nil, err
	}
	return &squeezeExcite{fc1: fc1, fc2: fc2, act: act, scale: scale}, nil
}

func (s *squeezeExcite) Forward(x *ts.Tensor, train bool) (*ts.Tensor, error) {
	w, err := vision.Seq{vision.AdaptiveAvgPool(1, 1), s.fc1, s.act, s.fc2, s.scale}.Forward(x, train)
	if err != nil {
		return nil, err
	}
	return x.Mul(w, true)
}

// Emit writes x · scale(fc2(act(fc1(avgpool(x))))), as Forward.
func (s *squeezeExcite) Emit(g vision.Graph, x string) (string, error) {
	w, err := vision.Seq{vision.AdaptiveAvgPool(1, 1), s.fc1, s.act, s.fc2, s.scale}.Emit(g, x)
	if err != nil {
		return "", err
	}
	return g.Op("Mul", []string{x, w}), nil
}

func buildMobileNetV3(m *vision.Model, p *nn.Path, blocks []bneck, lastChannel int64, stages [][2]int) error {
	fp := p.Sub("features")
	stem, err := convNormActEps(fp.Sub("0"), 3, blocks[0].in, 3, 2, 1, vision.Hardswish)
	if err != nil {
		return err
	}
	features := vision.Seq{stem}
	for i, b := range blocks {
		bp := fp.Sub(fmt.Sprint(i + 1)).Sub("block")
		var act vision.Module = vision.ReLU
		if b.hs {
			act = vision.Hardswish
		}
		var body vision.Seq
		j := 0
		if b.exp != b.in {
			e, err := convNormActEps(bp.Sub("0"), b.in, b.exp, 1, 1, 1, act)
			if err != nil {
				return err
			}
			body = append(body, e)
			j++
		}
		dw, err := convNormActEps(bp.Sub(fmt.Sprint(j)), b.exp, b.exp, b.k, b.stride, b.exp, act)
		if err != nil {
			return err
		}
		body = append(body, dw)
		j++
		if b.se {
			se, err := newSqueezeExcite(bp.Sub(fmt.Sprint(j)), b.exp, makeDivisible(float64(b.exp/4), 8), vision.ReLU, vision.Hardsig,
				func(out, k int64) nn.Init { return vision.KaimingNormalOut(out, k, k) })
			if err != nil {
				return err
			}
			body = append(body, se)
			j++
		}
		proj, err := convNormActEps(bp.Sub(fmt.Sprint(j)), b.exp, b.out, 1, 1, 1, nil)
		if err != nil {
			return err
		}
		body = append(body, proj)
		if b.stride == 1 && b.in == b.out {
			features = append(features, vision.Residual(body))
		} else {
			features = append(features, body)
		}
	}
	lastIn := blocks[len(blocks)-1].out
	last, err := convNormActEps(fp.Sub(fmt.Sprint(len(blocks)+1)), lastIn, 6*lastIn, 1, 1, 1, vision.Hardswish)
	if err != nil {
		return err
	}
	cp := p.Sub("classifier")
	fc0, err := vision.NewLinear(cp.Sub("0"), 6*lastIn, lastChannel, true, vision.Normal(0.01))
	if err != nil {
		return err
	}
	fc3, err := vision.NewLinear(cp.Sub("3"), lastChannel, int64(m.NumClasses), true, vision.Normal(0.01))
	if err != nil {
		return err
	}
	m.Backbone = append(features, last, vision.GlobalAvgPool, fc0, vision.Hardswish)
	m.Head, m.FeatureDim = vision.Seq{m.Dropout(0.2), fc3}, int(lastChannel)
	m.HeadPrefixes = []string{"classifier.3."}
	m.Stages = []vision.Stage{{Name: "stem", Prefixes: []string{"features.0."}}}
	for _, r := range stages {
		var pre []string
		for i := r[0]; i <= r[1]; i++ {
			pre = append(pre, fmt.Sprintf("features.%d.", i))
		}
		m.Stages = append(m.Stages, vision.Stage{Name: fmt.Sprintf("features.%d-%d", r[0], r[1]), Prefixes: pre})
	}
	m.Stages = append(m.Stages, vision.Stage{Name: "head", Prefixes: []string{"classifier."}})
	return nil
}
