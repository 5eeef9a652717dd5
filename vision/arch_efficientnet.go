package vision

import (
	"fmt"
	"math"

	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"
)

// EfficientNet B0–B7, as torchvision.models.efficientnet defines them.

func init() {
	for i, v := range []struct {
		width, depth, dropout, eps, momentum float64
	}{
		{1.0, 1.0, 0.2, 1e-5, 0.1}, {1.0, 1.1, 0.2, 1e-5, 0.1}, {1.1, 1.2, 0.3, 1e-5, 0.1}, {1.2, 1.4, 0.3, 1e-5, 0.1},
		{1.4, 1.8, 0.4, 1e-5, 0.1}, {1.6, 2.2, 0.4, 1e-3, 0.01}, {1.8, 2.6, 0.5, 1e-3, 0.01}, {2.0, 3.1, 0.5, 1e-3, 0.01},
	} {
		v := v
		register(Spec{Name: fmt.Sprintf("efficientnet_b%d", i), Family: "efficientnet", Build: func(m *Model, p *nn.Path) error {
			return buildEfficientNet(m, p, v.width, v.depth, v.dropout, v.eps, v.momentum)
		}})
	}
}

// mbconv is EfficientNet's block: its layers, and stochastic depth on the
// residual branch when the block has a residual connection.
type mbconv struct {
	body     Seq
	residual bool
	drop     StochasticDepth
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

func buildEfficientNet(m *Model, p *nn.Path, width, depth, dropout, eps, momentum float64) error {
	adjust := func(c int64, mult float64) int64 { return makeDivisible(float64(c)*mult, 8) }
	type stage struct{ expand, k, stride, in, out, n int64 }
	settings := []stage{{1, 3, 1, 32, 16, 1}, {6, 3, 2, 16, 24, 2}, {6, 5, 2, 24, 40, 2}, {6, 3, 2, 40, 80, 3},
		{6, 5, 1, 80, 112, 3}, {6, 5, 2, 112, 192, 4}, {6, 3, 1, 192, 320, 1}}
	var total int64
	for i := range settings {
		s := &settings[i]
		s.in, s.out = adjust(s.in, width), adjust(s.out, width)
		s.n = int64(math.Ceil(float64(s.n) * depth))
		total += s.n
	}
	fp := p.Sub("features")
	stem, err := convNormActBN(fp.Sub("0"), 3, settings[0].in, 3, 2, 1, SiLU, eps, momentum)
	if err != nil {
		return err
	}
	features := Seq{stem}
	var blockID int64
	for si, s := range settings {
		sp := fp.Sub(fmt.Sprint(si + 1))
		var blocks Seq
		for j := int64(0); j < s.n; j++ {
			in, stride := s.in, s.stride
			if j > 0 {
				in, stride = s.out, 1
			}
			bp := sp.Sub(fmt.Sprint(j)).Sub("block")
			expanded := adjust(in, float64(s.expand))
			var body Seq
			k := 0
			if expanded != in {
				e, err := convNormActBN(bp.Sub("0"), in, expanded, 1, 1, 1, SiLU, eps, momentum)
				if err != nil {
					return err
				}
				body = append(body, e)
				k++
			}
			dw, err := convNormActBN(bp.Sub(fmt.Sprint(k)), expanded, expanded, s.k, stride, expanded, SiLU, eps, momentum)
			if err != nil {
				return err
			}
			se, err := newSqueezeExcite(bp.Sub(fmt.Sprint(k+1)), expanded, max(1, in/4), SiLU, Sigmoid,
				func(out, k int64) nn.Init { return kaimingNormalOut(out, k, k) })
			if err != nil {
				return err
			}
			proj, err := convNormActBN(bp.Sub(fmt.Sprint(k+2)), expanded, s.out, 1, 1, 1, nil, eps, momentum)
			if err != nil {
				return err
			}
			body = append(body, dw, se, proj)
			sd := 0.2 * float64(blockID) / float64(total)
			blocks = append(blocks, &mbconv{body: body, residual: stride == 1 && in == s.out, drop: m.stochasticDepth(sd)})
			blockID++
		}
		features = append(features, blocks)
	}
	lastIn := settings[len(settings)-1].out
	last, err := convNormActBN(fp.Sub("8"), lastIn, 4*lastIn, 1, 1, 1, SiLU, eps, momentum)
	if err != nil {
		return err
	}
	features = append(features, last, GlobalAvgPool)
	b := 1 / math.Sqrt(float64(m.NumClasses))
	fc, err := NewLinear(p.Sub("classifier").Sub("1"), 4*lastIn, int64(m.NumClasses), true, uniform(b))
	if err != nil {
		return err
	}
	m.Backbone, m.Head, m.FeatureDim = features, Seq{m.dropout(dropout), fc}, int(4*lastIn)
	m.HeadPrefixes = []string{"classifier.1."}
	m.Stages = []Stage{
		{"stem", []string{"features.0."}},
		{"features.1-2", []string{"features.1.", "features.2."}},
		{"features.3", []string{"features.3."}},
		{"features.4-5", []string{"features.4.", "features.5."}},
		{"features.6-8", []string{"features.6.", "features.7.", "features.8."}},
		{"head", []string{"classifier."}},
	}
	return nil
}
