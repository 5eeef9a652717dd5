// Package onnx writes gtl's image classifiers as ONNX models
// (https://onnx.ai): the inference graph (batch norm folded into the
// convolutions, dropout removed), a dynamic batch axis, optionally dynamic
// height and width, and the preprocessing and class names in
// metadata_props, so that ONNX Runtime or any other ONNX consumer needs
// nothing else.
//
// The protobuf is written from Go with google.golang.org/protobuf's
// protowire, field by field as onnx/onnx.proto numbers them; no Python runs
// at export time. The graph comes from the model's own modules: each of
// vision's building blocks and each model's custom block has an Emit method
// (vision.Emitter) next to its Forward, so that the two change together.
// Operators that opset 17 lacks are composed from basic ones: GELU from Erf,
// SiLU as x·σ(x), attention from MatMul and Softmax.
//
//	err := torch.Do(func() error {
//		return onnx.WriteFile("model.onnx", m, onnx.Options{Meta: meta})
//	})
//
// Imports flow one way: cmd/gtl → onnx → vision → gotch.
package onnx
