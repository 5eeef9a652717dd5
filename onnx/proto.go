package onnx

import (
	"encoding/binary"
	"fmt"
	"math"

	"google.golang.org/protobuf/encoding/protowire"
)

// The ONNX protobuf messages gtl writes, encoded field by field with
// protowire. Field numbers and enum values are those of onnx/onnx.proto
// (ONNX 1.12, IR version 8).

// Element types (TensorProto.DataType).
const (
	typeFloat = 1
	typeInt64 = 7
)

// Attribute types (AttributeProto.AttributeType).
const (
	attrFloat  = 1
	attrInt    = 2
	attrString = 3
	attrFloats = 6
	attrInts   = 7
)

// tensor is a TensorProto with its data as raw little-endian bytes.
type tensor struct {
	name     string
	dims     []int64
	dataType int32
	raw      []byte
}

func (t *tensor) marshal() []byte {
	var b []byte
	for _, d := range t.dims {
		b = protowire.AppendTag(b, 1, protowire.VarintType) // dims
		b = protowire.AppendVarint(b, uint64(d))
	}
	b = protowire.AppendTag(b, 2, protowire.VarintType) // data_type
	b = protowire.AppendVarint(b, uint64(t.dataType))
	b = appendString(b, 8, t.name)
	b = protowire.AppendTag(b, 9, protowire.BytesType) // raw_data
	return protowire.AppendBytes(b, t.raw)
}

func floatTensor(name string, dims []int64, v []float32) *tensor {
	raw := make([]byte, 4*len(v))
	for i, f := range v {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(f))
	}
	return &tensor{name: name, dims: dims, dataType: typeFloat, raw: raw}
}

func int64Tensor(name string, v []int64) *tensor {
	raw := make([]byte, 8*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint64(raw[8*i:], uint64(x))
	}
	return &tensor{name: name, dims: []int64{int64(len(v))}, dataType: typeInt64, raw: raw}
}

// node is a NodeProto.
type node struct {
	op, name        string
	inputs, outputs []string
	attrs           []attr
}

type attr struct {
	name string
	v    any
}

func (n *node) marshal() ([]byte, error) {
	var b []byte
	for _, in := range n.inputs {
		b = appendString(b, 1, in)
	}
	for _, out := range n.outputs {
		b = appendString(b, 2, out)
	}
	b = appendString(b, 3, n.name)
	b = appendString(b, 4, n.op)
	for _, a := range n.attrs {
		ab, err := a.marshal()
		if err != nil {
			return nil, fmt.Errorf("node %s (%s): %w", n.name, n.op, err)
		}
		b = protowire.AppendTag(b, 5, protowire.BytesType)
		b = protowire.AppendBytes(b, ab)
	}
	return b, nil
}

func (a attr) marshal() ([]byte, error) {
	b := appendString(nil, 1, a.name)
	var typ int
	switch v := a.v.(type) {
	case float32:
		typ = attrFloat
		b = protowire.AppendTag(b, 2, protowire.Fixed32Type)
		b = protowire.AppendFixed32(b, math.Float32bits(v))
	case int64:
		typ = attrInt
		b = protowire.AppendTag(b, 3, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(v))
	case int:
		typ = attrInt
		b = protowire.AppendTag(b, 3, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(int64(v)))
	case string:
		typ = attrString
		b = appendString(b, 4, v)
	case []float32:
		typ = attrFloats
		for _, f := range v {
			b = protowire.AppendTag(b, 7, protowire.Fixed32Type)
			b = protowire.AppendFixed32(b, math.Float32bits(f))
		}
	case []int64:
		typ = attrInts
		for _, x := range v {
			b = protowire.AppendTag(b, 8, protowire.VarintType)
			b = protowire.AppendVarint(b, uint64(x))
		}
	default:
		return nil, fmt.Errorf("attribute %s: unsupported value type %T", a.name, a.v)
	}
	b = protowire.AppendTag(b, 20, protowire.VarintType)
	return protowire.AppendVarint(b, uint64(typ)), nil
}

// valueInfo is a ValueInfoProto for a float tensor; a dimension is a
// number, or a symbolic name where dims holds -1 (names[i]).
type valueInfo struct {
	name  string
	dims  []int64
	names []string
}

func (v *valueInfo) marshal() []byte {
	var shape []byte
	for i, d := range v.dims {
		var dim []byte
		if d >= 0 {
			dim = protowire.AppendTag(dim, 1, protowire.VarintType)
			dim = protowire.AppendVarint(dim, uint64(d))
		} else {
			dim = appendString(dim, 2, v.names[i])
		}
		shape = protowire.AppendTag(shape, 1, protowire.BytesType)
		shape = protowire.AppendBytes(shape, dim)
	}
	tt := protowire.AppendTag(nil, 1, protowire.VarintType) // elem_type
	tt = protowire.AppendVarint(tt, typeFloat)
	tt = protowire.AppendTag(tt, 2, protowire.BytesType)
	tt = protowire.AppendBytes(tt, shape)
	typ := protowire.AppendTag(nil, 1, protowire.BytesType) // tensor_type
	typ = protowire.AppendBytes(typ, tt)
	b := appendString(nil, 1, v.name)
	b = protowire.AppendTag(b, 2, protowire.BytesType)
	return protowire.AppendBytes(b, typ)
}

// model is a ModelProto with one graph.
type model struct {
	irVersion, opset int64
	producer, ver    string
	docString        string
	graphName        string
	nodes            []*node
	inits            []*tensor
	inputs, outputs  []*valueInfo
	metadata         [][2]string
}

func (m *model) marshal() ([]byte, error) {
	var g []byte
	for _, n := range m.nodes {
		nb, err := n.marshal()
		if err != nil {
			return nil, err
		}
		g = protowire.AppendTag(g, 1, protowire.BytesType)
		g = protowire.AppendBytes(g, nb)
	}
	g = appendString(g, 2, m.graphName)
	for _, t := range m.inits {
		g = protowire.AppendTag(g, 5, protowire.BytesType)
		g = protowire.AppendBytes(g, t.marshal())
	}
	for _, v := range m.inputs {
		g = protowire.AppendTag(g, 11, protowire.BytesType)
		g = protowire.AppendBytes(g, v.marshal())
	}
	for _, v := range m.outputs {
		g = protowire.AppendTag(g, 12, protowire.BytesType)
		g = protowire.AppendBytes(g, v.marshal())
	}

	b := protowire.AppendTag(nil, 1, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(m.irVersion))
	b = appendString(b, 2, m.producer)
	b = appendString(b, 3, m.ver)
	b = appendString(b, 6, m.docString)
	b = protowire.AppendTag(b, 7, protowire.BytesType)
	b = protowire.AppendBytes(b, g)
	opset := appendString(nil, 1, "") // default domain (ai.onnx)
	opset = protowire.AppendTag(opset, 2, protowire.VarintType)
	opset = protowire.AppendVarint(opset, uint64(m.opset))
	b = protowire.AppendTag(b, 8, protowire.BytesType)
	b = protowire.AppendBytes(b, opset)
	for _, kv := range m.metadata {
		e := appendString(nil, 1, kv[0])
		e = appendString(e, 2, kv[1])
		b = protowire.AppendTag(b, 14, protowire.BytesType)
		b = protowire.AppendBytes(b, e)
	}
	return b, nil
}

func appendString(b []byte, field protowire.Number, s string) []byte {
	b = protowire.AppendTag(b, field, protowire.BytesType)
	return protowire.AppendString(b, s)
}
