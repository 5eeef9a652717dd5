package models

import (
	"fmt"

	"github.com/gtl-dev/gtl/vision"
	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"
)

// ConvNeXt, as torchvision.models.convnext defines it: a 4×4 stride-4 patchify
// stem with LayerNorm2d, stages of CNBlocks (depthwise 7×7 convolution,
// channels-last layer norm, Linear 4× expansion, GELU, Linear, layer scale,
// stochastic depth, residual), LayerNorm2d + 2×2 stride-2 convolution
// downsampling between stages, and a LayerNorm2d → flatten → Linear
// classifier after global average pooling.

func init() {
	vision.Register(vision.Spec{Name: "convnext_tiny", Family: "convnext", ResizeSize: 236, Build: func(m *vision.Model, p *nn.Path) error {
		return buildConvNeXt(m, p, []cnStage{{96, 192, 3}, {192, 384, 3}, {384, 768, 9}, {768, 0, 3}}, 0.1)
	}})
	vision.Register(vision.Spec{Name: "convnext_small", Family: "convnext", ResizeSize: 230, Build: func(m *vision.Model, p *nn.Path) error {
		return buildConvNeXt(m, p, []cnStage{{96, 192, 3}, {192, 384, 3}, {384, 768, 27}, {768, 0, 3}}, 0.4)
	}})
	vision.Register(vision.Spec{Name: "convnext_base", Family: "convnext", ResizeSize: 232, Build: func(m *vision.Model, p *nn.Path) error {
		return buildConvNeXt(m, p, []cnStage{{128, 256, 3}, {256, 512, 3}, {512, 1024, 27}, {1024, 0, 3}}, 0.5)
	}})
	vision.Register(vision.Spec{Name: "convnext_large", Family: "convnext", ResizeSize: 232, Build: func(m *vision.Model, p *nn.Path) error {
		return buildConvNeXt(m, p, []cnStage{{192, 384, 3}, {384, 768, 3}, {768, 1536, 27}, {1536, 0, 3}}, 0.5)
	}})
}

// cnStage is torchvision's CNBlockConfig; out 0 means no downsampling after
// the stage.
type cnStage struct {
	in, out int64
	layers  int
}

// permute returns a module that permutes the dimensions of its input (a view).
func permute(dims ...int64) vision.Module { return permuteOp(dims) }

// permuteOp permutes its input's dimensions (x.permute(dims)).
type permuteOp []int64

func (p permuteOp) Forward(x *ts.Tensor, _ bool) (*ts.Tensor, error) { return x.Permute(p, false) }

// Emit writes a Transpose, as Forward.
func (p permuteOp) Emit(g vision.Graph, x string) (string, error) {
	return g.Op("Transpose", []string{x}, vision.A("perm", []int64(p))), nil
}

// layerScale multiplies its input by a learnt per-channel scale
// (ConvNeXt's layer_scale, [C, 1, 1]).
type layerScale struct{ scale *ts.Tensor }

func (l layerScale) Forward(x *ts.Tensor, _ bool) (*ts.Tensor, error) { return l.scale.Mul(x, false) }

// Emit writes scale · x, as Forward.
func (l layerScale) Emit(g vision.Graph, x string) (string, error) {
	return g.Op("Mul", []string{g.Param(l.scale), x}), nil
}

// newLayerNorm2d is torchvision's LayerNorm2d: a layer norm over the channels
// of an NCHW tensor (permuted to channels-last and back), weight 1, bias 0.
func newLayerNorm2d(p *nn.Path, c int64, eps float64) (vision.Module, error) {
	ln, err := vision.NewLayerNorm(p, []int64{c}, eps)
	if err != nil {
		return nil, err
	}
	return vision.Seq{permute(0, 2, 3, 1), ln, permute(0, 3, 1, 2)}, nil
}

// cnConv is a ConvNeXt convolution with bias: trunc_normal(0.02) weight,
// zero bias.
func cnConv(p *nn.Path, in, out, k int64, o vision.ConvOpts) (*vision.Conv2d, error) {
	o.Bias, o.Init = true, vision.TruncNormal{Std: 0.02}
	return vision.NewConv2d(p, in, out, []int64{k}, o)
}

// newCNBlock is torchvision's CNBlock of dim channels under p, with
// stochastic-depth probability sd.
func newCNBlock(m *vision.Model, p *nn.Path, dim int64, sd float64) (vision.Module, error) {
	bp := p.Sub("block")
	dw, err := cnConv(bp.Sub("0"), dim, dim, 7, vision.ConvOpts{Padding: []int64{3}, Groups: dim})
	if err != nil {
		return nil, err
	}
	ln, err := vision.NewLayerNorm(bp.Sub("2"), []int64{dim}, 1e-6)
	if err != nil {
		return nil, err
	}
	fc1, err := vision.NewLinear(bp.Sub("3"), dim, 4*dim, true, vision.TruncNormal{Std: 0.02})
	if err != nil {
		return nil, err
	}
	fc2, err := vision.NewLinear(bp.Sub("5"), 4*dim, dim, true, vision.TruncNormal{Std: 0.02})
	if err != nil {
		return nil, err
	}
	scale, err := p.NewVar("layer_scale", []int64{dim, 1, 1}, vision.Constant(1e-6))
	if err != nil {
		return nil, err
	}
	return vision.Residual(vision.Seq{dw, permute(0, 2, 3, 1), ln, fc1, vision.GELU, fc2, permute(0, 3, 1, 2), layerScale{scale}, m.StochasticDepth(sd)}), nil
}

func buildConvNeXt(m *vision.Model, p *nn.Path, setting []cnStage, sdProb float64) error {
	f := p.Sub("features")
	stemConv, err := cnConv(f.Sub("0").Sub("0"), 3, setting[0].in, 4, vision.ConvOpts{Stride: []int64{4}})
	if err != nil {
		return err
	}
	stemNorm, err := newLayerNorm2d(f.Sub("0").Sub("1"), setting[0].in, 1e-6)
	if err != nil {
		return err
	}
	backbone := vision.Seq{stemConv, stemNorm}
	stages := []vision.Stage{{Name: "stem", Prefixes: []string{"features.0."}}}
	total := 0
	for _, s := range setting {
		total += s.layers
	}
	idx, blockID := 1, 0
	for _, s := range setting {
		sp := f.Sub(fmt.Sprint(idx))
		stage := vision.Stage{Name: fmt.Sprintf("features.%d", idx), Prefixes: []string{fmt.Sprintf("features.%d.", idx)}}
		for j := 0; j < s.layers; j++ {
			sd := sdProb * float64(blockID) / (float64(total) - 1)
			b, err := newCNBlock(m, sp.Sub(fmt.Sprint(j)), s.in, sd)
			if err != nil {
				return err
			}
			backbone = append(backbone, b)
			blockID++
		}
		idx++
		if s.out != 0 {
			dp := f.Sub(fmt.Sprint(idx))
			norm, err := newLayerNorm2d(dp.Sub("0"), s.in, 1e-6)
			if err != nil {
				return err
			}
			conv, err := cnConv(dp.Sub("1"), s.in, s.out, 2, vision.ConvOpts{Stride: []int64{2}})
			if err != nil {
				return err
			}
			backbone = append(backbone, norm, conv)
			stage.Name += fmt.Sprintf("-%d", idx)
			stage.Prefixes = append(stage.Prefixes, fmt.Sprintf("features.%d.", idx))
			idx++
		}
		stages = append(stages, stage)
	}
	last := setting[len(setting)-1].in
	if o := setting[len(setting)-1].out; o != 0 {
		last = o
	}
	cp := p.Sub("classifier")
	norm, err := newLayerNorm2d(cp.Sub("0"), last, 1e-6)
	if err != nil {
		return err
	}
	backbone = append(backbone, vision.AdaptiveAvgPool(1, 1), norm, vision.Flatten)
	fc, err := vision.NewLinear(cp.Sub("2"), last, int64(m.NumClasses), true, vision.TruncNormal{Std: 0.02})
	if err != nil {
		return err
	}
	m.Backbone, m.Head, m.FeatureDim = backbone, fc, int(last)
	m.HeadPrefixes = []string{"classifier.2."}
	m.Stages = append(stages, vision.Stage{Name: "head", Prefixes: []string{"classifier."}})
	return nil
}
