package vision

import (
	"fmt"
	"math"
	"strings"
	"sync"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"

	"github.com/gtl-dev/gtl/torch"
)

// Module is one part of a network. Forward keeps x and returns a new tensor
// that the caller owns. train selects training behaviour (batch statistics,
// dropout).
type Module interface {
	Forward(x *ts.Tensor, train bool) (*ts.Tensor, error)
}

// Func adapts a function to Module.
type Func func(x *ts.Tensor, train bool) (*ts.Tensor, error)

// Forward calls f.
func (f Func) Forward(x *ts.Tensor, train bool) (*ts.Tensor, error) { return f(x, train) }

// Stateless is a Func without parameters and without randomness (pooling,
// activations, reshapes): the same input gives the same output in training
// and in evaluation. FrozenPrefix may cache what it computes; a plain Func
// may hide parameters or random ops, so FrozenPrefix stops at one.
type Stateless func(x *ts.Tensor, train bool) (*ts.Tensor, error)

// Forward calls f.
func (f Stateless) Forward(x *ts.Tensor, train bool) (*ts.Tensor, error) { return f(x, train) }

// Parent is a module made of other modules (a residual block, say):
// Children lists every module its Forward runs (nil entries are skipped),
// so that FrozenPrefix can check all of its parameters and random ops.
type Parent interface {
	Module
	Children() []Module
}

// Seq runs modules one after another, freeing each intermediate result.
type Seq []Module

// Forward runs the modules in order.
func (s Seq) Forward(x *ts.Tensor, train bool) (*ts.Tensor, error) {
	h := x
	for i := 0; i < len(s); i++ {
		m := s[i]
		if c, ok := m.(*Conv2d); ok && i+1 < len(s) {
			if bn, ok := s[i+1].(*BatchNorm2d); ok && canFold(c, bn, train) {
				// Convolution + batch norm with running statistics: one
				// convolution with folded parameters (see bnFold).
				out, err := bn.forwardFolded(c, h)
				if h != x {
					h.MustDrop()
				}
				if err != nil {
					return nil, fmt.Errorf("[%d]: %w", i, err)
				}
				h = out
				i++
				continue
			}
		}
		if ip, ok := m.(inPlacer); ok && h != x {
			// h is Seq's own intermediate: overwrite it instead of
			// allocating another activation-sized tensor.
			if err := ip.forwardInPlace(h); err != nil {
				h.MustDrop()
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
			continue
		}
		out, err := m.Forward(h, train)
		if h != x {
			h.MustDrop()
		}
		if err != nil {
			return nil, fmt.Errorf("[%d]: %w", i, err)
		}
		h = out
	}
	if h == x { // empty sequence: still hand back a tensor the caller owns
		return x.ShallowClone()
	}
	return h, nil
}

// Identity returns x unchanged (a new handle to the same data).
var Identity = Symbolic{
	F: func(x *ts.Tensor, _ bool) (*ts.Tensor, error) { return x.ShallowClone() },
	E: func(_ Graph, x string) (string, error) { return x, nil },
}

// inPlacer is a module that can also overwrite a tensor its caller owns
// and no one else uses (Seq's intermediates), as torchvision's
// inplace=True activations do, saving an allocation per layer.
type inPlacer interface {
	Module
	forwardInPlace(x *ts.Tensor) error
}

// inPlaceAct is an elementwise activation with an in-place form.
type inPlaceAct struct {
	f       Func
	inPlace func(*ts.Tensor) error
	emit    func(Graph, string) (string, error)
}

// Forward keeps x and returns the activation in a new tensor.
func (a inPlaceAct) Forward(x *ts.Tensor, train bool) (*ts.Tensor, error) { return a.f(x, train) }

func (a inPlaceAct) forwardInPlace(x *ts.Tensor) error { return a.inPlace(x) }

// Activation functions as modules. ReLU and ReLU6 work in place on Seq's
// intermediates (as torchvision's ReLU(inplace=True)); given a tensor that
// the caller owns, they never change it. Each has an ONNX form (Emitter).
var (
	ReLU = inPlaceAct{
		f:       func(x *ts.Tensor, _ bool) (*ts.Tensor, error) { return x.Relu(false) },
		inPlace: torch.ReLUInPlace,
		emit:    emitOp("Relu"),
	}
	ReLU6 = inPlaceAct{
		f:       func(x *ts.Tensor, _ bool) (*ts.Tensor, error) { return x.Relu6(false) },
		inPlace: torch.ReLU6InPlace,
		emit: func(g Graph, x string) (string, error) {
			return g.Op("Clip", []string{x, g.Floats(nil, 0), g.Floats(nil, 6)}), nil
		},
	}
	SiLU = Symbolic{
		F: func(x *ts.Tensor, _ bool) (*ts.Tensor, error) { return x.Silu(false) },
		E: func(g Graph, x string) (string, error) { return EmitSiLU(g, x), nil },
	}
	Hardswish = Symbolic{
		F: func(x *ts.Tensor, _ bool) (*ts.Tensor, error) { return x.Hardswish(false) },
		E: emitOp("HardSwish"),
	}
	Sigmoid = Symbolic{
		F: func(x *ts.Tensor, _ bool) (*ts.Tensor, error) { return x.Sigmoid(false) },
		E: emitOp("Sigmoid"),
	}
	// Hardsig is PyTorch's hardsigmoid, relu6(x+3)/6: ONNX HardSigmoid
	// with alpha 1/6, beta 1/2.
	Hardsig = Symbolic{
		F: func(x *ts.Tensor, _ bool) (*ts.Tensor, error) { return x.Hardsigmoid(false) },
		E: emitOp("HardSigmoid", A("alpha", float32(1.0/6)), A("beta", float32(0.5))),
	}
	GELU = Symbolic{
		F: func(x *ts.Tensor, _ bool) (*ts.Tensor, error) { return x.Gelu("none", false) },
		E: func(g Graph, x string) (string, error) { return EmitGELU(g, x), nil },
	}
	// Flatten turns [N, C, H, W] into [N, C*H*W].
	Flatten = Symbolic{
		F: func(x *ts.Tensor, _ bool) (*ts.Tensor, error) { return x.Flatten(1, -1, false) },
		E: emitOp("Flatten", A("axis", int64(1))),
	}
)

// MaxPool returns a 2-D max pooling module.
func MaxPool(k, stride, pad int64, ceil bool) Module {
	return Symbolic{
		F: func(x *ts.Tensor, _ bool) (*ts.Tensor, error) {
			return x.MaxPool2d([]int64{k, k}, []int64{stride, stride}, []int64{pad, pad}, []int64{1, 1}, ceil, false)
		},
		E: emitOp("MaxPool", A("kernel_shape", []int64{k, k}), A("strides", []int64{stride, stride}),
			A("pads", []int64{pad, pad, pad, pad}), A("ceil_mode", boolInt(ceil))),
	}
}

// AvgPool returns a 2-D average pooling module (padding counted, as PyTorch).
func AvgPool(k, stride, pad int64, ceil bool) Module {
	return Symbolic{
		F: func(x *ts.Tensor, _ bool) (*ts.Tensor, error) {
			return x.AvgPool2d([]int64{k, k}, []int64{stride, stride}, []int64{pad, pad}, ceil, true, nil, false)
		},
		E: emitOp("AveragePool", A("kernel_shape", []int64{k, k}), A("strides", []int64{stride, stride}),
			A("pads", []int64{pad, pad, pad, pad}), A("ceil_mode", boolInt(ceil)), A("count_include_pad", int64(1))),
	}
}

// AdaptiveAvgPool returns a module that averages each channel to an h×w grid.
func AdaptiveAvgPool(h, w int64) Module {
	return Symbolic{
		F: func(x *ts.Tensor, _ bool) (*ts.Tensor, error) { return x.AdaptiveAvgPool2d([]int64{h, w}, false) },
		E: func(g Graph, x string) (string, error) { return emitAdaptiveAvgPool(g, x, h, w) },
	}
}

// GlobalAvgPool averages each channel over space and flattens: [N, C, H, W] -> [N, C].
var GlobalAvgPool = Symbolic{
	F: func(x *ts.Tensor, _ bool) (*ts.Tensor, error) {
		if torch.IsMkldnn(x) { // the oneDNN inference path (infer.go)
			return torch.MkldnnGlobalAvgPool(x)
		}
		return x.MeanDim([]int64{2, 3}, false, gotch.Float, false)
	},
	E: func(g Graph, x string) (string, error) {
		return g.Op("Flatten", []string{g.Op("GlobalAveragePool", []string{x})}, A("axis", int64(1))), nil
	},
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// Pair expands a size given as one or two values ([k] → [k, k]; none → [def,
// def]) into [h, w], as torch.nn.modules.utils._pair does.
func Pair(v []int64, def int64) []int64 {
	switch len(v) {
	case 0:
		return []int64{def, def}
	case 1:
		return []int64{v[0], v[0]}
	default:
		return v[:2]
	}
}

// ConvOpts configures a Conv2d. Zero values mean stride 1, padding 0,
// dilation 1, groups 1, no bias, PyTorch's default initialisation.
type ConvOpts struct {
	Stride, Padding, Dilation []int64 // one value (square) or two (h, w)
	Groups                    int64
	Bias                      bool
	Init                      nn.Init // weight initialisation; nil: PyTorch's default
}

// Conv2d is a 2-D convolution with torchvision's parameter names
// ("weight", "bias").
type Conv2d struct {
	W, B                      *ts.Tensor // B is nil without bias
	stride, padding, dilation []int64
	groups                    int64
}

// NewConv2d creates a convolution's parameters under p: in and out
// channels, kernel size k (one value or two).
func NewConv2d(p *nn.Path, in, out int64, k []int64, o ConvOpts) (*Conv2d, error) {
	if o.Groups == 0 {
		o.Groups = 1
	}
	kk := Pair(k, 1)
	if in%o.Groups != 0 || out%o.Groups != 0 {
		return nil, fmt.Errorf("vision: conv %s: %d→%d channels not divisible into %d groups", p.Paths(), in, out, o.Groups)
	}
	fanIn := float64(in / o.Groups * kk[0] * kk[1])
	bound := 1 / math.Sqrt(fanIn) // PyTorch: kaiming_uniform(a=√5) for weight, U(±1/√fan_in) for bias
	init := o.Init
	if init == nil {
		init = uniformInit{-bound, bound}
	}
	c := &Conv2d{stride: Pair(o.Stride, 1), padding: Pair(o.Padding, 0), dilation: Pair(o.Dilation, 1), groups: o.Groups}
	var err error
	if c.W, err = p.NewVar("weight", []int64{out, in / o.Groups, kk[0], kk[1]}, init); err != nil {
		return nil, err
	}
	if o.Bias {
		binit := nn.Init(uniformInit{-bound, bound})
		if o.Init != nil {
			binit = nn.NewConstInit(0)
		}
		if c.B, err = p.NewVar("bias", []int64{out}, binit); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// Forward convolves x.
func (c *Conv2d) Forward(x *ts.Tensor, _ bool) (*ts.Tensor, error) {
	b := c.B
	if b == nil {
		b = ts.NewTensor() // undefined tensor: no bias
	}
	return ts.Conv2d(x, c.W, b, c.stride, c.padding, c.dilation, c.groups)
}

// BatchNorm2d is batch normalisation with torchvision's parameter and buffer
// names: weight, bias, running_mean, running_var, num_batches_tracked.
type BatchNorm2d struct {
	W, B, RunningMean, RunningVar, NumBatches *ts.Tensor
	Eps, Momentum                             float64
	// Frozen makes the layer normalise with its running statistics and
	// leave them unchanged, also in training mode (a frozen stage's batch
	// norm, as Keras does for fine-tuning).
	Frozen  bool
	name    string // state-dict prefix, e.g. "layer1.0.bn1"
	updates uint64 // training-mode forwards: running statistics changed
	fold    bnFold // folded copy of the preceding convolution, for evaluation
}

// NewBatchNorm2d creates a batch norm over c channels under p, initialised as
// torchvision does (weight 1, bias 0, mean 0, variance 1).
func NewBatchNorm2d(p *nn.Path, c int64, eps, momentum float64) (*BatchNorm2d, error) {
	bn := &BatchNorm2d{Eps: eps, Momentum: momentum, name: strings.Join(p.Paths(), ".")}
	building.add(bn)
	var err error
	if bn.W, err = p.NewVar("weight", []int64{c}, nn.NewConstInit(1)); err != nil {
		return nil, err
	}
	if bn.B, err = p.NewVar("bias", []int64{c}, nn.NewConstInit(0)); err != nil {
		return nil, err
	}
	if bn.RunningMean, err = buffer(p, "running_mean", []int64{c}, 0, gotch.Float); err != nil {
		return nil, err
	}
	if bn.RunningVar, err = buffer(p, "running_var", []int64{c}, 1, gotch.Float); err != nil {
		return nil, err
	}
	if bn.NumBatches, err = buffer(p, "num_batches_tracked", []int64{}, 0, gotch.Int64); err != nil {
		return nil, err
	}
	return bn, nil
}

// buffer adds a non-trainable tensor filled with v under p.
func buffer(p *nn.Path, name string, dims []int64, v float64, dtype gotch.DType) (*ts.Tensor, error) {
	shape := dims
	if len(dims) == 0 {
		shape = []int64{1} // gotch's generated ops cannot take an empty shape
	}
	t, err := ts.Full(shape, ts.FloatScalar(v), dtype, p.Device())
	if err == nil && len(dims) == 0 {
		t, err = t.Squeeze(true) // 0-dimensional, as torchvision's num_batches_tracked
	}
	if err != nil {
		return nil, fmt.Errorf("vision: buffer %s: %w", name, err)
	}
	defer t.MustDrop()
	return p.Add(name, t, false)
}

// Forward normalises x with batch statistics when train is set (updating
// the running statistics and num_batches_tracked), else with the running ones.
func (bn *BatchNorm2d) Forward(x *ts.Tensor, train bool) (*ts.Tensor, error) {
	train = train && !bn.Frozen
	out, err := ts.BatchNorm(x, bn.W, bn.B, bn.RunningMean, bn.RunningVar, train, bn.Momentum, bn.Eps, true)
	if err != nil || !train {
		return out, err
	}
	bn.updates++
	// num_batches_tracked += 1, through copy_ (gotch's generated in-place ops leak).
	n, err := bn.NumBatches.AddScalar(ts.IntScalar(1), false)
	if err != nil {
		out.MustDrop()
		return nil, err
	}
	bn.NumBatches.Copy_(n)
	n.MustDrop()
	return out, nil
}

// Linear is a fully connected layer with torchvision's names (weight
// [out, in], bias [out]).
type Linear struct {
	W, B *ts.Tensor
}

// NewLinear creates a linear layer under p with PyTorch's default
// initialisation (weight and bias U(±1/√in)), or wInit for the weight and
// zero bias when wInit is not nil.
func NewLinear(p *nn.Path, in, out int64, bias bool, wInit nn.Init) (*Linear, error) {
	bound := 1 / math.Sqrt(float64(in))
	l := &Linear{}
	winit, binit := wInit, nn.Init(uniformInit{-bound, bound})
	if winit == nil {
		winit = uniformInit{-bound, bound}
	} else {
		binit = nn.NewConstInit(0)
	}
	var err error
	if l.W, err = p.NewVar("weight", []int64{out, in}, winit); err != nil {
		return nil, err
	}
	if bias {
		if l.B, err = p.NewVar("bias", []int64{out}, binit); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// Forward computes x·Wᵀ + b.
func (l *Linear) Forward(x *ts.Tensor, _ bool) (*ts.Tensor, error) {
	b := l.B
	if b == nil {
		b = ts.NewTensor()
	}
	return ts.Linear(x, l.W, b)
}

// LayerNorm normalises over the last len(Shape) dimensions (names weight,
// bias).
type LayerNorm struct {
	W, B  *ts.Tensor
	Shape []int64
	Eps   float64
}

// NewLayerNorm creates a layer norm over shape under p (weight 1, bias 0).
func NewLayerNorm(p *nn.Path, shape []int64, eps float64) (*LayerNorm, error) {
	ln := &LayerNorm{Shape: shape, Eps: eps}
	var err error
	if ln.W, err = p.NewVar("weight", shape, nn.NewConstInit(1)); err != nil {
		return nil, err
	}
	if ln.B, err = p.NewVar("bias", shape, nn.NewConstInit(0)); err != nil {
		return nil, err
	}
	return ln, nil
}

// Forward normalises x.
func (ln *LayerNorm) Forward(x *ts.Tensor, _ bool) (*ts.Tensor, error) {
	return ts.LayerNorm(x, ln.Shape, ln.W, ln.B, ln.Eps, true)
}

// Dropout zeroes elements with probability P in training; Off (shared by a
// model, see Model.NoDropout) turns it into the identity, for deterministic
// training-mode checks.
type Dropout struct {
	P   float64
	Off *bool
}

// Forward applies dropout when training.
func (d Dropout) Forward(x *ts.Tensor, train bool) (*ts.Tensor, error) {
	if !train || d.P == 0 || (d.Off != nil && *d.Off) {
		return x.ShallowClone()
	}
	return ts.Dropout(x, d.P, true)
}

// StochasticDepth drops whole samples of a residual branch with probability
// P in training, scaling the survivors by 1/(1-P) (torchvision's "row" mode).
type StochasticDepth struct {
	P   float64
	Off *bool
}

// Forward applies stochastic depth when training.
func (s StochasticDepth) Forward(x *ts.Tensor, train bool) (*ts.Tensor, error) {
	if !train || s.P == 0 || (s.Off != nil && *s.Off) {
		return x.ShallowClone()
	}
	size, err := x.Size()
	if err != nil {
		return nil, err
	}
	shape := make([]int64, len(size))
	shape[0] = size[0]
	for i := 1; i < len(shape); i++ {
		shape[i] = 1
	}
	keep := 1 - s.P
	noise, err := ts.Empty(shape, x.DType(), x.MustDevice())
	if err != nil {
		return nil, err
	}
	mask, err := noise.BernoulliP(keep, true)
	if err != nil {
		return nil, err
	}
	scaled, err := mask.DivScalar(ts.FloatScalar(keep), true)
	if err != nil {
		return nil, err
	}
	defer scaled.MustDrop()
	return x.Mul(scaled, false)
}

// Residual returns x + f(x).
func Residual(f Module) Module { return residual{f} }

type residual struct{ f Module }

// Children returns the residual branch.
func (r residual) Children() []Module { return []Module{r.f} }

// Forward returns x + f(x).
func (r residual) Forward(x *ts.Tensor, train bool) (*ts.Tensor, error) {
	y, err := r.f.Forward(x, train)
	if err != nil {
		return nil, err
	}
	if !torch.GradEnabled() {
		// No autograd (evaluation): y is f's own result, so add in
		// place and save an activation-sized allocation. With autograd
		// f's last op may have saved y for its backward.
		if err := torch.AddInPlace(y, x); err != nil {
			y.MustDrop()
			return nil, err
		}
		return y, nil
	}
	return y.Add(x, true)
}

// building collects the batch-norm layers created while New builds a
// model, so that the model can freeze them by stage.
var building buildContext

type buildContext struct {
	mu  sync.Mutex // held by New for the whole build
	bns *[]*BatchNorm2d
}

func (b *buildContext) add(bn *BatchNorm2d) {
	if b.bns != nil {
		*b.bns = append(*b.bns, bn)
	}
}
