package models

import (
	"fmt"
	"math"

	"github.com/gtl-dev/gtl/vision"
	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"
)

// Vision Transformer, as torchvision.models.vision_transformer defines it
// (0.14 names: the MLP block's Linear layers are mlp.0 and mlp.3): a
// patchify convolution, a class token, learned position embeddings, pre-norm
// encoder blocks (multi-head self-attention, GELU MLP) and a final layer
// norm; the class token's features feed the head. vit_b_16 has dropout and
// attention dropout 0, so no dropout layers are built. The image size is
// fixed at 224 (the position embeddings have 14·14+1 entries).

func init() {
	vision.Register(vision.Spec{Name: "vit_b_16", Family: "vit", InputSize: 224, Build: func(m *vision.Model, p *nn.Path) error {
		return buildViT(m, p, vitConfig{image: 224, patch: 16, layers: 12, heads: 12, hidden: 768, mlp: 3072})
	}})
	vision.Register(vision.Spec{Name: "vit_b_32", Family: "vit", InputSize: 224, Build: func(m *vision.Model, p *nn.Path) error {
		return buildViT(m, p, vitConfig{image: 224, patch: 32, layers: 12, heads: 12, hidden: 768, mlp: 3072})
	}})
	vision.Register(vision.Spec{Name: "vit_l_16", Family: "vit", InputSize: 224, Build: func(m *vision.Model, p *nn.Path) error {
		return buildViT(m, p, vitConfig{image: 224, patch: 16, layers: 24, heads: 16, hidden: 1024, mlp: 4096})
	}})
	vision.Register(vision.Spec{Name: "vit_l_32", Family: "vit", InputSize: 224, Build: func(m *vision.Model, p *nn.Path) error {
		return buildViT(m, p, vitConfig{image: 224, patch: 32, layers: 24, heads: 16, hidden: 1024, mlp: 4096})
	}})
}

type vitConfig struct {
	image, patch, layers, heads, hidden, mlp int64
}

// xavierUniform is torch.nn.init.xavier_uniform_ for a [out, in] matrix.
func xavierUniform(out, in int64) nn.Init {
	return vision.Uniform(math.Sqrt(6 / float64(in+out)))
}

// newLinearWith creates a Linear with the given weight and bias initialisers.
func newLinearWith(p *nn.Path, in, out int64, wInit, bInit nn.Init) (*vision.Linear, error) {
	w, err := p.NewVar("weight", []int64{out, in}, wInit)
	if err != nil {
		return nil, err
	}
	b, err := p.NewVar("bias", []int64{out}, bInit)
	if err != nil {
		return nil, err
	}
	return &vision.Linear{W: w, B: b}, nil
}

func buildViT(m *vision.Model, p *nn.Path, c vitConfig) error {
	if c.image%c.patch != 0 || c.hidden%c.heads != 0 {
		return fmt.Errorf("image %d not divisible by patch %d, or hidden %d by heads %d", c.image, c.patch, c.hidden, c.heads)
	}
	fanIn := 3 * c.patch * c.patch
	proj, err := vision.NewConv2d(p.Sub("conv_proj"), 3, c.hidden, []int64{c.patch}, vision.ConvOpts{
		Stride: []int64{c.patch}, Bias: true, Init: vision.TruncNormal{Std: math.Sqrt(1 / float64(fanIn))}})
	if err != nil {
		return err
	}
	v := &vit{proj: proj, cfg: c}
	if v.classToken, err = p.NewVar("class_token", []int64{1, 1, c.hidden}, nn.NewConstInit(0)); err != nil {
		return err
	}
	seq := (c.image/c.patch)*(c.image/c.patch) + 1
	enc := p.Sub("encoder")
	if v.pos, err = enc.NewVar("pos_embedding", []int64{1, seq, c.hidden}, vision.Normal(0.02)); err != nil {
		return err
	}
	stages := []vision.Stage{{Name: "stem", Prefixes: []string{"conv_proj.", "class_token", "encoder.pos_embedding"}}}
	const perStage = 3
	lp := enc.Sub("layers")
	for i := int64(0); i < c.layers; i++ {
		name := fmt.Sprintf("encoder_layer_%d", i)
		b, err := newEncoderBlock(lp.Sub(name), c)
		if err != nil {
			return err
		}
		v.layers = append(v.layers, b)
		if i%perStage == 0 {
			last := min(i+perStage, c.layers) - 1
			stages = append(stages, vision.Stage{Name: fmt.Sprintf("encoder_layer_%d-%d", i, last)})
		}
		s := &stages[len(stages)-1]
		s.Prefixes = append(s.Prefixes, "encoder.layers."+name+".")
	}
	if v.ln, err = vision.NewLayerNorm(enc.Sub("ln"), []int64{c.hidden}, 1e-6); err != nil {
		return err
	}
	s := &stages[len(stages)-1]
	s.Prefixes = append(s.Prefixes, "encoder.ln.")
	// No representation layer: torchvision zero-initialises the head.
	head, err := newLinearWith(p.Sub("heads").Sub("head"), c.hidden, int64(m.NumClasses), nn.NewConstInit(0), nn.NewConstInit(0))
	if err != nil {
		return err
	}
	m.Backbone, m.Head, m.FeatureDim = v, head, int(c.hidden)
	m.HeadPrefixes = []string{"heads.head."}
	m.Stages = append(stages, vision.Stage{Name: "head", Prefixes: []string{"heads."}})
	return nil
}

// vit is the Vision Transformer up to the class token's final features.
type vit struct {
	proj            *vision.Conv2d
	classToken, pos *ts.Tensor
	layers          vision.Seq
	ln              *vision.LayerNorm
	cfg             vitConfig
}

func (v *vit) Forward(x *ts.Tensor, train bool) (*ts.Tensor, error) {
	size, err := x.Size()
	if err != nil {
		return nil, err
	}
	if len(size) != 4 || size[2] != v.cfg.image || size[3] != v.cfg.image {
		return nil, fmt.Errorf("vit: input %v, want [N, 3, %d, %d]", size, v.cfg.image, v.cfg.image)
	}
	n := size[0]
	h, err := v.proj.Forward(x, train) // [N, D, n_h, n_w]
	if err != nil {
		return nil, err
	}
	if h, err = h.Reshape([]int64{n, v.cfg.hidden, -1}, true); err != nil {
		return nil, err
	}
	if h, err = h.Permute([]int64{0, 2, 1}, true); err != nil { // [N, S, D]
		return nil, err
	}
	tok, err := v.classToken.Expand([]int64{n, -1, -1}, false, false)
	if err != nil {
		h.MustDrop()
		return nil, err
	}
	seq, err := ts.Cat([]*ts.Tensor{tok, h}, 1)
	tok.MustDrop()
	h.MustDrop()
	if err != nil {
		return nil, err
	}
	if seq, err = seq.Add(v.pos, true); err != nil {
		return nil, err
	}
	enc, err := v.layers.Forward(seq, train)
	seq.MustDrop()
	if err != nil {
		return nil, err
	}
	out, err := v.ln.Forward(enc, train)
	enc.MustDrop()
	if err != nil {
		return nil, err
	}
	return out.Select(1, 0, true) // the class token: [N, D]
}

// Emit writes the forward pass for a static input of cfg.image pixels:
// patches, class token (expanded to the dynamic batch), position
// embedding, encoder, layer norm, the class token's features.
func (v *vit) Emit(g vision.Graph, x string) (string, error) {
	if s := g.Shape(x); len(s) != 4 || s[2] != v.cfg.image || s[3] != v.cfg.image {
		return "", fmt.Errorf("vit: input %v, want a static [N, 3, %d, %d] (no dynamic size)", s, v.cfg.image, v.cfg.image)
	}
	h, err := v.proj.Emit(g, x) // [N, D, n_h, n_w]
	if err != nil {
		return "", err
	}
	h = g.Op("Reshape", []string{h, g.Ints(0, v.cfg.hidden, -1)})
	h = g.Op("Transpose", []string{h}, vision.A("perm", []int64{0, 2, 1})) // [N, S, D]
	n := g.Op("Slice", []string{g.Op("Shape", []string{x}), g.Ints(0), g.Ints(1)})
	tok := g.Op("Expand", []string{g.Param(v.classToken), g.Op("Concat", []string{n, g.Ints(1, v.cfg.hidden)}, vision.A("axis", int64(0)))})
	seq := g.Op("Add", []string{g.Op("Concat", []string{tok, h}, vision.A("axis", int64(1))), g.Param(v.pos)})
	enc, err := v.layers.Emit(g, seq)
	if err != nil {
		return "", err
	}
	out, err := v.ln.Emit(g, enc)
	if err != nil {
		return "", err
	}
	cls := g.Op("Gather", []string{out, g.Ints(0)}, vision.A("axis", int64(1))) // [N, 1, D]
	return g.Op("Squeeze", []string{cls, g.Ints(1)}), nil
}

// encoderBlock is torchvision's EncoderBlock: x + attn(ln_1(x)), then
// y + mlp(ln_2(y)).
type encoderBlock struct {
	ln1, ln2   *vision.LayerNorm
	inW, inB   *ts.Tensor     // self_attention.in_proj_weight [3D, D], in_proj_bias [3D]
	out        *vision.Linear // self_attention.out_proj
	mlp        vision.Seq
	heads, dim int64
}

func newEncoderBlock(p *nn.Path, c vitConfig) (*encoderBlock, error) {
	b := &encoderBlock{heads: c.heads, dim: c.hidden}
	var err error
	if b.ln1, err = vision.NewLayerNorm(p.Sub("ln_1"), []int64{c.hidden}, 1e-6); err != nil {
		return nil, err
	}
	a := p.Sub("self_attention")
	if b.inW, err = a.NewVar("in_proj_weight", []int64{3 * c.hidden, c.hidden}, xavierUniform(3*c.hidden, c.hidden)); err != nil {
		return nil, err
	}
	if b.inB, err = a.NewVar("in_proj_bias", []int64{3 * c.hidden}, nn.NewConstInit(0)); err != nil {
		return nil, err
	}
	// out_proj keeps nn.Linear's default weight; MultiheadAttention zeroes its bias.
	if b.out, err = newLinearWith(a.Sub("out_proj"), c.hidden, c.hidden, vision.Uniform(1/math.Sqrt(float64(c.hidden))), nn.NewConstInit(0)); err != nil {
		return nil, err
	}
	if b.ln2, err = vision.NewLayerNorm(p.Sub("ln_2"), []int64{c.hidden}, 1e-6); err != nil {
		return nil, err
	}
	mp := p.Sub("mlp")
	fc1, err := newLinearWith(mp.Sub("0"), c.hidden, c.mlp, xavierUniform(c.mlp, c.hidden), vision.Normal(1e-6))
	if err != nil {
		return nil, err
	}
	fc2, err := newLinearWith(mp.Sub("3"), c.mlp, c.hidden, xavierUniform(c.hidden, c.mlp), vision.Normal(1e-6))
	if err != nil {
		return nil, err
	}
	b.mlp = vision.Seq{fc1, vision.GELU, fc2}
	return b, nil
}

func (b *encoderBlock) Forward(x *ts.Tensor, train bool) (*ts.Tensor, error) {
	h, err := b.ln1.Forward(x, train)
	if err != nil {
		return nil, err
	}
	a, err := b.attention(h)
	h.MustDrop()
	if err != nil {
		return nil, err
	}
	y, err := a.Add(x, true)
	if err != nil {
		return nil, err
	}
	h, err = b.ln2.Forward(y, train)
	if err != nil {
		y.MustDrop()
		return nil, err
	}
	z, err := b.mlp.Forward(h, train)
	h.MustDrop()
	if err != nil {
		y.MustDrop()
		return nil, err
	}
	out, err := y.Add(z, true)
	z.MustDrop()
	return out, err
}

// Emit writes y = x + attention(ln_1(x)), y + mlp(ln_2(y)), as Forward.
func (b *encoderBlock) Emit(g vision.Graph, x string) (string, error) {
	h, err := b.ln1.Emit(g, x)
	if err != nil {
		return "", err
	}
	a, err := b.emitAttention(g, h)
	if err != nil {
		return "", err
	}
	y := g.Op("Add", []string{a, x})
	if h, err = b.ln2.Emit(g, y); err != nil {
		return "", err
	}
	z, err := b.mlp.Emit(g, h)
	if err != nil {
		return "", err
	}
	return g.Op("Add", []string{y, z}), nil
}

// attention is nn.MultiheadAttention's self-attention on x [N, L, D]
// (batch_first, no masks): softmax(Q·Kᵀ/√d)·V per head, then out_proj.
func (b *encoderBlock) attention(x *ts.Tensor) (*ts.Tensor, error) {
	size, err := x.Size()
	if err != nil {
		return nil, err
	}
	n, l := size[0], size[1]
	hd := b.dim / b.heads
	qkv, err := ts.Linear(x, b.inW, b.inB) // [N, L, 3D]
	if err != nil {
		return nil, err
	}
	if qkv, err = qkv.Reshape([]int64{n, l, 3, b.heads, hd}, true); err != nil {
		return nil, err
	}
	if qkv, err = qkv.Permute([]int64{2, 0, 3, 1, 4}, true); err != nil { // [3, N, H, L, hd]
		return nil, err
	}
	var qkvs [3]*ts.Tensor
	for i := range qkvs {
		if qkvs[i], err = qkv.Select(0, int64(i), false); err != nil {
			for _, t := range qkvs[:i] {
				t.MustDrop()
			}
			qkv.MustDrop()
			return nil, err
		}
	}
	qkv.MustDrop()
	q, k, v := qkvs[0], qkvs[1], qkvs[2]
	defer v.MustDrop()
	if q, err = q.DivScalar(ts.FloatScalar(math.Sqrt(float64(hd))), true); err != nil {
		k.MustDrop()
		return nil, err
	}
	if k, err = k.Transpose(-2, -1, true); err != nil {
		q.MustDrop()
		return nil, err
	}
	s, err := q.Matmul(k, true) // [N, H, L, L]
	k.MustDrop()
	if err != nil {
		return nil, err
	}
	if s, err = s.Softmax(-1, s.DType(), true); err != nil {
		return nil, err
	}
	o, err := s.Matmul(v, true) // [N, H, L, hd]
	if err != nil {
		return nil, err
	}
	if o, err = o.Permute([]int64{0, 2, 1, 3}, true); err != nil {
		return nil, err
	}
	if o, err = o.Reshape([]int64{n, l, b.dim}, true); err != nil {
		return nil, err
	}
	defer o.MustDrop()
	return b.out.Forward(o, false)
}

// emitAttention writes attention from MatMul and Softmax (ONNX has no
// attention operator at opset 17), in Forward's order of operations.
func (b *encoderBlock) emitAttention(g vision.Graph, x string) (string, error) {
	hd := b.dim / b.heads
	qkv, err := (&vision.Linear{W: b.inW, B: b.inB}).Emit(g, x) // [N, L, 3D]
	if err != nil {
		return "", err
	}
	qkv = g.Op("Reshape", []string{qkv, g.Ints(0, 0, 3, b.heads, hd)})
	qkv = g.Op("Transpose", []string{qkv}, vision.A("perm", []int64{2, 0, 3, 1, 4})) // [3, N, H, L, hd]
	parts := g.OpN("Split", []string{qkv, g.Ints(1, 1, 1)}, 3, vision.A("axis", int64(0)))
	for i := range parts {
		parts[i] = g.Op("Squeeze", []string{parts[i], g.Ints(0)})
	}
	q := g.Op("Div", []string{parts[0], g.Floats(nil, float32(math.Sqrt(float64(hd))))})
	k := g.Op("Transpose", []string{parts[1]}, vision.A("perm", []int64{0, 1, 3, 2}))
	s := g.Op("Softmax", []string{g.Op("MatMul", []string{q, k})}, vision.A("axis", int64(-1))) // [N, H, L, L]
	o := g.Op("MatMul", []string{s, parts[2]})                                                  // [N, H, L, hd]
	o = g.Op("Transpose", []string{o}, vision.A("perm", []int64{0, 2, 1, 3}))
	o = g.Op("Reshape", []string{o, g.Ints(0, 0, b.dim)})
	return b.out.Emit(g, o)
}
