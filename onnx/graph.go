package onnx

import (
	"errors"
	"fmt"
	"runtime"
	"unsafe"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/gtl-dev/gtl/vision"
)

// graph collects nodes and constants as vision.Graph, and the static shapes
// it can work out (-1 for a dynamic dimension), which some modules need
// (adaptive pooling, reshapes).
type graph struct {
	nodes  []*node
	inits  []*tensor
	shapes map[string][]int64
	consts map[string][]int64 // int64 constants, for Reshape's shape
	// shapeOf maps a Shape node's output to its input.
	shapeOf map[string]string
	err     error
	n       int // names handed out
}

var _ vision.Graph = (*graph)(nil)

func newGraph() *graph {
	return &graph{shapes: map[string][]int64{}, consts: map[string][]int64{}, shapeOf: map[string]string{}}
}

func (g *graph) name(prefix string) string {
	g.n++
	return fmt.Sprintf("%s_%d", prefix, g.n)
}

// Fail records the first error.
func (g *graph) Fail(err error) {
	if g.err == nil {
		g.err = err
	}
}

// Op adds a one-output operator.
func (g *graph) Op(op string, inputs []string, attrs ...vision.Attr) string {
	return g.OpN(op, inputs, 1, attrs...)[0]
}

// OpN adds an operator with n outputs.
func (g *graph) OpN(op string, inputs []string, n int, attrs ...vision.Attr) []string {
	nd := &node{op: op, name: g.name(op), inputs: inputs}
	for _, a := range attrs {
		nd.attrs = append(nd.attrs, attr{name: a.Name, v: a.Value})
	}
	for i := 0; i < n; i++ {
		nd.outputs = append(nd.outputs, fmt.Sprintf("%s_out%d", nd.name, i))
	}
	g.nodes = append(g.nodes, nd)
	if op == "Shape" {
		g.shapeOf[nd.outputs[0]] = inputs[0]
	}
	for i, s := range inferShapes(g, nd) {
		if i < len(nd.outputs) && s != nil {
			g.shapes[nd.outputs[i]] = s
		}
	}
	return append([]string(nil), nd.outputs...) // the caller may reuse the slice
}

// Param adds a copy of t as a float32 constant.
func (g *graph) Param(t *ts.Tensor) string {
	name := g.name("param")
	dims, vals, err := float32Values(t)
	if err != nil {
		g.Fail(fmt.Errorf("read a parameter: %w", err))
		return name
	}
	g.inits = append(g.inits, floatTensor(name, dims, vals))
	g.shapes[name] = dims
	return name
}

// Floats adds a float32 constant.
func (g *graph) Floats(shape []int64, v ...float32) string {
	name := g.name("const")
	if shape == nil {
		shape = []int64{}
	}
	g.inits = append(g.inits, floatTensor(name, shape, v))
	g.shapes[name] = shape
	return name
}

// Ints adds a 1-D int64 constant.
func (g *graph) Ints(v ...int64) string {
	name := g.name("ints")
	g.inits = append(g.inits, int64Tensor(name, v))
	g.shapes[name] = []int64{int64(len(v))}
	g.consts[name] = v
	return name
}

// Shape returns v's static shape, or nil.
func (g *graph) Shape(v string) []int64 { return g.shapes[v] }

// float32Values copies t's elements (as float32, row-major) to Go memory.
func float32Values(t *ts.Tensor) ([]int64, []float32, error) {
	dims, err := t.Size()
	if err != nil {
		return nil, nil, err
	}
	c, err := t.To(gotch.CPU, false)
	if err != nil {
		return nil, nil, err
	}
	defer c.MustDrop()
	f, err := c.Totype(gotch.Float, false)
	if err != nil {
		return nil, nil, err
	}
	defer f.MustDrop()
	cc, err := f.Contiguous(false)
	if err != nil {
		return nil, nil, err
	}
	defer cc.MustDrop()
	n := int64(1)
	for _, d := range dims {
		n *= d
	}
	out := make([]float32, n)
	if n == 0 {
		return dims, out, nil
	}
	p, err := cc.DataPtr()
	if err != nil {
		return nil, nil, err
	}
	if p == nil {
		return nil, nil, errors.New("tensor has no data")
	}
	copy(out, unsafe.Slice((*float32)(p), n))
	runtime.KeepAlive(cc)
	return dims, out, nil
}

// inferShapes returns the static output shapes of nd where its inputs'
// shapes are known (nil entries where not): enough of ONNX's shape
// inference for the operators gtl's models use.
func inferShapes(g *graph, nd *node) [][]int64 {
	in := make([][]int64, len(nd.inputs))
	for i, x := range nd.inputs {
		in[i] = g.shapes[x]
	}
	if len(in) == 0 || in[0] == nil {
		return nil
	}
	x := in[0]
	ints := func(name string) []int64 {
		for _, a := range nd.attrs {
			if a.name == name {
				if v, ok := a.v.([]int64); ok {
					return v
				}
			}
		}
		return nil
	}
	intAttr := func(name string, def int64) int64 {
		for _, a := range nd.attrs {
			if a.name == name {
				if v, ok := a.v.(int64); ok {
					return v
				}
			}
		}
		return def
	}
	switch nd.op {
	case "Relu", "Clip", "Sigmoid", "HardSwish", "HardSigmoid", "Erf", "Identity", "BatchNormalization",
		"LayerNormalization", "Softmax", "Tanh", "Sqrt", "Neg":
		return [][]int64{x}
	case "Add", "Mul", "Sub", "Div", "Pow":
		if len(in) < 2 || in[1] == nil {
			return nil
		}
		return [][]int64{broadcast(x, in[1])}
	case "Conv", "MaxPool", "AveragePool":
		if len(x) != 4 {
			return nil
		}
		k, s, p, d := ints("kernel_shape"), ints("strides"), ints("pads"), ints("dilations")
		out := []int64{x[0], x[1], -1, -1}
		if nd.op == "Conv" {
			if len(in) < 2 || in[1] == nil {
				return nil
			}
			out[1] = in[1][0]
		}
		ceil := intAttr("ceil_mode", 0) == 1
		for i := 0; i < 2; i++ {
			if x[2+i] < 0 {
				continue
			}
			dil := int64(1)
			if d != nil {
				dil = d[i]
			}
			stride := int64(1)
			if s != nil {
				stride = s[i]
			}
			var pad int64
			if p != nil {
				pad = p[i] + p[i+2]
			}
			span := x[2+i] + pad - dil*(k[i]-1) - 1
			o := span/stride + 1
			if ceil && span%stride != 0 {
				o++
				// PyTorch and ONNX drop a last window that starts in the padding.
				if (o-1)*stride >= x[2+i]+p[i] {
					o--
				}
			}
			out[2+i] = o
		}
		return [][]int64{out}
	case "GlobalAveragePool":
		if len(x) != 4 {
			return nil
		}
		return [][]int64{{x[0], x[1], 1, 1}}
	case "Flatten":
		axis := intAttr("axis", 1)
		if axis < 0 {
			axis += int64(len(x))
		}
		a, b := int64(1), int64(1)
		for i, d := range x {
			if int64(i) < axis {
				a = mulDim(a, d)
			} else {
				b = mulDim(b, d)
			}
		}
		return [][]int64{{a, b}}
	case "MatMul":
		if len(in) < 2 || in[1] == nil || len(in[1]) < 2 || len(x) < 2 {
			return nil
		}
		out := append([]int64{}, x[:len(x)-1]...)
		if len(in[1]) > 2 && len(x) == len(in[1]) {
			out = broadcast(x[:len(x)-2], in[1][:len(in[1])-2])
			out = append(out, x[len(x)-2])
		}
		return [][]int64{append(out, in[1][len(in[1])-1])}
	case "Transpose":
		perm := ints("perm")
		if len(perm) != len(x) {
			return nil
		}
		out := make([]int64, len(x))
		for i, p := range perm {
			out[i] = x[p]
		}
		return [][]int64{out}
	case "Concat":
		axis := intAttr("axis", 0)
		if axis < 0 {
			axis += int64(len(x))
		}
		out := append([]int64{}, x...)
		for _, s := range in[1:] {
			if s == nil || len(s) != len(x) {
				return nil
			}
			out[axis] = addDim(out[axis], s[axis])
		}
		return [][]int64{out}
	case "Shape":
		return [][]int64{{int64(len(x))}}
	case "Reshape":
		if len(in) < 2 {
			return nil
		}
		if src, ok := g.shapeOf[nd.inputs[1]]; ok { // Reshape(t, Shape(src)): src's shape
			return [][]int64{g.shapes[src]}
		}
		shape, ok := g.consts[nd.inputs[1]]
		if !ok {
			return nil
		}
		out := append([]int64{}, shape...)
		known, unknownAt := int64(1), -1
		total := int64(1)
		for _, d := range x {
			total = mulDim(total, d)
		}
		for i, d := range out {
			switch {
			case d == 0:
				out[i] = x[i]
			case d == -1:
				unknownAt = i
				continue
			}
			known = mulDim(known, out[i])
		}
		if unknownAt >= 0 {
			if total > 0 && known > 0 {
				out[unknownAt] = total / known
			} else {
				out[unknownAt] = -1
			}
		}
		return [][]int64{out}
	case "Squeeze":
		axes, ok := g.consts[nd.inputs[len(nd.inputs)-1]]
		if !ok || len(nd.inputs) < 2 {
			return nil
		}
		drop := map[int64]bool{}
		for _, a := range axes {
			if a < 0 {
				a += int64(len(x))
			}
			drop[a] = true
		}
		var out []int64
		for i, d := range x {
			if !drop[int64(i)] {
				out = append(out, d)
			}
		}
		return [][]int64{out}
	case "Pad":
		pads, ok := g.consts[nd.inputs[1]]
		if !ok || len(pads) != 2*len(x) {
			return nil
		}
		out := append([]int64{}, x...)
		for i := range out {
			if out[i] >= 0 {
				out[i] += pads[i] + pads[i+len(x)]
			}
		}
		return [][]int64{out}
	case "Slice":
		if len(nd.inputs) < 4 {
			return nil
		}
		starts, ok1 := g.consts[nd.inputs[1]]
		ends, ok2 := g.consts[nd.inputs[2]]
		axes, ok3 := g.consts[nd.inputs[3]]
		if !ok1 || !ok2 || !ok3 {
			return nil
		}
		steps := make([]int64, len(axes))
		for i := range steps {
			steps[i] = 1
		}
		if len(nd.inputs) > 4 {
			if st, ok := g.consts[nd.inputs[4]]; ok {
				steps = st
			}
		}
		out := append([]int64{}, x...)
		for i, a := range axes {
			if a < 0 {
				a += int64(len(x))
			}
			d := x[a]
			if d < 0 {
				continue
			}
			b, e := min(max(starts[i], 0), d), min(max(ends[i], 0), d)
			if e <= b {
				out[a] = 0
			} else {
				out[a] = (e - b + steps[i] - 1) / steps[i]
			}
		}
		return [][]int64{out}
	case "Split":
		axis := intAttr("axis", 0)
		if axis < 0 {
			axis += int64(len(x))
		}
		sizes, ok := g.consts[nd.inputs[len(nd.inputs)-1]]
		if !ok || len(nd.inputs) < 2 {
			return nil
		}
		var outs [][]int64
		for _, s := range sizes {
			o := append([]int64{}, x...)
			o[axis] = s
			outs = append(outs, o)
		}
		return outs
	}
	return nil
}

// broadcast is numpy broadcasting of two static shapes (-1 stays dynamic).
func broadcast(a, b []int64) []int64 {
	if len(a) < len(b) {
		a, b = b, a
	}
	out := append([]int64{}, a...)
	off := len(a) - len(b)
	for i, d := range b {
		if out[off+i] == 1 {
			out[off+i] = d
		}
	}
	return out
}

func mulDim(a, b int64) int64 {
	if a < 0 || b < 0 {
		return -1
	}
	return a * b
}

func addDim(a, b int64) int64 {
	if a < 0 || b < 0 {
		return -1
	}
	return a + b
}
