package vision

import (
	"fmt"
	"math"

	"github.com/sugarme/gotch/ts"

	"github.com/gtl-dev/gtl/torch"
)

// Graph receives a module's inference computation as ONNX operators
// (https://onnx.ai/onnx/operators/, default domain); package onnx
// implements it and writes the model file. Values are tensor names in the
// graph. Methods never fail: an implementation records the first error
// (Param reading a tensor, say) and the export returns it.
type Graph interface {
	// Op adds the operator op on inputs ("" is an omitted optional input)
	// and returns the name of its output.
	Op(op string, inputs []string, attrs ...Attr) string
	// OpN adds an operator with n outputs and returns their names.
	OpN(op string, inputs []string, n int, attrs ...Attr) []string
	// Param adds a copy of t's values (as float32) as a constant and
	// returns its name. t stays the caller's.
	Param(t *ts.Tensor) string
	// Floats adds a float32 constant of the given shape ([] for a scalar).
	Floats(shape []int64, v ...float32) string
	// Ints adds a 1-D int64 constant (shapes, axes, split sizes).
	Ints(v ...int64) string
	// Shape returns v's static shape where the graph knows it, with -1
	// for a dynamic dimension (the batch), or nil.
	Shape(v string) []int64
	// Fail records err (the first one wins).
	Fail(err error)
}

// Attr is one attribute of an ONNX operator: Value is an int64, float32,
// string, []int64 or []float32.
type Attr struct {
	Name  string
	Value any
}

// A returns the attribute name = v (see Attr for the types).
func A(name string, v any) Attr { return Attr{Name: name, Value: v} }

// Emitter is a module with an ONNX form: Emit writes the module's
// inference (evaluation-mode) computation on x into g and returns the
// output's name. Dropout and stochastic depth are the identity there, batch
// norm uses its running statistics (folded into the preceding convolution
// inside a Seq, as the evaluation forward does).
type Emitter interface {
	Emit(g Graph, x string) (string, error)
}

// Emit writes m's inference computation on x into g (see Emitter). A module
// without an ONNX form is an error naming its Go type.
func Emit(g Graph, m Module, x string) (string, error) {
	e, ok := m.(Emitter)
	if !ok {
		return "", fmt.Errorf("%T has no ONNX form", m)
	}
	return e.Emit(g, x)
}

// Symbolic is a parameter-free module with an ONNX form: F computes it on
// tensors and E writes the same computation into a Graph. Both are written
// side by side so that they change together.
type Symbolic struct {
	F Stateless
	E func(g Graph, x string) (string, error)
}

// Forward calls F.
func (s Symbolic) Forward(x *ts.Tensor, train bool) (*ts.Tensor, error) { return s.F(x, train) }

// Emit calls E.
func (s Symbolic) Emit(g Graph, x string) (string, error) { return s.E(g, x) }

// Emit writes the modules in order; a convolution followed by a batch norm
// becomes one convolution with folded parameters, as in Forward.
func (s Seq) Emit(g Graph, x string) (string, error) {
	h := x
	for i := 0; i < len(s); i++ {
		if c, ok := s[i].(*Conv2d); ok && i+1 < len(s) {
			if bn, ok := s[i+1].(*BatchNorm2d); ok {
				var w, b *ts.Tensor
				err := torch.WithoutGrad(func() error {
					var err error
					w, b, err = foldConvBN(c, bn)
					return err
				})
				if err != nil {
					return "", fmt.Errorf("[%d]: fold %s: %w", i, bn.name, err)
				}
				h = c.emitWith(g, h, w, b)
				w.MustDrop()
				b.MustDrop()
				i++
				continue
			}
		}
		out, err := Emit(g, s[i], h)
		if err != nil {
			return "", fmt.Errorf("[%d]: %w", i, err)
		}
		h = out
	}
	return h, nil
}

// Emit writes a Conv.
func (c *Conv2d) Emit(g Graph, x string) (string, error) { return c.emitWith(g, x, c.W, c.B), nil }

// emitWith writes a Conv with c's geometry and the given weight and bias
// (b may be nil).
func (c *Conv2d) emitWith(g Graph, x string, w, b *ts.Tensor) string {
	in := []string{x, g.Param(w)}
	if b != nil {
		in = append(in, g.Param(b))
	}
	k := w.MustSize()
	return g.Op("Conv", in, A("kernel_shape", k[2:]), A("strides", c.stride),
		A("pads", []int64{c.padding[0], c.padding[1], c.padding[0], c.padding[1]}),
		A("dilations", c.dilation), A("group", c.groups))
}

// Emit writes a BatchNormalization with the running statistics.
func (bn *BatchNorm2d) Emit(g Graph, x string) (string, error) {
	return g.Op("BatchNormalization", []string{x, g.Param(bn.W), g.Param(bn.B), g.Param(bn.RunningMean), g.Param(bn.RunningVar)},
		A("epsilon", float32(bn.Eps))), nil
}

// Emit writes x·Wᵀ + b as MatMul and Add (any input rank, as Forward).
func (l *Linear) Emit(g Graph, x string) (string, error) {
	var wt *ts.Tensor
	err := torch.WithoutGrad(func() error {
		var err error
		wt, err = l.W.Transpose(0, 1, false)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("linear: %w", err)
	}
	y := g.Op("MatMul", []string{x, g.Param(wt)})
	wt.MustDrop()
	if l.B != nil {
		y = g.Op("Add", []string{y, g.Param(l.B)})
	}
	return y, nil
}

// Emit writes a LayerNormalization over the last len(Shape) axes (opset 17).
func (ln *LayerNorm) Emit(g Graph, x string) (string, error) {
	return g.Op("LayerNormalization", []string{x, g.Param(ln.W), g.Param(ln.B)},
		A("axis", int64(-len(ln.Shape))), A("epsilon", float32(ln.Eps))), nil
}

// Emit is the identity: dropout is off in inference.
func (d Dropout) Emit(_ Graph, x string) (string, error) { return x, nil }

// Emit is the identity: stochastic depth is off in inference.
func (s StochasticDepth) Emit(_ Graph, x string) (string, error) { return x, nil }

// Emit writes x + f(x).
func (r residual) Emit(g Graph, x string) (string, error) {
	y, err := Emit(g, r.f, x)
	if err != nil {
		return "", err
	}
	return g.Op("Add", []string{x, y}), nil
}

// Emit writes the activation.
func (a inPlaceAct) Emit(g Graph, x string) (string, error) { return a.emit(g, x) }

// EmitGELU writes the exact GELU, x·½·(1 + erf(x/√2)), from basic
// operators (ONNX has Gelu only from opset 20).
func EmitGELU(g Graph, x string) string {
	e := g.Op("Erf", []string{g.Op("Mul", []string{x, g.Floats(nil, float32(1/math.Sqrt2))})})
	h := g.Op("Add", []string{e, g.Floats(nil, 1)})
	return g.Op("Mul", []string{g.Op("Mul", []string{x, h}), g.Floats(nil, 0.5)})
}

// EmitSiLU writes x·σ(x) (ONNX has no SiLU operator).
func EmitSiLU(g Graph, x string) string {
	return g.Op("Mul", []string{x, g.Op("Sigmoid", []string{x})})
}

func emitOp(op string, attrs ...Attr) func(Graph, string) (string, error) {
	return func(g Graph, x string) (string, error) { return g.Op(op, []string{x}, attrs...), nil }
}

// emitAdaptiveAvgPool writes adaptive average pooling to h×w: a global
// average for 1×1, else an AveragePool whose windows PyTorch's adaptive
// pooling uses when the static input size is a multiple of the output size
// (the identity when they are equal).
func emitAdaptiveAvgPool(g Graph, x string, h, w int64) (string, error) {
	if h == 1 && w == 1 {
		return g.Op("GlobalAveragePool", []string{x}), nil
	}
	s := g.Shape(x)
	if len(s) != 4 || s[2] <= 0 || s[3] <= 0 {
		return "", fmt.Errorf("adaptive average pooling to %d×%d needs a static input size", h, w)
	}
	if s[2]%h != 0 || s[3]%w != 0 {
		return "", fmt.Errorf("adaptive average pooling from %d×%d to %d×%d: input not a multiple of the output", s[2], s[3], h, w)
	}
	if s[2] == h && s[3] == w {
		return x, nil
	}
	kh, kw := s[2]/h, s[3]/w
	return g.Op("AveragePool", []string{x}, A("kernel_shape", []int64{kh, kw}), A("strides", []int64{kh, kw})), nil
}
