package vision

import (
	"fmt"
	"math"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"

	"github.com/gtl-dev/gtl/vision/torch"
)

// ConvNeXt, as torchvision.models.convnext defines it: a 4×4 stride-4 patchify
// stem with LayerNorm2d, stages of CNBlocks (depthwise 7×7 convolution,
// channels-last layer norm, Linear 4× expansion, GELU, Linear, layer scale,
// stochastic depth, residual), LayerNorm2d + 2×2 stride-2 convolution
// downsampling between stages, and a LayerNorm2d → flatten → Linear
// classifier after global average pooling.

func init() {
	register(Spec{Name: "convnext_tiny", Family: "convnext", ResizeSize: 236, Build: func(m *Model, p *nn.Path) error {
		return buildConvNeXt(m, p, []cnStage{{96, 192, 3}, {192, 384, 3}, {384, 768, 9}, {768, 0, 3}}, 0.1)
	}})
	register(Spec{Name: "convnext_small", Family: "convnext", ResizeSize: 230, Build: func(m *Model, p *nn.Path) error {
		return buildConvNeXt(m, p, []cnStage{{96, 192, 3}, {192, 384, 3}, {384, 768, 27}, {768, 0, 3}}, 0.4)
	}})
	register(Spec{Name: "convnext_base", Family: "convnext", ResizeSize: 232, Build: func(m *Model, p *nn.Path) error {
		return buildConvNeXt(m, p, []cnStage{{128, 256, 3}, {256, 512, 3}, {512, 1024, 27}, {1024, 0, 3}}, 0.5)
	}})
	register(Spec{Name: "convnext_large", Family: "convnext", ResizeSize: 232, Build: func(m *Model, p *nn.Path) error {
		return buildConvNeXt(m, p, []cnStage{{192, 384, 3}, {384, 768, 3}, {768, 1536, 27}, {1536, 0, 3}}, 0.5)
	}})
}

// cnStage is torchvision's CNBlockConfig; out 0 means no downsampling after
// the stage.
type cnStage struct {
	in, out int64
	layers  int
}

// truncNormal is torch.nn.init.trunc_normal_(mean=0, std, a=-2, b=2): a
// normal distribution truncated to the absolute bounds [-2, 2], sampled by
// the inverse CDF as PyTorch does.
type truncNormal struct{ std float64 }

var _ nn.Init = truncNormal{}

// sample draws a tensor of the given shape.
func (t truncNormal) sample(dims []int64, dtype gotch.DType, dev gotch.Device) (*ts.Tensor, error) {
	const a, b = -2.0, 2.0
	cdf := func(x float64) float64 { return (1 + math.Erf(x/math.Sqrt2)) / 2 }
	lo, hi := 2*cdf(a/t.std)-1, 2*cdf(b/t.std)-1
	u, err := ts.Rand(dims, dtype, dev) // U[0, 1)
	if err != nil {
		return nil, err
	}
	if u, err = u.MulScalar(ts.FloatScalar(hi-lo), true); err != nil {
		return nil, err
	}
	if u, err = u.AddScalar(ts.FloatScalar(lo), true); err != nil {
		return nil, err
	}
	if u, err = u.Erfinv(true); err != nil {
		return nil, err
	}
	if u, err = u.MulScalar(ts.FloatScalar(t.std*math.Sqrt2), true); err != nil {
		return nil, err
	}
	return u.Clamp(ts.FloatScalar(a), ts.FloatScalar(b), true)
}

// sampler draws a new tensor of the given shape, dtype and device.
type sampler func(dims []int64, dtype gotch.DType, dev gotch.Device) (*ts.Tensor, error)

// initTensor implements nn.Init's InitTensor for a sampler. nn.Init cannot
// return an error: a failing libtorch op panics, which torch.Do turns into
// an error of the enclosing call (vision.New).
func (s sampler) initTensor(what string, dims []int64, dev gotch.Device, dtypeOpt []gotch.DType) *ts.Tensor {
	dtype := gotch.DefaultDType
	if len(dtypeOpt) > 0 {
		dtype = dtypeOpt[0]
	}
	out, err := s(dims, dtype, dev)
	if err != nil {
		panic(fmt.Errorf("vision: %s init: %w", what, err))
	}
	return out
}

// set implements nn.Init's Set: redraw x in place, without recording
// gradients; it must run on a torch worker thread.
func (s sampler) set(what string, x *ts.Tensor) {
	err := torch.WithoutGrad(func() error {
		size, err := x.Size()
		if err != nil {
			return err
		}
		dev, err := x.Device()
		if err != nil {
			return err
		}
		v, err := s(size, x.DType(), dev)
		if err != nil {
			return err
		}
		x.Copy_(v)
		v.MustDrop()
		return nil
	})
	if err != nil {
		panic(fmt.Errorf("vision: %s init: %w", what, err))
	}
}

// InitTensor returns a new tensor drawn from the distribution.
func (t truncNormal) InitTensor(dims []int64, dev gotch.Device, dtypeOpt ...gotch.DType) *ts.Tensor {
	return sampler(t.sample).initTensor("trunc_normal", dims, dev, dtypeOpt)
}

// Set redraws x in place.
func (t truncNormal) Set(x *ts.Tensor) { sampler(t.sample).set("trunc_normal", x) }

// constant fills a tensor with one value, in the requested dtype (gotch's
// nn.NewConstInit makes float64 tensors for values other than 0 and 1).
type constant float64

var _ nn.Init = constant(0)

func (c constant) sample(dims []int64, dtype gotch.DType, dev gotch.Device) (*ts.Tensor, error) {
	return ts.Full(dims, ts.FloatScalar(float64(c)), dtype, dev)
}

// InitTensor returns a new tensor filled with c.
func (c constant) InitTensor(dims []int64, dev gotch.Device, dtypeOpt ...gotch.DType) *ts.Tensor {
	return sampler(c.sample).initTensor("constant", dims, dev, dtypeOpt)
}

// Set fills x with c in place.
func (c constant) Set(x *ts.Tensor) { sampler(c.sample).set("constant", x) }

// permute returns a module that permutes the dimensions of its input (a view).
func permute(dims ...int64) Module {
	return Func(func(x *ts.Tensor, _ bool) (*ts.Tensor, error) { return x.Permute(dims, false) })
}

// newLayerNorm2d is torchvision's LayerNorm2d: a layer norm over the channels
// of an NCHW tensor (permuted to channels-last and back), weight 1, bias 0.
func newLayerNorm2d(p *nn.Path, c int64, eps float64) (Module, error) {
	ln, err := NewLayerNorm(p, []int64{c}, eps)
	if err != nil {
		return nil, err
	}
	return Seq{permute(0, 2, 3, 1), ln, permute(0, 3, 1, 2)}, nil
}

// cnConv is a ConvNeXt convolution with bias: trunc_normal(0.02) weight,
// zero bias.
func cnConv(p *nn.Path, in, out, k int64, o ConvOpts) (*Conv2d, error) {
	o.Bias, o.Init = true, truncNormal{0.02}
	return NewConv2d(p, in, out, []int64{k}, o)
}

// newCNBlock is torchvision's CNBlock of dim channels under p, with
// stochastic-depth probability sd.
func newCNBlock(m *Model, p *nn.Path, dim int64, sd float64) (Module, error) {
	bp := p.Sub("block")
	dw, err := cnConv(bp.Sub("0"), dim, dim, 7, ConvOpts{Padding: []int64{3}, Groups: dim})
	if err != nil {
		return nil, err
	}
	ln, err := NewLayerNorm(bp.Sub("2"), []int64{dim}, 1e-6)
	if err != nil {
		return nil, err
	}
	fc1, err := NewLinear(bp.Sub("3"), dim, 4*dim, true, truncNormal{0.02})
	if err != nil {
		return nil, err
	}
	fc2, err := NewLinear(bp.Sub("5"), 4*dim, dim, true, truncNormal{0.02})
	if err != nil {
		return nil, err
	}
	scale, err := p.NewVar("layer_scale", []int64{dim, 1, 1}, constant(1e-6))
	if err != nil {
		return nil, err
	}
	layerScale := Func(func(x *ts.Tensor, _ bool) (*ts.Tensor, error) { return scale.Mul(x, false) })
	return Residual(Seq{dw, permute(0, 2, 3, 1), ln, fc1, GELU, fc2, permute(0, 3, 1, 2), layerScale, m.stochasticDepth(sd)}), nil
}

func buildConvNeXt(m *Model, p *nn.Path, setting []cnStage, sdProb float64) error {
	f := p.Sub("features")
	stemConv, err := cnConv(f.Sub("0").Sub("0"), 3, setting[0].in, 4, ConvOpts{Stride: []int64{4}})
	if err != nil {
		return err
	}
	stemNorm, err := newLayerNorm2d(f.Sub("0").Sub("1"), setting[0].in, 1e-6)
	if err != nil {
		return err
	}
	backbone := Seq{stemConv, stemNorm}
	stages := []Stage{{"stem", []string{"features.0."}}}
	total := 0
	for _, s := range setting {
		total += s.layers
	}
	idx, blockID := 1, 0
	for _, s := range setting {
		sp := f.Sub(fmt.Sprint(idx))
		stage := Stage{fmt.Sprintf("features.%d", idx), []string{fmt.Sprintf("features.%d.", idx)}}
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
			conv, err := cnConv(dp.Sub("1"), s.in, s.out, 2, ConvOpts{Stride: []int64{2}})
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
	backbone = append(backbone, AdaptiveAvgPool(1, 1), norm, Flatten)
	fc, err := NewLinear(cp.Sub("2"), last, int64(m.NumClasses), true, truncNormal{0.02})
	if err != nil {
		return err
	}
	m.Backbone, m.Head, m.FeatureDim = backbone, fc, int(last)
	m.HeadPrefixes = []string{"classifier.2."}
	m.Stages = append(stages, Stage{"head", []string{"classifier."}})
	return nil
}
