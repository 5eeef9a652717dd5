package models

import (
	"fmt"

	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"

	"github.com/gtl-dev/gtl/torch"
	"github.com/gtl-dev/gtl/vision"
)

// ResNet family, as torchvision.models.resnet defines it (v1.5: stride on
// the 3×3 convolution of the bottleneck).

func init() {
	for _, r := range []struct {
		name          string
		bottleneck    bool
		layers        [4]int
		groups, width int64
	}{
		{"resnet18", false, [4]int{2, 2, 2, 2}, 1, 64},
		{"resnet34", false, [4]int{3, 4, 6, 3}, 1, 64},
		{"resnet50", true, [4]int{3, 4, 6, 3}, 1, 64},
		{"resnet101", true, [4]int{3, 4, 23, 3}, 1, 64},
		{"resnet152", true, [4]int{3, 8, 36, 3}, 1, 64},
		{"resnext50_32x4d", true, [4]int{3, 4, 6, 3}, 32, 4},
		{"wide_resnet50_2", true, [4]int{3, 4, 6, 3}, 1, 128},
		{"resnext101_32x8d", true, [4]int{3, 4, 23, 3}, 32, 8},
		{"resnext101_64x4d", true, [4]int{3, 4, 23, 3}, 64, 4},
		{"wide_resnet101_2", true, [4]int{3, 4, 23, 3}, 1, 128},
	} {
		r := r
		vision.Register(vision.Spec{Name: r.name, Family: "resnet", Build: func(m *vision.Model, p *nn.Path) error {
			return buildResNet(m, p, r.bottleneck, r.layers, r.groups, r.width)
		}})
	}
}

// convBN is a bias-free convolution followed by batch norm, under the
// given names of p (e.g. "conv1", "bn1").
func convBN(p *nn.Path, convName, bnName string, in, out int64, k []int64, o vision.ConvOpts) (vision.Seq, error) {
	if o.Init == nil {
		o.Init = vision.KaimingNormalOut(out, vision.Pair(k, 1)...)
	}
	c, err := vision.NewConv2d(p.Sub(convName), in, out, k, o)
	if err != nil {
		return nil, err
	}
	bn, err := vision.NewBatchNorm2d(p.Sub(bnName), out, 1e-5, 0.1)
	if err != nil {
		return nil, err
	}
	return vision.Seq{c, bn}, nil
}

func buildResNet(m *vision.Model, p *nn.Path, bottleneck bool, layers [4]int, groups, widthPerGroup int64) error {
	expansion := int64(1)
	if bottleneck {
		expansion = 4
	}
	stem, err := convBN(p, "conv1", "bn1", 3, 64, []int64{7}, vision.ConvOpts{Stride: []int64{2}, Padding: []int64{3}})
	if err != nil {
		return err
	}
	backbone := vision.Seq{stem, vision.ReLU, vision.MaxPool(3, 2, 1, false)}
	inplanes := int64(64)
	for i, n := range layers {
		planes := int64(64) << i
		stride := int64(1)
		if i > 0 {
			stride = 2
		}
		lp := p.Sub(fmt.Sprintf("layer%d", i+1))
		for b := 0; b < n; b++ {
			s := stride
			if b > 0 {
				s = 1
			}
			var block vision.Module
			if bottleneck {
				block, err = newBottleneck(lp.Sub(fmt.Sprint(b)), inplanes, planes, s, groups, widthPerGroup)
			} else {
				block, err = newBasicBlock(lp.Sub(fmt.Sprint(b)), inplanes, planes, s)
			}
			if err != nil {
				return err
			}
			backbone = append(backbone, block)
			inplanes = planes * expansion
		}
	}
	backbone = append(backbone, vision.GlobalAvgPool)
	fc, err := vision.NewLinear(p.Sub("fc"), 512*expansion, int64(m.NumClasses), true, nil)
	if err != nil {
		return err
	}
	m.Backbone, m.Head, m.FeatureDim = backbone, fc, int(512*expansion)
	m.HeadPrefixes = []string{"fc."}
	m.Stages = []vision.Stage{
		{Name: "stem", Prefixes: []string{"conv1.", "bn1."}},
		{Name: "layer1", Prefixes: []string{"layer1."}}, {Name: "layer2", Prefixes: []string{"layer2."}},
		{Name: "layer3", Prefixes: []string{"layer3."}}, {Name: "layer4", Prefixes: []string{"layer4."}},
		{Name: "head", Prefixes: []string{"fc."}},
	}
	return nil
}

// resBlock adds the block's input (through downsample when set) to its
// main path, then applies ReLU.
type resBlock struct {
	main, downsample vision.Module
}

// Children returns the main path and the downsample (nil without one).
func (r *resBlock) Children() []vision.Module { return []vision.Module{r.main, r.downsample} }

func (r *resBlock) Forward(x *ts.Tensor, train bool) (*ts.Tensor, error) {
	y, err := r.main.Forward(x, train)
	if err != nil {
		return nil, err
	}
	var sum *ts.Tensor
	if r.downsample != nil {
		id, err := r.downsample.Forward(x, train)
		if err != nil {
			y.MustDrop()
			return nil, err
		}
		err = torch.AddInPlace(y, id)
		id.MustDrop()
		if err != nil {
			y.MustDrop()
			return nil, err
		}
		sum = y
	} else if err = torch.AddInPlace(y, x); err != nil {
		y.MustDrop()
		return nil, err
	} else {
		sum = y
	}
	// sum is this block's own tensor: relu in place, as torchvision.
	if err := torch.ReLUInPlace(sum); err != nil {
		sum.MustDrop()
		return nil, err
	}
	return sum, nil
}

// Emit writes relu(main(x) + downsample(x)), as Forward.
func (r *resBlock) Emit(g vision.Graph, x string) (string, error) {
	y, err := vision.Emit(g, r.main, x)
	if err != nil {
		return "", err
	}
	id := x
	if r.downsample != nil {
		if id, err = vision.Emit(g, r.downsample, x); err != nil {
			return "", err
		}
	}
	return g.Op("Relu", []string{g.Op("Add", []string{y, id})}), nil
}

func downsample(p *nn.Path, in, out, stride int64) (vision.Module, error) {
	if stride == 1 && in == out {
		return nil, nil
	}
	return convBN(p.Sub("downsample"), "0", "1", in, out, []int64{1}, vision.ConvOpts{Stride: []int64{stride}})
}

func newBasicBlock(p *nn.Path, in, planes, stride int64) (vision.Module, error) {
	a, err := convBN(p, "conv1", "bn1", in, planes, []int64{3}, vision.ConvOpts{Stride: []int64{stride}, Padding: []int64{1}})
	if err != nil {
		return nil, err
	}
	b, err := convBN(p, "conv2", "bn2", planes, planes, []int64{3}, vision.ConvOpts{Padding: []int64{1}})
	if err != nil {
		return nil, err
	}
	ds, err := downsample(p, in, planes, stride)
	if err != nil {
		return nil, err
	}
	return &resBlock{main: vision.Seq{a, vision.ReLU, b}, downsample: ds}, nil
}

func newBottleneck(p *nn.Path, in, planes, stride, groups, widthPerGroup int64) (vision.Module, error) {
	width := planes * widthPerGroup / 64 * groups
	a, err := convBN(p, "conv1", "bn1", in, width, []int64{1}, vision.ConvOpts{})
	if err != nil {
		return nil, err
	}
	b, err := convBN(p, "conv2", "bn2", width, width, []int64{3}, vision.ConvOpts{Stride: []int64{stride}, Padding: []int64{1}, Groups: groups})
	if err != nil {
		return nil, err
	}
	c, err := convBN(p, "conv3", "bn3", width, planes*4, []int64{1}, vision.ConvOpts{})
	if err != nil {
		return nil, err
	}
	ds, err := downsample(p, in, planes*4, stride)
	if err != nil {
		return nil, err
	}
	return &resBlock{main: vision.Seq{a, vision.ReLU, b, vision.ReLU, c}, downsample: ds}, nil
}
