package models

import (
	"fmt"
	"strings"

	"github.com/gtl-dev/gtl/vision"
	"github.com/sugarme/gotch/nn"
)

// GoogLeNet (Inception v1), as torchvision.models.googlenet defines it with
// aux_logits=False, the model its published weights give: BasicConv2d
// layers (bias-free conv, batch norm eps 0.001, ReLU), nine Inception
// blocks with ceil-mode max pools between them, global average pooling,
// dropout 0.2 and a Linear head. Weights are trunc_normal_(std 0.01) for
// convolutions and Linear layers, as init_weights=True.
//
// torchvision's weight file also holds the two auxiliary classifiers
// (aux1., aux2.), which torchvision drops after loading: they are the
// vision.Spec's SkipPrefixes, skipped on load. With its pretrained weights
// torchvision turns transform_input on (vision.Open does too, as for inception_v3).

func init() {
	vision.Register(vision.Spec{Name: "googlenet", Family: "googlenet", Build: buildGoogLeNet, SkipPrefixes: []string{"aux1.", "aux2."}})
}

func buildGoogLeNet(m *vision.Model, p *nn.Path) error {
	conv := func(name string, in, out, k, stride, pad int64) (vision.Module, error) {
		cp := p
		for _, part := range strings.Split(name, ".") {
			cp = cp.Sub(part)
		}
		c, err := vision.NewConv2d(cp.Sub("conv"), in, out, []int64{k}, vision.ConvOpts{Stride: []int64{stride}, Padding: []int64{pad}, Init: vision.TruncNormal{Std: 0.01}})
		if err != nil {
			return nil, err
		}
		bn, err := vision.NewBatchNorm2d(cp.Sub("bn"), out, 1e-3, 0.1)
		if err != nil {
			return nil, err
		}
		return vision.Seq{c, bn, vision.ReLU}, nil
	}
	c1, err := conv("conv1", 3, 64, 7, 2, 3)
	if err != nil {
		return err
	}
	c2, err := conv("conv2", 64, 64, 1, 1, 0)
	if err != nil {
		return err
	}
	c3, err := conv("conv3", 64, 192, 3, 1, 1)
	if err != nil {
		return err
	}
	pool := func() vision.Module { return vision.MaxPool(3, 2, 0, true) }
	backbone := vision.Seq{c1, pool(), c2, c3, pool()}
	m.Stages = []vision.Stage{{Name: "stem", Prefixes: []string{"conv1.", "conv2.", "conv3."}}}
	// in, 1×1, 3×3 reduce, 3×3, 5×5 reduce, "5×5" (a 3×3 in torchvision), pool projection.
	blocks := []struct {
		name string
		c    [7]int64
	}{
		{"inception3a", [7]int64{192, 64, 96, 128, 16, 32, 32}},
		{"inception3b", [7]int64{256, 128, 128, 192, 32, 96, 64}},
		{"inception4a", [7]int64{480, 192, 96, 208, 16, 48, 64}},
		{"inception4b", [7]int64{512, 160, 112, 224, 24, 64, 64}},
		{"inception4c", [7]int64{512, 128, 128, 256, 24, 64, 64}},
		{"inception4d", [7]int64{512, 112, 144, 288, 32, 64, 64}},
		{"inception4e", [7]int64{528, 256, 160, 320, 32, 128, 128}},
		{"inception5a", [7]int64{832, 256, 160, 320, 32, 128, 128}},
		{"inception5b", [7]int64{832, 384, 192, 384, 48, 128, 128}},
	}
	for _, b := range blocks {
		switch b.name {
		case "inception4a":
			backbone = append(backbone, pool())
		case "inception5a":
			backbone = append(backbone, vision.MaxPool(2, 2, 0, true))
		}
		c := b.c
		b1, err := conv(b.name+".branch1", c[0], c[1], 1, 1, 0)
		if err != nil {
			return err
		}
		var branches [3]vision.Seq
		for i, spec := range [][2]int64{{c[2], c[3]}, {c[4], c[5]}} {
			a, err := conv(fmt.Sprintf("%s.branch%d.0", b.name, i+2), c[0], spec[0], 1, 1, 0)
			if err != nil {
				return err
			}
			bb, err := conv(fmt.Sprintf("%s.branch%d.1", b.name, i+2), spec[0], spec[1], 3, 1, 1)
			if err != nil {
				return err
			}
			branches[i] = vision.Seq{a, bb}
		}
		proj, err := conv(b.name+".branch4.1", c[0], c[6], 1, 1, 0)
		if err != nil {
			return err
		}
		branches[2] = vision.Seq{vision.MaxPool(3, 1, 1, true), proj}
		backbone = append(backbone, catBranches{b1, branches[0], branches[1], branches[2]})
	}
	for _, g := range [][]string{{"inception3a", "inception3b"}, {"inception4a", "inception4b", "inception4c"}, {"inception4d", "inception4e"}, {"inception5a", "inception5b"}} {
		s := vision.Stage{Name: g[0] + "-" + g[len(g)-1][len("inception"):]}
		for _, n := range g {
			s.Prefixes = append(s.Prefixes, n+".")
		}
		m.Stages = append(m.Stages, s)
	}
	backbone = append(backbone, vision.GlobalAvgPool)
	fc, err := newLinearWith(p.Sub("fc"), 1024, int64(m.NumClasses), vision.TruncNormal{Std: 0.01}, vision.Uniform(1/32.0))
	if err != nil {
		return err
	}
	m.Backbone, m.Head, m.FeatureDim = backbone, vision.Seq{m.Dropout(0.2), fc}, 1024
	m.HeadPrefixes = []string{"fc."}
	m.Stages = append(m.Stages, vision.Stage{Name: "head", Prefixes: []string{"fc."}})
	return nil
}
