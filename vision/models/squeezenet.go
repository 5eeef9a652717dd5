package models

import (
	"fmt"
	"math"

	"github.com/gtl-dev/gtl/vision"
	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"
)

// SqueezeNet 1.0 and 1.1, as torchvision.models.squeezenet defines them.
//
// torchvision's classifier is dropout, a 1×1 convolution to the classes,
// ReLU and a global average pool: the ReLU sits between the class
// convolution and the pooling, so no pooled embedding determines the logits.
// gtl's split therefore keeps the spatial map: the backbone returns the
// features' output [N, 512, H, W] flattened to [N, 512·H·W] (86528 values
// for 224×224 inputs, 13×13 positions), and the head views it as
// [N, 512, H·W, 1] and runs torchvision's classifier on it, which gives the
// same logits (a 1×1 convolution and a global average do not depend on the
// spatial layout).

func init() {
	vision.Register(vision.Spec{Name: "squeezenet1_0", Family: "squeezenet", Build: func(m *vision.Model, p *nn.Path) error {
		return buildSqueezeNet(m, p, "1_0")
	}})
	vision.Register(vision.Spec{Name: "squeezenet1_1", Family: "squeezenet", Build: func(m *vision.Model, p *nn.Path) error {
		return buildSqueezeNet(m, p, "1_1")
	}})
}

// squeezeChannels is the width of the features' output.
const squeezeChannels = 512

// catBranches runs each branch on the same input and concatenates the
// results along the channel dimension (torch.cat(..., 1)).
type catBranches []vision.Module

func (c catBranches) Forward(x *ts.Tensor, train bool) (*ts.Tensor, error) {
	outs := make([]*ts.Tensor, 0, len(c))
	defer func() {
		for _, o := range outs {
			o.MustDrop()
		}
	}()
	for i, b := range c {
		o, err := b.Forward(x, train)
		if err != nil {
			return nil, fmt.Errorf("branch %d: %w", i, err)
		}
		outs = append(outs, o)
	}
	return ts.Cat(outs, 1)
}

// Emit writes each branch and a Concat along channels, as Forward.
func (c catBranches) Emit(g vision.Graph, x string) (string, error) {
	outs := make([]string, len(c))
	for i, b := range c {
		o, err := vision.Emit(g, b, x)
		if err != nil {
			return "", fmt.Errorf("branch %d: %w", i, err)
		}
		outs[i] = o
	}
	return g.Op("Concat", outs, vision.A("axis", int64(1))), nil
}

// squeezeConv is a convolution with bias, initialised as SqueezeNet does:
// kaiming_uniform_ (a=0, fan_in: U(±√(6/fan_in))), bias 0.
func squeezeConv(p *nn.Path, in, out, k, stride, pad int64) (*vision.Conv2d, error) {
	bound := math.Sqrt(6 / float64(in*k*k))
	return vision.NewConv2d(p, in, out, []int64{k}, vision.ConvOpts{Stride: []int64{stride}, Padding: []int64{pad}, Bias: true, Init: vision.Uniform(bound)})
}

// newFire is torchvision's Fire module: a 1×1 squeeze convolution, then
// 1×1 and 3×3 expand convolutions whose ReLU outputs are concatenated.
func newFire(p *nn.Path, in, squeeze, e1, e3 int64) (vision.Module, error) {
	s, err := squeezeConv(p.Sub("squeeze"), in, squeeze, 1, 1, 0)
	if err != nil {
		return nil, err
	}
	a, err := squeezeConv(p.Sub("expand1x1"), squeeze, e1, 1, 1, 0)
	if err != nil {
		return nil, err
	}
	b, err := squeezeConv(p.Sub("expand3x3"), squeeze, e3, 3, 1, 1)
	if err != nil {
		return nil, err
	}
	return vision.Seq{s, vision.ReLU, catBranches{vision.Seq{a, vision.ReLU}, vision.Seq{b, vision.ReLU}}}, nil
}

// buildSqueezeNet builds features.* and classifier.1 (the class
// convolution); see the file comment for the backbone/head split. Each
// stage after the stem is the run of Fire modules after one max pool.
func buildSqueezeNet(m *vision.Model, p *nn.Path, version string) error {
	fp := p.Sub("features")
	type fire struct{ in, squeeze, e1, e3 int64 }
	var stemConv *vision.Conv2d
	var groups [][]fire
	var err error
	switch version {
	case "1_0":
		stemConv, err = squeezeConv(fp.Sub("0"), 3, 96, 7, 2, 0)
		groups = [][]fire{
			{{96, 16, 64, 64}, {128, 16, 64, 64}, {128, 32, 128, 128}},
			{{256, 32, 128, 128}, {256, 48, 192, 192}, {384, 48, 192, 192}, {384, 64, 256, 256}},
			{{512, 64, 256, 256}},
		}
	case "1_1":
		stemConv, err = squeezeConv(fp.Sub("0"), 3, 64, 3, 2, 0)
		groups = [][]fire{
			{{64, 16, 64, 64}, {128, 16, 64, 64}},
			{{128, 32, 128, 128}, {256, 32, 128, 128}},
			{{256, 48, 192, 192}, {384, 48, 192, 192}, {384, 64, 256, 256}, {512, 64, 256, 256}},
		}
	default:
		return fmt.Errorf("squeezenet version %q, want 1_0 or 1_1", version)
	}
	if err != nil {
		return err
	}
	features := vision.Seq{stemConv, vision.ReLU}
	stages := []vision.Stage{{Name: "stem", Prefixes: []string{"features.0."}}}
	idx := 2 // index in features of the next module
	for _, g := range groups {
		features = append(features, vision.MaxPool(3, 2, 0, true))
		idx++
		s := vision.Stage{Name: fmt.Sprintf("features.%d-%d", idx, idx+len(g)-1)}
		if len(g) == 1 {
			s.Name = fmt.Sprintf("features.%d", idx)
		}
		for _, f := range g {
			mod, err := newFire(fp.Sub(fmt.Sprint(idx)), f.in, f.squeeze, f.e1, f.e3)
			if err != nil {
				return err
			}
			features = append(features, mod)
			s.Prefixes = append(s.Prefixes, fmt.Sprintf("features.%d.", idx))
			idx++
		}
		stages = append(stages, s)
	}
	final, err := vision.NewConv2d(p.Sub("classifier").Sub("1"), squeezeChannels, int64(m.NumClasses), []int64{1},
		vision.ConvOpts{Bias: true, Init: vision.Normal(0.01)})
	if err != nil {
		return err
	}
	m.Backbone = vision.Seq{features, vision.Flatten}
	m.Head = vision.Seq{m.Dropout(0.5), squeezeUnflatten, final, vision.ReLU, vision.AdaptiveAvgPool(1, 1), vision.Flatten}
	m.FeatureDim = squeezeChannels * 13 * 13
	// The head needs the spatial map; embeddings use its global average.
	m.Embedding, m.EmbeddingDim = vision.Seq{features, vision.GlobalAvgPool}, squeezeChannels
	m.HeadPrefixes = []string{"classifier.1."}
	m.Stages = append(stages, vision.Stage{Name: "head", Prefixes: []string{"classifier."}})
	return nil
}

// squeezeUnflatten views flattened features [N, 512·P] as [N, 512, P, 1].
var squeezeUnflatten = vision.Symbolic{
	F: func(x *ts.Tensor, _ bool) (*ts.Tensor, error) {
		size, err := x.Size()
		if err != nil {
			return nil, err
		}
		if len(size) != 2 || size[1]%squeezeChannels != 0 {
			return nil, fmt.Errorf("squeezenet head: features of shape %v, want [N, %d·positions]", size, squeezeChannels)
		}
		return x.Reshape([]int64{size[0], squeezeChannels, size[1] / squeezeChannels, 1}, false)
	},
	E: func(g vision.Graph, x string) (string, error) {
		return g.Op("Reshape", []string{x, g.Ints(0, squeezeChannels, -1, 1)}), nil
	},
}
