package models

import (
	"fmt"
	"math"

	"github.com/gtl-dev/gtl/vision"
	"github.com/sugarme/gotch/nn"
)

// RegNet (X and Y), as torchvision.models.regnet defines it: a 3×3 stride-2
// stem (32 channels), four stages of residual bottleneck blocks (1×1, grouped
// 3×3 with the stride, squeeze-excitation for RegNetY, 1×1; a 1×1 projection
// on the shortcut when the shape changes), global average pooling and a
// Linear head. The per-stage widths, depths and group widths below are what
// torchvision's BlockParams.from_init_params computes from each model's
// (depth, w_0, w_a, w_m, group_width) with a bottleneck multiplier of 1.

// regStage is one stage: output width, number of blocks, group width.
type regStage struct{ width, depth, groupWidth int64 }

func init() {
	for _, r := range []struct {
		name   string
		se     bool
		stages []regStage
	}{
		{"regnet_x_400mf", false, []regStage{{32, 1, 16}, {64, 2, 16}, {160, 7, 16}, {400, 12, 16}}},
		{"regnet_x_800mf", false, []regStage{{64, 1, 16}, {128, 3, 16}, {288, 7, 16}, {672, 5, 16}}},
		{"regnet_x_1_6gf", false, []regStage{{72, 2, 24}, {168, 4, 24}, {408, 10, 24}, {912, 2, 24}}},
		{"regnet_x_3_2gf", false, []regStage{{96, 2, 48}, {192, 6, 48}, {432, 15, 48}, {1008, 2, 48}}},
		{"regnet_x_8gf", false, []regStage{{80, 2, 80}, {240, 5, 120}, {720, 15, 120}, {1920, 1, 120}}},
		{"regnet_x_16gf", false, []regStage{{256, 2, 128}, {512, 6, 128}, {896, 13, 128}, {2048, 1, 128}}},
		{"regnet_x_32gf", false, []regStage{{336, 2, 168}, {672, 7, 168}, {1344, 13, 168}, {2520, 1, 168}}},
		{"regnet_y_400mf", true, []regStage{{48, 1, 8}, {104, 3, 8}, {208, 6, 8}, {440, 6, 8}}},
		{"regnet_y_800mf", true, []regStage{{64, 1, 16}, {144, 3, 16}, {320, 8, 16}, {784, 2, 16}}},
		{"regnet_y_1_6gf", true, []regStage{{48, 2, 24}, {120, 6, 24}, {336, 17, 24}, {888, 2, 24}}},
		{"regnet_y_3_2gf", true, []regStage{{72, 2, 24}, {216, 5, 24}, {576, 13, 24}, {1512, 1, 24}}},
		{"regnet_y_8gf", true, []regStage{{224, 2, 56}, {448, 4, 56}, {896, 10, 56}, {2016, 1, 56}}},
		{"regnet_y_16gf", true, []regStage{{224, 2, 112}, {448, 4, 112}, {1232, 11, 112}, {3024, 1, 112}}},
		{"regnet_y_32gf", true, []regStage{{232, 2, 232}, {696, 5, 232}, {1392, 12, 232}, {3712, 1, 232}}},
		{"regnet_y_128gf", true, []regStage{{528, 2, 264}, {1056, 7, 264}, {2904, 17, 264}, {7392, 1, 264}}},
	} {
		r := r
		vision.Register(vision.Spec{Name: r.name, Family: "regnet", Build: func(m *vision.Model, p *nn.Path) error {
			return buildRegNet(m, p, r.stages, r.se)
		}})
	}
}

func buildRegNet(m *vision.Model, p *nn.Path, stages []regStage, se bool) error {
	const stemWidth = 32
	stem, err := convNormAct(p.Sub("stem"), 3, stemWidth, 3, 2, 1, vision.ReLU)
	if err != nil {
		return err
	}
	backbone := vision.Seq{stem}
	m.Stages = []vision.Stage{{Name: "stem", Prefixes: []string{"stem."}}}
	in := int64(stemWidth)
	tp := p.Sub("trunk_output")
	for i, s := range stages {
		name := fmt.Sprintf("block%d", i+1)
		sp := tp.Sub(name)
		for j := int64(0); j < s.depth; j++ {
			stride := int64(1)
			if j == 0 {
				stride = 2
			}
			b, err := newRegNetBlock(sp.Sub(fmt.Sprintf("block%d-%d", i+1, j)), in, s.width, stride, s.groupWidth, se)
			if err != nil {
				return err
			}
			backbone = append(backbone, b)
			in = s.width
		}
		m.Stages = append(m.Stages, vision.Stage{Name: name, Prefixes: []string{"trunk_output." + name + "."}})
	}
	backbone = append(backbone, vision.GlobalAvgPool)
	fc, err := newLinearWith(p.Sub("fc"), in, int64(m.NumClasses), vision.Normal(0.01), nn.NewConstInit(0))
	if err != nil {
		return err
	}
	m.Backbone, m.Head, m.FeatureDim = backbone, fc, int(in)
	m.HeadPrefixes = []string{"fc."}
	m.Stages = append(m.Stages, vision.Stage{Name: "head", Prefixes: []string{"fc."}})
	return nil
}

// newRegNetBlock is torchvision's ResBottleneckBlock with a bottleneck
// multiplier of 1: f = a (1×1) → b (grouped 3×3, stride) → [se] → c (1×1,
// no activation); out = relu(proj(x) + f(x)).
func newRegNetBlock(p *nn.Path, in, out, stride, groupWidth int64, se bool) (vision.Module, error) {
	fp := p.Sub("f")
	a, err := convNormAct(fp.Sub("a"), in, out, 1, 1, 1, vision.ReLU)
	if err != nil {
		return nil, err
	}
	b, err := convNormAct(fp.Sub("b"), out, out, 3, stride, out/groupWidth, vision.ReLU)
	if err != nil {
		return nil, err
	}
	f := vision.Seq{a, b}
	if se {
		// SE squeezes to round(0.25 · the block's input width) channels.
		sq, err := newRegNetSE(fp.Sub("se"), out, int64(math.RoundToEven(0.25*float64(in))))
		if err != nil {
			return nil, err
		}
		f = append(f, sq)
	}
	c, err := convNormAct(fp.Sub("c"), out, out, 1, 1, 1, nil)
	if err != nil {
		return nil, err
	}
	f = append(f, c)
	var proj vision.Module
	if in != out || stride != 1 {
		if proj, err = convNormAct(p.Sub("proj"), in, out, 1, stride, 1, nil); err != nil {
			return nil, err
		}
	}
	return &resBlock{main: f, downsample: proj}, nil
}

// newRegNetSE is SqueezeExcitation (ReLU, sigmoid) with RegNet's
// initialisation: normal fan-out convolution weights, PyTorch's default
// U(±1/√fan_in) biases (torchvision re-initialises only the weights).
func newRegNetSE(p *nn.Path, in, squeeze int64) (*squeezeExcite, error) {
	conv := func(name string, cin, cout int64) (*vision.Conv2d, error) {
		c, err := vision.NewConv2d(p.Sub(name), cin, cout, []int64{1}, vision.ConvOpts{Init: vision.KaimingNormalOut(cout, 1, 1)})
		if err != nil {
			return nil, err
		}
		if c.B, err = p.Sub(name).NewVar("bias", []int64{cout}, vision.Uniform(1/math.Sqrt(float64(cin)))); err != nil {
			return nil, err
		}
		return c, nil
	}
	fc1, err := conv("fc1", in, squeeze)
	if err != nil {
		return nil, err
	}
	fc2, err := conv("fc2", squeeze, in)
	if err != nil {
		return nil, err
	}
	return &squeezeExcite{fc1: fc1, fc2: fc2, act: vision.ReLU, scale: vision.Sigmoid}, nil
}
