package models

import (
	"fmt"
	"math"

	"github.com/gtl-dev/gtl/vision"
	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"
)

// DenseNet family (DenseNet-BC), as torchvision.models.densenet defines it:
// bn_size 4, drop_rate 0, memory_efficient=False, transitions halving the
// channels with a 1×1 convolution and AvgPool2d(2, 2), and a final
// norm5 → ReLU → adaptive average pool before the classifier.

func init() {
	for _, d := range []struct {
		name        string
		growth      int64
		blocks      [4]int
		initFeature int64
	}{
		{"densenet121", 32, [4]int{6, 12, 24, 16}, 64},
		{"densenet161", 48, [4]int{6, 12, 36, 24}, 96},
		{"densenet169", 32, [4]int{6, 12, 32, 32}, 64},
		{"densenet201", 32, [4]int{6, 12, 48, 32}, 64},
	} {
		d := d
		vision.Register(vision.Spec{Name: d.name, Family: "densenet", Build: func(m *vision.Model, p *nn.Path) error {
			return buildDenseNet(m, p, d.growth, d.blocks, d.initFeature)
		}})
	}
}

// kaimingNormalIn is torch.nn.init.kaiming_normal_ with its defaults
// (mode="fan_in", nonlinearity="leaky_relu" with slope 0, i.e. gain √2).
func kaimingNormalIn(in int64, k ...int64) nn.Init {
	fan := float64(in)
	for _, v := range k {
		fan *= float64(v)
	}
	return vision.Normal(math.Sqrt(2 / fan))
}

// denseBNReLUConv is DenseNet's pre-activation unit: batch norm (named
// normName) over in channels, ReLU, then a bias-free k×k convolution
// (convName) to out channels, Kaiming-normal (fan-in) initialised.
func denseBNReLUConv(p *nn.Path, normName, convName string, in, out, k, pad int64) (vision.Seq, error) {
	bn, err := vision.NewBatchNorm2d(p.Sub(normName), in, 1e-5, 0.1)
	if err != nil {
		return nil, err
	}
	c, err := vision.NewConv2d(p.Sub(convName), in, out, []int64{k}, vision.ConvOpts{Padding: []int64{pad}, Init: kaimingNormalIn(in, k, k)})
	if err != nil {
		return nil, err
	}
	return vision.Seq{bn, vision.ReLU, c}, nil
}

func buildDenseNet(m *vision.Model, p *nn.Path, growth int64, blocks [4]int, initFeatures int64) error {
	const bnSize = 4
	f := p.Sub("features")
	c0, err := vision.NewConv2d(f.Sub("conv0"), 3, initFeatures, []int64{7}, vision.ConvOpts{
		Stride: []int64{2}, Padding: []int64{3}, Init: kaimingNormalIn(3, 7, 7)})
	if err != nil {
		return err
	}
	n0, err := vision.NewBatchNorm2d(f.Sub("norm0"), initFeatures, 1e-5, 0.1)
	if err != nil {
		return err
	}
	backbone := vision.Seq{c0, n0, vision.ReLU, vision.MaxPool(3, 2, 1, false)}
	stages := []vision.Stage{{Name: "stem", Prefixes: []string{"features.conv0.", "features.norm0."}}}
	nf := initFeatures
	for i, nl := range blocks {
		name := fmt.Sprintf("denseblock%d", i+1)
		bp := f.Sub(name)
		block := &denseBlock{}
		for j := 0; j < nl; j++ {
			lp := bp.Sub(fmt.Sprintf("denselayer%d", j+1))
			in := nf + int64(j)*growth
			a, err := denseBNReLUConv(lp, "norm1", "conv1", in, bnSize*growth, 1, 0)
			if err != nil {
				return err
			}
			b, err := denseBNReLUConv(lp, "norm2", "conv2", bnSize*growth, growth, 3, 1)
			if err != nil {
				return err
			}
			block.layers = append(block.layers, append(a, b...))
		}
		backbone = append(backbone, block)
		nf += int64(nl) * growth
		stage := vision.Stage{Name: name, Prefixes: []string{"features." + name + "."}}
		if i != len(blocks)-1 {
			tname := fmt.Sprintf("transition%d", i+1)
			t, err := denseBNReLUConv(f.Sub(tname), "norm", "conv", nf, nf/2, 1, 0)
			if err != nil {
				return err
			}
			backbone = append(backbone, append(t, vision.AvgPool(2, 2, 0, false)))
			nf /= 2
			stage.Prefixes = append(stage.Prefixes, "features."+tname+".")
		} else {
			n5, err := vision.NewBatchNorm2d(f.Sub("norm5"), nf, 1e-5, 0.1)
			if err != nil {
				return err
			}
			backbone = append(backbone, n5, vision.ReLU, vision.AdaptiveAvgPool(1, 1), vision.Flatten)
			stage.Prefixes = append(stage.Prefixes, "features.norm5.")
		}
		stages = append(stages, stage)
	}
	// torchvision: default (uniform ±1/√in) weight, zero bias.
	fc, err := vision.NewLinear(p.Sub("classifier"), nf, int64(m.NumClasses), true, vision.Uniform(1/math.Sqrt(float64(nf))))
	if err != nil {
		return err
	}
	m.Backbone, m.Head, m.FeatureDim = backbone, fc, int(nf)
	m.HeadPrefixes = []string{"classifier."}
	m.Stages = append(stages, vision.Stage{Name: "head", Prefixes: []string{"classifier."}})
	return nil
}

// denseBlock is torchvision's _DenseBlock: each layer sees the concatenation
// of the block input and every earlier layer's output; the block returns the
// concatenation of all of them.
type denseBlock struct {
	layers []vision.Module
}

func (d *denseBlock) Forward(x *ts.Tensor, train bool) (*ts.Tensor, error) {
	feats := []*ts.Tensor{x}
	defer func() {
		for _, t := range feats[1:] {
			t.MustDrop()
		}
	}()
	for i, l := range d.layers {
		in, err := ts.Cat(feats, 1)
		if err != nil {
			return nil, fmt.Errorf("denselayer%d: %w", i+1, err)
		}
		out, err := l.Forward(in, train)
		in.MustDrop()
		if err != nil {
			return nil, fmt.Errorf("denselayer%d: %w", i+1, err)
		}
		feats = append(feats, out)
	}
	return ts.Cat(feats, 1)
}

// Emit writes each layer on the concatenation so far, and the block's
// concatenation, as Forward.
func (d *denseBlock) Emit(g vision.Graph, x string) (string, error) {
	feats := []string{x}
	for i, l := range d.layers {
		out, err := vision.Emit(g, l, g.Op("Concat", feats, vision.A("axis", int64(1))))
		if err != nil {
			return "", fmt.Errorf("denselayer%d: %w", i+1, err)
		}
		feats = append(feats, out)
	}
	return g.Op("Concat", feats, vision.A("axis", int64(1))), nil
}
