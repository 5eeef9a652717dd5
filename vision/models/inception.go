package models

import (
	"math"

	"github.com/gtl-dev/gtl/vision"
	"github.com/sugarme/gotch/nn"
)

// Inception v3, as torchvision.models.inception_v3 builds it with
// weights=None: transform_input off, aux_logits on and init_weights on.
// torchvision turns transform_input on only with its pretrained weights
// (Google's, trained on inputs normalised to [-1, 1]); gtl has no such
// switch, so those weights expect inputs normalised with mean 0.5 and
// std 0.5 per channel rather than the ImageNet statistics.
//
// The auxiliary classifier (AuxLogits.*) exists so that torchvision's state
// dicts load strictly, and it is initialised as torchvision does, but
// Forward never runs it: the model returns only the main logits, in
// evaluation and in training mode (so, unlike torchvision in training mode,
// AuxLogits' batch-norm statistics are not updated either).

func init() {
	vision.Register(vision.Spec{Name: "inception_v3", Family: "inception", InputSize: 299, ResizeSize: 342, Build: buildInceptionV3,
		Optional: []string{"AuxLogits."}})
}

// incInit is torchvision's Inception initialisation of convolution and
// linear weights: trunc_normal_(std, a=-2, b=2). The bounds are absolute, at
// least 20 standard deviations away for the stds used (0.1, 0.001), so the
// truncation is immaterial and a plain normal has the same distribution.
func incInit(std float64) nn.Init { return vision.Normal(std) }

// incConv is torchvision's BasicConv2d: a bias-free convolution ("conv"),
// batch norm with eps 0.001 ("bn") and ReLU, under p.
func incConv(p *nn.Path, in, out int64, k []int64, o vision.ConvOpts) (vision.Module, error) {
	o.Init = incInit(0.1)
	c, err := vision.NewConv2d(p.Sub("conv"), in, out, k, o)
	if err != nil {
		return nil, err
	}
	bn, err := vision.NewBatchNorm2d(p.Sub("bn"), out, 1e-3, 0.1)
	if err != nil {
		return nil, err
	}
	return vision.Seq{c, bn, vision.ReLU}, nil
}

// incConvSpec describes one BasicConv2d: its name, channels, kernel, stride
// and padding (one value, or two for h, w).
type incConvSpec struct {
	name      string
	in, out   int64
	k, s, pad []int64
}

// incChain builds BasicConv2d modules under p and runs them in order.
func incChain(p *nn.Path, specs ...incConvSpec) (vision.Seq, error) {
	var s vision.Seq
	for _, c := range specs {
		m, err := incConv(p.Sub(c.name), c.in, c.out, c.k, vision.ConvOpts{Stride: c.s, Padding: c.pad})
		if err != nil {
			return nil, err
		}
		s = append(s, m)
	}
	return s, nil
}

// incSize is shorthand for a size list.
func incSize(v ...int64) []int64 { return v }

// incBranch is one branch of an Inception block: a chain of convolutions,
// optionally preceded by a pool.
type incBranch struct {
	pool  vision.Module // applied to the block input first, or nil
	convs []incConvSpec
	split []incConvSpec // convolutions run side by side on the chain's output, concatenated (InceptionE)
}

// incBlock builds an Inception block under p: its branches run on the
// block input and their outputs are concatenated along the channels.
func incBlock(p *nn.Path, branches ...incBranch) (vision.Module, error) {
	var cat catBranches
	for _, b := range branches {
		var seq vision.Seq
		if b.pool != nil {
			seq = append(seq, b.pool)
		}
		chain, err := incChain(p, b.convs...)
		if err != nil {
			return nil, err
		}
		seq = append(seq, chain...)
		if len(b.split) > 0 {
			var side catBranches
			for _, c := range b.split {
				m, err := incChain(p, c)
				if err != nil {
					return nil, err
				}
				side = append(side, m)
			}
			seq = append(seq, side)
		}
		cat = append(cat, seq)
	}
	return cat, nil
}

func inceptionA(p *nn.Path, in, poolFeatures int64) (vision.Module, error) {
	one := incSize(1)
	return incBlock(p,
		incBranch{convs: []incConvSpec{{"branch1x1", in, 64, one, nil, nil}}},
		incBranch{convs: []incConvSpec{
			{"branch5x5_1", in, 48, one, nil, nil},
			{"branch5x5_2", 48, 64, incSize(5), nil, incSize(2)},
		}},
		incBranch{convs: []incConvSpec{
			{"branch3x3dbl_1", in, 64, one, nil, nil},
			{"branch3x3dbl_2", 64, 96, incSize(3), nil, one},
			{"branch3x3dbl_3", 96, 96, incSize(3), nil, one},
		}},
		incBranch{pool: vision.AvgPool(3, 1, 1, false), convs: []incConvSpec{{"branch_pool", in, poolFeatures, one, nil, nil}}},
	)
}

func inceptionB(p *nn.Path, in int64) (vision.Module, error) {
	one := incSize(1)
	return incBlock(p,
		incBranch{convs: []incConvSpec{{"branch3x3", in, 384, incSize(3), incSize(2), nil}}},
		incBranch{convs: []incConvSpec{
			{"branch3x3dbl_1", in, 64, one, nil, nil},
			{"branch3x3dbl_2", 64, 96, incSize(3), nil, one},
			{"branch3x3dbl_3", 96, 96, incSize(3), incSize(2), nil},
		}},
		incBranch{pool: vision.MaxPool(3, 2, 0, false)},
	)
}

func inceptionC(p *nn.Path, in, c7 int64) (vision.Module, error) {
	one, k17, k71, p03, p30 := incSize(1), incSize(1, 7), incSize(7, 1), incSize(0, 3), incSize(3, 0)
	return incBlock(p,
		incBranch{convs: []incConvSpec{{"branch1x1", in, 192, one, nil, nil}}},
		incBranch{convs: []incConvSpec{
			{"branch7x7_1", in, c7, one, nil, nil},
			{"branch7x7_2", c7, c7, k17, nil, p03},
			{"branch7x7_3", c7, 192, k71, nil, p30},
		}},
		incBranch{convs: []incConvSpec{
			{"branch7x7dbl_1", in, c7, one, nil, nil},
			{"branch7x7dbl_2", c7, c7, k71, nil, p30},
			{"branch7x7dbl_3", c7, c7, k17, nil, p03},
			{"branch7x7dbl_4", c7, c7, k71, nil, p30},
			{"branch7x7dbl_5", c7, 192, k17, nil, p03},
		}},
		incBranch{pool: vision.AvgPool(3, 1, 1, false), convs: []incConvSpec{{"branch_pool", in, 192, one, nil, nil}}},
	)
}

func inceptionD(p *nn.Path, in int64) (vision.Module, error) {
	one := incSize(1)
	return incBlock(p,
		incBranch{convs: []incConvSpec{
			{"branch3x3_1", in, 192, one, nil, nil},
			{"branch3x3_2", 192, 320, incSize(3), incSize(2), nil},
		}},
		incBranch{convs: []incConvSpec{
			{"branch7x7x3_1", in, 192, one, nil, nil},
			{"branch7x7x3_2", 192, 192, incSize(1, 7), nil, incSize(0, 3)},
			{"branch7x7x3_3", 192, 192, incSize(7, 1), nil, incSize(3, 0)},
			{"branch7x7x3_4", 192, 192, incSize(3), incSize(2), nil},
		}},
		incBranch{pool: vision.MaxPool(3, 2, 0, false)},
	)
}

func inceptionE(p *nn.Path, in int64) (vision.Module, error) {
	one, k13, k31, p01, p10 := incSize(1), incSize(1, 3), incSize(3, 1), incSize(0, 1), incSize(1, 0)
	return incBlock(p,
		incBranch{convs: []incConvSpec{{"branch1x1", in, 320, one, nil, nil}}},
		incBranch{
			convs: []incConvSpec{{"branch3x3_1", in, 384, one, nil, nil}},
			split: []incConvSpec{{"branch3x3_2a", 384, 384, k13, nil, p01}, {"branch3x3_2b", 384, 384, k31, nil, p10}},
		},
		incBranch{
			convs: []incConvSpec{
				{"branch3x3dbl_1", in, 448, one, nil, nil},
				{"branch3x3dbl_2", 448, 384, incSize(3), nil, one},
			},
			split: []incConvSpec{{"branch3x3dbl_3a", 384, 384, k13, nil, p01}, {"branch3x3dbl_3b", 384, 384, k31, nil, p10}},
		},
		incBranch{pool: vision.AvgPool(3, 1, 1, false), convs: []incConvSpec{{"branch_pool", in, 192, one, nil, nil}}},
	)
}

// newInceptionAux creates torchvision's InceptionAux parameters under p
// (conv0, conv1, fc; conv1's own stddev attribute sits on the BasicConv2d,
// not on its convolution, so torchvision initialises it with 0.1 too) and
// returns the module, which gtl does not run.
func newInceptionAux(p *nn.Path, in int64, numClasses int64) (vision.Module, error) {
	convs, err := incChain(p,
		incConvSpec{"conv0", in, 128, incSize(1), nil, nil},
		incConvSpec{"conv1", 128, 768, incSize(5), nil, nil})
	if err != nil {
		return nil, err
	}
	fc, err := incLinear(p.Sub("fc"), 768, numClasses, 0.001)
	if err != nil {
		return nil, err
	}
	return vision.Seq{vision.AvgPool(5, 3, 0, false), convs, vision.AdaptiveAvgPool(1, 1), vision.Flatten, fc}, nil
}

// incLinear is a linear layer with a truncated-normal weight of the given
// std and PyTorch's default bias U(±1/√in) (torchvision's Inception init
// leaves the bias alone).
func incLinear(p *nn.Path, in, out int64, std float64) (*vision.Linear, error) {
	l := &vision.Linear{}
	var err error
	if l.W, err = p.NewVar("weight", []int64{out, in}, incInit(std)); err != nil {
		return nil, err
	}
	if l.B, err = p.NewVar("bias", []int64{out}, vision.Uniform(1/math.Sqrt(float64(in)))); err != nil {
		return nil, err
	}
	return l, nil
}

func buildInceptionV3(m *vision.Model, p *nn.Path) error {
	one, three := incSize(1), incSize(3)
	stem, err := incChain(p,
		incConvSpec{"Conv2d_1a_3x3", 3, 32, three, incSize(2), nil},
		incConvSpec{"Conv2d_2a_3x3", 32, 32, three, nil, nil},
		incConvSpec{"Conv2d_2b_3x3", 32, 64, three, nil, one},
	)
	if err != nil {
		return err
	}
	stem2, err := incChain(p,
		incConvSpec{"Conv2d_3b_1x1", 64, 80, one, nil, nil},
		incConvSpec{"Conv2d_4a_3x3", 80, 192, three, nil, nil},
	)
	if err != nil {
		return err
	}
	backbone := vision.Seq{stem, vision.MaxPool(3, 2, 0, false), stem2, vision.MaxPool(3, 2, 0, false)}
	type block struct {
		name string
		make func(*nn.Path) (vision.Module, error)
	}
	for _, b := range []block{
		{"Mixed_5b", func(p *nn.Path) (vision.Module, error) { return inceptionA(p, 192, 32) }},
		{"Mixed_5c", func(p *nn.Path) (vision.Module, error) { return inceptionA(p, 256, 64) }},
		{"Mixed_5d", func(p *nn.Path) (vision.Module, error) { return inceptionA(p, 288, 64) }},
		{"Mixed_6a", func(p *nn.Path) (vision.Module, error) { return inceptionB(p, 288) }},
		{"Mixed_6b", func(p *nn.Path) (vision.Module, error) { return inceptionC(p, 768, 128) }},
		{"Mixed_6c", func(p *nn.Path) (vision.Module, error) { return inceptionC(p, 768, 160) }},
		{"Mixed_6d", func(p *nn.Path) (vision.Module, error) { return inceptionC(p, 768, 160) }},
		{"Mixed_6e", func(p *nn.Path) (vision.Module, error) { return inceptionC(p, 768, 192) }},
		{"Mixed_7a", func(p *nn.Path) (vision.Module, error) { return inceptionD(p, 768) }},
		{"Mixed_7b", func(p *nn.Path) (vision.Module, error) { return inceptionE(p, 1280) }},
		{"Mixed_7c", func(p *nn.Path) (vision.Module, error) { return inceptionE(p, 2048) }},
	} {
		mod, err := b.make(p.Sub(b.name))
		if err != nil {
			return err
		}
		backbone = append(backbone, mod)
	}
	if _, err := newInceptionAux(p.Sub("AuxLogits"), 768, int64(m.NumClasses)); err != nil {
		return err
	}
	backbone = append(backbone, vision.AdaptiveAvgPool(1, 1), vision.Flatten)
	fc, err := incLinear(p.Sub("fc"), 2048, int64(m.NumClasses), 0.1)
	if err != nil {
		return err
	}
	m.Backbone = backbone
	m.Head = vision.Seq{m.Dropout(0.5), fc}
	m.FeatureDim = 2048
	m.HeadPrefixes = []string{"fc.", "AuxLogits.fc."}
	m.Stages = []vision.Stage{
		{Name: "stem", Prefixes: []string{"Conv2d_1a_3x3.", "Conv2d_2a_3x3.", "Conv2d_2b_3x3.", "Conv2d_3b_1x1.", "Conv2d_4a_3x3."}},
		{Name: "Mixed_5", Prefixes: []string{"Mixed_5b.", "Mixed_5c.", "Mixed_5d."}},
		{Name: "Mixed_6", Prefixes: []string{"Mixed_6a.", "Mixed_6b.", "Mixed_6c.", "Mixed_6d.", "Mixed_6e."}},
		{Name: "Mixed_7", Prefixes: []string{"Mixed_7a.", "Mixed_7b.", "Mixed_7c."}},
		{Name: "head", Prefixes: []string{"fc.", "AuxLogits."}},
	}
	return nil
}
