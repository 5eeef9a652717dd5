package onnx

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/gtl-dev/gtl/vision"
	"github.com/gtl-dev/gtl/weights"
)

// DefaultOpset is the operator set Export targets unless told otherwise:
// 17, the newest that Debian's python3-onnx 1.12 checks, with IR version 8.
const DefaultOpset = 17

// MinOpset is the oldest operator set Export writes: HardSwish (MobileNetV3)
// and Clip with min/max inputs need 14.
const MinOpset = 14

// Options configure Export. Zero values mean the defaults.
type Options struct {
	// Opset is the ONNX operator set, MinOpset to DefaultOpset (default
	// DefaultOpset). Models with layer norm (ViT, Swin, ConvNeXt) need 17.
	Opset int
	// Size is the input height and width in pixels (default: the crop size
	// of Meta.Preprocess, the size the weights were trained and evaluated
	// at; without one the model's InputSize, 224 for most, 299 for
	// inception_v3).
	Size int
	// DynamicSize makes height and width symbolic ("height", "width")
	// instead of Size, for models whose graph does not depend on them
	// (convolutional networks with global pooling).
	DynamicSize bool
	// Meta holds the class names and the evaluation transform, written to
	// the model's metadata_props.
	Meta vision.CheckpointMeta
	// Producer is producer_version (gtl's version); optional.
	Producer string
}

// Input and output names of an exported graph.
const (
	InputName  = "input"  // float32 [batch, 3, height, width], normalised with mean/std
	OutputName = "logits" // float32 [batch, classes]
)

// opsetOf is the operator set that introduced the form of each operator
// Export writes that needs more than MinOpset.
var opsetOf = map[string]int{"LayerNormalization": 17}

// Export returns m's inference graph as an ONNX model (a serialised
// ModelProto): input "input" [batch, 3, H, W] (batch symbolic; H and W
// symbolic with DynamicSize, else Size), output "logits" [batch, classes],
// batch norm folded into the preceding convolutions, dropout removed, and
// the preprocessing and classes in metadata_props (see Metadata). It reads
// the weights, so it must run on a torch worker thread. An architecture
// with a part that has no ONNX form is an error naming both.
func Export(m *vision.Model, o Options) ([]byte, error) {
	if o.Opset == 0 {
		o.Opset = DefaultOpset
	}
	if o.Opset < MinOpset || o.Opset > DefaultOpset {
		return nil, fmt.Errorf("onnx: opset %d: want %d to %d", o.Opset, MinOpset, DefaultOpset)
	}
	if o.Size == 0 {
		o.Size = o.Meta.Preprocess.CropSize
	}
	if o.Size == 0 {
		o.Size = m.InputSize
	}
	if o.Size <= 0 {
		return nil, fmt.Errorf("onnx: input size %d: want a positive number of pixels", o.Size)
	}
	g := newGraph()
	in := &valueInfo{name: InputName, dims: []int64{-1, 3, int64(o.Size), int64(o.Size)}, names: []string{"batch", "", "height", "width"}}
	if o.DynamicSize {
		in.dims[2], in.dims[3] = -1, -1
	}
	g.shapes[InputName] = in.dims
	x := InputName
	if m.TransformInput {
		x = emitTransformInput(g, x)
	}
	var err error
	f, err := vision.Emit(g, m.Backbone, x)
	if err != nil {
		return nil, fmt.Errorf("onnx: %s backbone: %w", m.Arch, err)
	}
	y, err := vision.Emit(g, m.Head, f)
	if err != nil {
		return nil, fmt.Errorf("onnx: %s head: %w", m.Arch, err)
	}
	if g.err != nil {
		return nil, fmt.Errorf("onnx: %s: %w", m.Arch, g.err)
	}
	for _, n := range g.nodes {
		if v, ok := opsetOf[n.op]; ok && o.Opset < v {
			return nil, fmt.Errorf("onnx: %s: %s needs opset %d, asked for %d", m.Arch, n.op, v, o.Opset)
		}
	}
	// The output gets its own name through Identity (the head's last
	// value may be an input or an intermediate that other nodes read).
	g.nodes = append(g.nodes, &node{op: "Identity", name: "output", inputs: []string{y}, outputs: []string{OutputName}})
	md, err := Metadata(m, o.Meta)
	if err != nil {
		return nil, err
	}
	mp := &model{
		irVersion: 8, opset: int64(o.Opset), producer: "gtl", ver: o.Producer, graphName: m.Arch,
		docString: fmt.Sprintf("%s image classifier (%d classes) exported by gtl; input: RGB in [0,1] resized, centre-cropped and normalised as metadata_props say", m.Arch, m.NumClasses),
		nodes:     g.nodes, inits: g.inits, metadata: md,
		inputs:  []*valueInfo{in},
		outputs: []*valueInfo{{name: OutputName, dims: []int64{-1, int64(m.NumClasses)}, names: []string{"batch", ""}}},
	}
	return mp.marshal()
}

// WriteFile exports m (see Export) to path atomically. It must run on a
// torch worker thread.
func WriteFile(path string, m *vision.Model, o Options) error {
	b, err := Export(m, o)
	if err != nil {
		return err
	}
	if err := weights.WriteAtomic(path, func(w io.Writer) error { _, err := w.Write(b); return err }); err != nil {
		return fmt.Errorf("onnx: %s: %w", path, err)
	}
	return nil
}

// Metadata returns the metadata_props Export writes, so that a deployer
// needs nothing but the file: arch, num_classes, classes (a JSON array, in
// logit order), crop_size (the input's height and width), resize_size (the
// shorter side before the centre crop), interpolation, mean and std (JSON
// arrays, RGB, applied to pixels scaled to [0,1]), input_layout, and
// gtl_meta (gtl's whole description, as in a checkpoint's JSON).
func Metadata(m *vision.Model, meta vision.CheckpointMeta) ([][2]string, error) {
	meta.Arch, meta.NumClasses, meta.TransformInput = m.Arch, m.NumClasses, m.TransformInput
	if meta.Stages == nil {
		meta.Stages = m.Stages
	}
	whole, err := json.Marshal(meta)
	if err != nil {
		return nil, fmt.Errorf("onnx: %s metadata: %w", m.Arch, err)
	}
	classes := make([]string, len(meta.Classes))
	copy(classes, meta.Classes)
	cj, err := json.Marshal(classes)
	if err != nil {
		return nil, fmt.Errorf("onnx: %s classes: %w", m.Arch, err)
	}
	p := meta.Preprocess
	mean, _ := json.Marshal(p.Mean)
	std, _ := json.Marshal(p.Std)
	return [][2]string{
		{"arch", m.Arch},
		{"num_classes", fmt.Sprint(m.NumClasses)},
		{"classes", string(cj)},
		{"crop_size", fmt.Sprint(p.CropSize)},
		{"resize_size", fmt.Sprint(p.ResizeSize)},
		{"interpolation", p.Filter},
		{"mean", string(mean)},
		{"std", string(std)},
		{"input_layout", "NCHW float32 RGB: pixels/255, resized (shorter side to resize_size), centre-cropped to crop_size, then (x-mean)/std"},
		{vision.MetaKey, string(whole)},
	}, nil
}

// emitTransformInput writes inception_v3's input re-normalisation
// (vision.Model.TransformInput): x·(std/0.5) + (mean-0.5)/0.5 per channel.
func emitTransformInput(g *graph, x string) string {
	scale, shift := vision.TransformInputAffine()
	y := g.Op("Mul", []string{x, g.Floats([]int64{1, 3, 1, 1}, scale...)})
	return g.Op("Add", []string{y, g.Floats([]int64{1, 3, 1, 1}, shift...)})
}
