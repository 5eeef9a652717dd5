package models

import (
	"fmt"

	"github.com/gtl-dev/gtl/vision"
	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"
)

// ShuffleNetV2, as torchvision.models.shufflenetv2 defines it: a 3×3
// stride-2 stem and max pool, three stages of inverted-residual units that
// split the channels in two (stride 1: one half passes, the other goes
// through 1×1 → depthwise 3×3 → 1×1; stride 2: both branches see the whole
// input), concatenate and shuffle the channels between the two groups, a
// 1×1 conv5, global mean pooling and a Linear head. PyTorch's default
// initialisation throughout.

func init() {
	for _, s := range []struct {
		name     string
		channels [5]int64
	}{
		{"shufflenet_v2_x0_5", [5]int64{24, 48, 96, 192, 1024}},
		{"shufflenet_v2_x1_0", [5]int64{24, 116, 232, 464, 1024}},
		{"shufflenet_v2_x1_5", [5]int64{24, 176, 352, 704, 1024}},
		{"shufflenet_v2_x2_0", [5]int64{24, 244, 488, 976, 2048}},
	} {
		s := s
		vision.Register(vision.Spec{Name: s.name, Family: "shufflenet", Build: func(m *vision.Model, p *nn.Path) error {
			return buildShuffleNetV2(m, p, [3]int{4, 8, 4}, s.channels)
		}})
	}
}

// plainConvBN is a bias-free convolution with PyTorch's default init and
// batch norm, named <conv> and <bn> under p.
func plainConvBN(p *nn.Path, conv, bn string, in, out, k, stride, groups int64) (vision.Seq, error) {
	c, err := vision.NewConv2d(p.Sub(conv), in, out, []int64{k}, vision.ConvOpts{Stride: []int64{stride}, Padding: []int64{(k - 1) / 2}, Groups: groups})
	if err != nil {
		return nil, err
	}
	b, err := vision.NewBatchNorm2d(p.Sub(bn), out, 1e-5, 0.1)
	if err != nil {
		return nil, err
	}
	return vision.Seq{c, b}, nil
}

func buildShuffleNetV2(m *vision.Model, p *nn.Path, repeats [3]int, channels [5]int64) error {
	stem, err := plainConvBN(p.Sub("conv1"), "0", "1", 3, channels[0], 3, 2, 1)
	if err != nil {
		return err
	}
	backbone := vision.Seq{stem, vision.ReLU, vision.MaxPool(3, 2, 1, false)}
	m.Stages = []vision.Stage{{Name: "stem", Prefixes: []string{"conv1."}}}
	in := channels[0]
	for i, n := range repeats {
		name := fmt.Sprintf("stage%d", i+2)
		sp := p.Sub(name)
		out := channels[i+1]
		for j := 0; j < n; j++ {
			stride := int64(1)
			if j == 0 {
				stride = 2
			}
			u, err := newShuffleUnit(sp.Sub(fmt.Sprint(j)), in, out, stride)
			if err != nil {
				return err
			}
			backbone = append(backbone, u)
			in = out
		}
		m.Stages = append(m.Stages, vision.Stage{Name: name, Prefixes: []string{name + "."}})
	}
	conv5, err := plainConvBN(p.Sub("conv5"), "0", "1", in, channels[4], 1, 1, 1)
	if err != nil {
		return err
	}
	m.Stages[len(m.Stages)-1].Prefixes = append(m.Stages[len(m.Stages)-1].Prefixes, "conv5.")
	backbone = append(backbone, conv5, vision.ReLU, vision.GlobalAvgPool)
	fc, err := vision.NewLinear(p.Sub("fc"), channels[4], int64(m.NumClasses), true, nil)
	if err != nil {
		return err
	}
	m.Backbone, m.Head, m.FeatureDim = backbone, fc, int(channels[4])
	m.HeadPrefixes = []string{"fc."}
	m.Stages = append(m.Stages, vision.Stage{Name: "head", Prefixes: []string{"fc."}})
	return nil
}

// shuffleUnit is torchvision's shufflenetv2.InvertedResidual.
type shuffleUnit struct {
	branch1, branch2 vision.Module // branch1 nil for stride 1
}

func newShuffleUnit(p *nn.Path, in, out, stride int64) (*shuffleUnit, error) {
	bf := out / 2
	u := &shuffleUnit{}
	if stride > 1 {
		b1 := p.Sub("branch1")
		dw, err := plainConvBN(b1, "0", "1", in, in, 3, stride, in)
		if err != nil {
			return nil, err
		}
		pw, err := plainConvBN(b1, "2", "3", in, bf, 1, 1, 1)
		if err != nil {
			return nil, err
		}
		u.branch1 = vision.Seq{dw, pw, vision.ReLU}
	}
	b2 := p.Sub("branch2")
	first := bf
	if stride > 1 {
		first = in
	}
	a, err := plainConvBN(b2, "0", "1", first, bf, 1, 1, 1)
	if err != nil {
		return nil, err
	}
	dw, err := plainConvBN(b2, "3", "4", bf, bf, 3, stride, bf)
	if err != nil {
		return nil, err
	}
	c, err := plainConvBN(b2, "5", "6", bf, bf, 1, 1, 1)
	if err != nil {
		return nil, err
	}
	u.branch2 = vision.Seq{a, vision.ReLU, dw, c, vision.ReLU}
	return u, nil
}

func (u *shuffleUnit) Forward(x *ts.Tensor, train bool) (*ts.Tensor, error) {
	var left, right *ts.Tensor
	var err error
	if u.branch1 == nil {
		c := x.MustSize()[1]
		if left, err = x.Narrow(1, 0, c/2, false); err != nil {
			return nil, err
		}
		defer left.MustDrop()
		x2, err := x.Narrow(1, c/2, c-c/2, false)
		if err != nil {
			return nil, err
		}
		defer x2.MustDrop()
		if right, err = u.branch2.Forward(x2, train); err != nil {
			return nil, err
		}
	} else {
		if left, err = u.branch1.Forward(x, train); err != nil {
			return nil, err
		}
		defer left.MustDrop()
		if right, err = u.branch2.Forward(x, train); err != nil {
			return nil, err
		}
	}
	defer right.MustDrop()
	out, err := ts.Cat([]*ts.Tensor{left, right}, 1)
	if err != nil {
		return nil, err
	}
	return channelShuffle(out, 2)
}

// Emit writes the unit as Forward: split (stride 1) or both branches,
// concatenation, channel shuffle.
func (u *shuffleUnit) Emit(g vision.Graph, x string) (string, error) {
	var left, right string
	var err error
	if u.branch1 == nil {
		s := g.Shape(x)
		if len(s) != 4 || s[1] <= 0 {
			return "", fmt.Errorf("shufflenet unit: channels of %s unknown", x)
		}
		c := s[1]
		halves := g.OpN("Split", []string{x, g.Ints(c/2, c-c/2)}, 2, vision.A("axis", int64(1)))
		left = halves[0]
		if right, err = vision.Emit(g, u.branch2, halves[1]); err != nil {
			return "", err
		}
	} else {
		if left, err = vision.Emit(g, u.branch1, x); err != nil {
			return "", err
		}
		if right, err = vision.Emit(g, u.branch2, x); err != nil {
			return "", err
		}
	}
	return emitChannelShuffle(g, g.Op("Concat", []string{left, right}, vision.A("axis", int64(1))), 2)
}

// emitChannelShuffle writes channelShuffle: [N, C, H, W] viewed as
// [N, groups, C/groups, H·W], groups and channels swapped, and reshaped
// back to x's own (dynamic) shape.
func emitChannelShuffle(g vision.Graph, x string, groups int64) (string, error) {
	s := g.Shape(x)
	if len(s) != 4 || s[1] <= 0 {
		return "", fmt.Errorf("channel shuffle: channels of %s unknown", x)
	}
	v := g.Op("Reshape", []string{x, g.Ints(0, groups, s[1]/groups, -1)})
	t := g.Op("Transpose", []string{v}, vision.A("perm", []int64{0, 2, 1, 3}))
	return g.Op("Reshape", []string{t, g.Op("Shape", []string{x})}), nil
}

// channelShuffle interleaves the channels of groups groups; it consumes x.
func channelShuffle(x *ts.Tensor, groups int64) (*ts.Tensor, error) {
	size, err := x.Size()
	if err != nil {
		x.MustDrop()
		return nil, err
	}
	n, c, h, w := size[0], size[1], size[2], size[3]
	if x, err = x.View([]int64{n, groups, c / groups, h, w}, true); err != nil {
		return nil, err
	}
	if x, err = x.Transpose(1, 2, true); err != nil {
		return nil, err
	}
	if x, err = x.Contiguous(true); err != nil {
		return nil, err
	}
	return x.View([]int64{n, c, h, w}, true)
}
