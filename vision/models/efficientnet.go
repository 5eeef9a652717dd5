package models

import (
	"fmt"
	"math"

	"github.com/gtl-dev/gtl/vision"
	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"
)

// EfficientNet B0–B7 and V2 (S, M, L), as torchvision.models.efficientnet
// defines them. V2's first stages use FusedMBConv blocks (one k×k
// convolution in place of expand + depthwise, no squeeze-excitation), its
// batch norms eps 1e-3, and its last convolution has 1280 channels.

func init() {
	for i, v := range []struct {
		width, depth, dropout, eps, momentum float64
	}{
		{1.0, 1.0, 0.2, 1e-5, 0.1}, {1.0, 1.1, 0.2, 1e-5, 0.1}, {1.1, 1.2, 0.3, 1e-5, 0.1}, {1.2, 1.4, 0.3, 1e-5, 0.1},
		{1.4, 1.8, 0.4, 1e-5, 0.1}, {1.6, 2.2, 0.4, 1e-3, 0.01}, {1.8, 2.6, 0.5, 1e-3, 0.01}, {2.0, 3.1, 0.5, 1e-3, 0.01},
	} {
		v := v
		vision.Register(vision.Spec{Name: fmt.Sprintf("efficientnet_b%d", i), Family: "efficientnet", Build: func(m *vision.Model, p *nn.Path) error {
			return buildEfficientNet(m, p, v.width, v.depth, v.dropout, v.eps, v.momentum)
		}})
	}
	stages := func(groups ...[]int) []vision.Stage {
		st := []vision.Stage{{Name: "stem", Prefixes: []string{"features.0."}}}
		for _, g := range groups {
			s := vision.Stage{Name: fmt.Sprintf("features.%d-%d", g[0], g[len(g)-1])}
			if len(g) == 1 {
				s.Name = fmt.Sprintf("features.%d", g[0])
			}
			for _, i := range g {
				s.Prefixes = append(s.Prefixes, fmt.Sprintf("features.%d.", i))
			}
			st = append(st, s)
		}
		return append(st, vision.Stage{Name: "head", Prefixes: []string{"classifier."}})
	}
	for _, v := range []struct {
		name     string
		settings []effStage
		dropout  float64
		stages   []vision.Stage
	}{
		{"efficientnet_v2_s", []effStage{{true, 1, 3, 1, 24, 24, 2}, {true, 4, 3, 2, 24, 48, 4}, {true, 4, 3, 2, 48, 64, 4},
			{false, 4, 3, 2, 64, 128, 6}, {false, 6, 3, 1, 128, 160, 9}, {false, 6, 3, 2, 160, 256, 15}}, 0.2,
			stages([]int{1, 2}, []int{3}, []int{4, 5}, []int{6, 7})},
		{"efficientnet_v2_m", []effStage{{true, 1, 3, 1, 24, 24, 3}, {true, 4, 3, 2, 24, 48, 5}, {true, 4, 3, 2, 48, 80, 5},
			{false, 4, 3, 2, 80, 160, 7}, {false, 6, 3, 1, 160, 176, 14}, {false, 6, 3, 2, 176, 304, 18}, {false, 6, 3, 1, 304, 512, 5}}, 0.3,
			stages([]int{1, 2}, []int{3}, []int{4, 5}, []int{6, 7, 8})},
		{"efficientnet_v2_l", []effStage{{true, 1, 3, 1, 32, 32, 4}, {true, 4, 3, 2, 32, 64, 7}, {true, 4, 3, 2, 64, 96, 7},
			{false, 4, 3, 2, 96, 192, 10}, {false, 6, 3, 1, 192, 224, 19}, {false, 6, 3, 2, 224, 384, 25}, {false, 6, 3, 1, 384, 640, 7}}, 0.4,
			stages([]int{1, 2}, []int{3}, []int{4, 5}, []int{6, 7, 8})},
	} {
		v := v
		vision.Register(vision.Spec{Name: v.name, Family: "efficientnet", Build: func(m *vision.Model, p *nn.Path) error {
			return buildEfficientNetFrom(m, p, v.settings, 1280, v.dropout, 1e-3, 0.1, v.stages)
		}})
	}
}

// effStage is one row of torchvision's MBConvConfig / FusedMBConvConfig:
// expansion, kernel, stride, input and output channels, blocks.
type effStage struct {
	fused                         bool
	expand, k, stride, in, out, n int64
}

// mbconv is EfficientNet's block: its layers, and stochastic depth on the
// residual branch when the block has a residual connection.
type mbconv struct {
	body     vision.Seq
	residual bool
	drop     vision.StochasticDepth
}

func (b *mbconv) Forward(x *ts.Tensor, train bool) (*ts.Tensor, error) {
	y, err := b.body.Forward(x, train)
	if err != nil || !b.residual {
		return y, err
	}
	d, err := b.drop.Forward(y, train)
	y.MustDrop()
	if err != nil {
		return nil, err
	}
	return d.Add(x, true)
}

// Emit writes body(x) (+ x with a residual connection; stochastic depth is
// the identity in inference), as Forward.
func (b *mbconv) Emit(g vision.Graph, x string) (string, error) {
	y, err := b.body.Emit(g, x)
	if err != nil || !b.residual {
		return y, err
	}
	return g.Op("Add", []string{y, x}), nil
}

func buildEfficientNet(m *vision.Model, p *nn.Path, width, depth, dropout, eps, momentum float64) error {
	adjust := func(c int64, mult float64) int64 { return makeDivisible(float64(c)*mult, 8) }
	settings := []effStage{{false, 1, 3, 1, 32, 16, 1}, {false, 6, 3, 2, 16, 24, 2}, {false, 6, 5, 2, 24, 40, 2}, {false, 6, 3, 2, 40, 80, 3},
		{false, 6, 5, 1, 80, 112, 3}, {false, 6, 5, 2, 112, 192, 4}, {false, 6, 3, 1, 192, 320, 1}}
	for i := range settings {
		s := &settings[i]
		s.in, s.out = adjust(s.in, width), adjust(s.out, width)
		s.n = int64(math.Ceil(float64(s.n) * depth))
	}
	return buildEfficientNetFrom(m, p, settings, 4*settings[len(settings)-1].out, dropout, eps, momentum, []vision.Stage{
		{Name: "stem", Prefixes: []string{"features.0."}},
		{Name: "features.1-2", Prefixes: []string{"features.1.", "features.2."}},
		{Name: "features.3", Prefixes: []string{"features.3."}},
		{Name: "features.4-5", Prefixes: []string{"features.4.", "features.5."}},
		{Name: "features.6-8", Prefixes: []string{"features.6.", "features.7.", "features.8."}},
		{Name: "head", Prefixes: []string{"classifier."}},
	})
}

// buildEfficientNetFrom builds torchvision's EfficientNet from its block
// settings (channels and depths already scaled) and last-conv width.
func buildEfficientNetFrom(m *vision.Model, p *nn.Path, settings []effStage, lastChannel int64, dropout, eps, momentum float64, stages []vision.Stage) error {
	adjust := func(c int64, mult float64) int64 { return makeDivisible(float64(c)*mult, 8) }
	var total int64
	for _, s := range settings {
		total += s.n
	}
	fp := p.Sub("features")
	stem, err := convNormActBN(fp.Sub("0"), 3, settings[0].in, 3, 2, 1, vision.SiLU, eps, momentum)
	if err != nil {
		return err
	}
	features := vision.Seq{stem}
	var blockID int64
	for si, s := range settings {
		sp := fp.Sub(fmt.Sprint(si + 1))
		var blocks vision.Seq
		for j := int64(0); j < s.n; j++ {
			in, stride := s.in, s.stride
			if j > 0 {
				in, stride = s.out, 1
			}
			bp := sp.Sub(fmt.Sprint(j)).Sub("block")
			expanded := adjust(in, float64(s.expand))
			var body vision.Seq
			switch {
			case s.fused && expanded != in:
				e, err := convNormActBN(bp.Sub("0"), in, expanded, s.k, stride, 1, vision.SiLU, eps, momentum)
				if err != nil {
					return err
				}
				proj, err := convNormActBN(bp.Sub("1"), expanded, s.out, 1, 1, 1, nil, eps, momentum)
				if err != nil {
					return err
				}
				body = vision.Seq{e, proj}
			case s.fused:
				c, err := convNormActBN(bp.Sub("0"), in, s.out, s.k, stride, 1, vision.SiLU, eps, momentum)
				if err != nil {
					return err
				}
				body = vision.Seq{c}
			default:
				k := 0
				if expanded != in {
					e, err := convNormActBN(bp.Sub("0"), in, expanded, 1, 1, 1, vision.SiLU, eps, momentum)
					if err != nil {
						return err
					}
					body = append(body, e)
					k++
				}
				dw, err := convNormActBN(bp.Sub(fmt.Sprint(k)), expanded, expanded, s.k, stride, expanded, vision.SiLU, eps, momentum)
				if err != nil {
					return err
				}
				se, err := newSqueezeExcite(bp.Sub(fmt.Sprint(k+1)), expanded, max(1, in/4), vision.SiLU, vision.Sigmoid,
					func(out, k int64) nn.Init { return vision.KaimingNormalOut(out, k, k) })
				if err != nil {
					return err
				}
				proj, err := convNormActBN(bp.Sub(fmt.Sprint(k+2)), expanded, s.out, 1, 1, 1, nil, eps, momentum)
				if err != nil {
					return err
				}
				body = append(body, dw, se, proj)
			}
			sd := 0.2 * float64(blockID) / float64(total)
			blocks = append(blocks, &mbconv{body: body, residual: stride == 1 && in == s.out, drop: m.StochasticDepth(sd)})
			blockID++
		}
		features = append(features, blocks)
	}
	lastIn := settings[len(settings)-1].out
	last, err := convNormActBN(fp.Sub(fmt.Sprint(len(settings)+1)), lastIn, lastChannel, 1, 1, 1, vision.SiLU, eps, momentum)
	if err != nil {
		return err
	}
	features = append(features, last, vision.GlobalAvgPool)
	b := 1 / math.Sqrt(float64(m.NumClasses))
	fc, err := vision.NewLinear(p.Sub("classifier").Sub("1"), lastChannel, int64(m.NumClasses), true, vision.Uniform(b))
	if err != nil {
		return err
	}
	m.Backbone, m.Head, m.FeatureDim = features, vision.Seq{m.Dropout(dropout), fc}, int(lastChannel)
	m.HeadPrefixes = []string{"classifier.1."}
	m.Stages = stages
	return nil
}
