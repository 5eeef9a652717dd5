package models

import (
	"fmt"
	"math"

	"github.com/gtl-dev/gtl/vision"
	"github.com/sugarme/gotch/nn"
)

// MNASNet (B1), as torchvision.models.mnasnet defines it (version 2, depth
// scaling in the first layers): a 3×3 stride-2 conv, a depthwise-separable
// block, six stacks of inverted residuals (expand 1×1, depthwise k×k, project
// 1×1; residual when shapes allow), a 1×1 conv to 1280 channels, global mean
// pooling, dropout 0.2 and a Linear head. Batch norms use momentum 1-0.9997.

func init() {
	for _, a := range []struct {
		name  string
		alpha float64
	}{{"mnasnet0_5", 0.5}, {"mnasnet0_75", 0.75}, {"mnasnet1_0", 1.0}, {"mnasnet1_3", 1.3}} {
		a := a
		vision.Register(vision.Spec{Name: a.name, Family: "mnasnet", Build: func(m *vision.Model, p *nn.Path) error {
			return buildMNASNet(m, p, a.alpha)
		}})
	}
}

const mnasMomentum = 1 - 0.9997

// roundToMultipleOf is torchvision's _round_to_multiple_of(val, divisor,
// round_up_bias=0.9).
func roundToMultipleOf(val float64, divisor int64) int64 {
	v := max(divisor, int64(val+float64(divisor)/2)/divisor*divisor)
	if float64(v) >= 0.9*val {
		return v
	}
	return v + divisor
}

// mnasConvBN is a bias-free Kaiming-normal (fan-out) convolution and batch
// norm named <conv> and <bn> under p.
func mnasConvBN(p *nn.Path, conv, bn string, in, out, k, stride, groups int64) (vision.Seq, error) {
	c, err := vision.NewConv2d(p.Sub(conv), in, out, []int64{k}, vision.ConvOpts{Stride: []int64{stride}, Padding: []int64{k / 2}, Groups: groups,
		Init: vision.KaimingNormalOut(out, k, k)})
	if err != nil {
		return nil, err
	}
	b, err := vision.NewBatchNorm2d(p.Sub(bn), out, 1e-5, mnasMomentum)
	if err != nil {
		return nil, err
	}
	return vision.Seq{c, b}, nil
}

func buildMNASNet(m *vision.Model, p *nn.Path, alpha float64) error {
	depths := []int64{32, 16, 24, 40, 80, 96, 192, 320}
	for i, d := range depths {
		depths[i] = roundToMultipleOf(float64(d)*alpha, 8)
	}
	lp := p.Sub("layers")
	c0, err := mnasConvBN(lp, "0", "1", 3, depths[0], 3, 2, 1)
	if err != nil {
		return err
	}
	dw, err := mnasConvBN(lp, "3", "4", depths[0], depths[0], 3, 1, depths[0])
	if err != nil {
		return err
	}
	pw, err := mnasConvBN(lp, "6", "7", depths[0], depths[1], 1, 1, 1)
	if err != nil {
		return err
	}
	backbone := vision.Seq{c0, vision.ReLU, dw, vision.ReLU, pw}
	m.Stages = []vision.Stage{{Name: "stem", Prefixes: []string{"layers.0.", "layers.1.", "layers.3.", "layers.4.", "layers.6.", "layers.7."}}}
	// (kernel, stride, expansion, repeats) of the six stacks, layers.8-13.
	stacks := [][4]int64{{3, 2, 3, 3}, {5, 2, 3, 3}, {5, 2, 6, 3}, {3, 1, 6, 2}, {5, 2, 6, 4}, {3, 1, 6, 1}}
	for i, s := range stacks {
		idx := 8 + i
		sp := lp.Sub(fmt.Sprint(idx))
		in, out := depths[i+1], depths[i+2]
		for j := int64(0); j < s[3]; j++ {
			stride := s[1]
			if j > 0 {
				in, stride = out, 1
			}
			b, err := newMNASBlock(sp.Sub(fmt.Sprint(j)), in, out, s[0], stride, s[2])
			if err != nil {
				return err
			}
			backbone = append(backbone, b)
		}
		m.Stages = append(m.Stages, vision.Stage{Name: fmt.Sprintf("layers.%d", idx), Prefixes: []string{fmt.Sprintf("layers.%d.", idx)}})
	}
	last, err := mnasConvBN(lp, "14", "15", depths[7], 1280, 1, 1, 1)
	if err != nil {
		return err
	}
	st := &m.Stages[len(m.Stages)-1]
	st.Name, st.Prefixes = "layers.13-15", append(st.Prefixes, "layers.14.", "layers.15.")
	backbone = append(backbone, last, vision.ReLU, vision.GlobalAvgPool)
	// kaiming_uniform_(mode="fan_out", nonlinearity="sigmoid"): U(±√(3/classes)).
	fc, err := vision.NewLinear(p.Sub("classifier").Sub("1"), 1280, int64(m.NumClasses), true, vision.Uniform(math.Sqrt(3/float64(m.NumClasses))))
	if err != nil {
		return err
	}
	m.Backbone, m.Head, m.FeatureDim = backbone, vision.Seq{m.Dropout(0.2), fc}, 1280
	m.HeadPrefixes = []string{"classifier.1."}
	m.Stages = append(m.Stages, vision.Stage{Name: "head", Prefixes: []string{"classifier."}})
	return nil
}

// newMNASBlock is torchvision's mnasnet._InvertedResidual.
func newMNASBlock(p *nn.Path, in, out, k, stride, expand int64) (vision.Module, error) {
	mid := in * expand
	lp := p.Sub("layers")
	a, err := mnasConvBN(lp, "0", "1", in, mid, 1, 1, 1)
	if err != nil {
		return nil, err
	}
	b, err := mnasConvBN(lp, "3", "4", mid, mid, k, stride, mid)
	if err != nil {
		return nil, err
	}
	c, err := mnasConvBN(lp, "6", "7", mid, out, 1, 1, 1)
	if err != nil {
		return nil, err
	}
	body := vision.Seq{a, vision.ReLU, b, vision.ReLU, c}
	if in == out && stride == 1 {
		return vision.Residual(body), nil
	}
	return body, nil
}
