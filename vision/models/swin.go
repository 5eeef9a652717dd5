package models

import (
	"fmt"
	"math"

	"github.com/gtl-dev/gtl/vision"
	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"
)

// Swin Transformer (v1), as torchvision.models.swin_transformer defines it:
// a 4×4 stride-4 patch embedding with layer norm (channels-last from there
// on), four stages of Swin blocks (pre-norm window attention with a
// relative position bias, every second block on windows shifted by half a
// window with the wrap-around masked; pre-norm GELU MLP; stochastic depth on
// both residual branches), patch merging (2×2 neighbours concatenated, layer
// norm, Linear 4C→2C without bias) between stages, a final layer norm,
// global average pooling and a Linear head. Inputs of any size: feature maps
// are padded to whole windows, and a window as large as the map is not
// shifted. Linear weights are trunc_normal_(std 0.02) with zero biases, as
// torchvision's final initialisation loop leaves them.

func init() {
	for _, s := range []struct {
		name       string
		embed      int64
		depths     [4]int
		heads      [4]int64
		stochDepth float64
		resize     int
	}{
		{"swin_t", 96, [4]int{2, 2, 6, 2}, [4]int64{3, 6, 12, 24}, 0.2, 232},
		{"swin_s", 96, [4]int{2, 2, 18, 2}, [4]int64{3, 6, 12, 24}, 0.3, 246},
		{"swin_b", 128, [4]int{2, 2, 18, 2}, [4]int64{4, 8, 16, 32}, 0.5, 238},
	} {
		s := s
		vision.Register(vision.Spec{Name: s.name, Family: "swin", ResizeSize: s.resize, Build: func(m *vision.Model, p *nn.Path) error {
			return buildSwin(m, p, s.embed, s.depths, s.heads, 7, s.stochDepth)
		}})
	}
}

func buildSwin(m *vision.Model, p *nn.Path, embed int64, depths [4]int, heads [4]int64, window int64, sdProb float64) error {
	fp := p.Sub("features")
	sp := fp.Sub("0")
	conv, err := vision.NewConv2d(sp.Sub("0"), 3, embed, []int64{4}, vision.ConvOpts{Stride: []int64{4}, Bias: true})
	if err != nil {
		return err
	}
	ln, err := vision.NewLayerNorm(sp.Sub("2"), []int64{embed}, 1e-5)
	if err != nil {
		return err
	}
	backbone := vision.Seq{conv, permute(0, 2, 3, 1), ln}
	m.Stages = []vision.Stage{{Name: "stem", Prefixes: []string{"features.0."}}}
	total := 0
	for _, d := range depths {
		total += d
	}
	blockID, idx := 0, 1
	for i, d := range depths {
		dim := embed << i
		stage := vision.Stage{Name: fmt.Sprintf("features.%d", idx)}
		if i > 0 {
			// The patch merging before the stage belongs to it.
			pm, err := newPatchMerging(fp.Sub(fmt.Sprint(idx)), dim/2)
			if err != nil {
				return err
			}
			backbone = append(backbone, pm)
			stage = vision.Stage{Name: fmt.Sprintf("features.%d-%d", idx, idx+1), Prefixes: []string{fmt.Sprintf("features.%d.", idx)}}
			idx++
		}
		bp := fp.Sub(fmt.Sprint(idx))
		for j := 0; j < d; j++ {
			var shift int64
			if j%2 == 1 {
				shift = window / 2
			}
			sd := sdProb * float64(blockID) / float64(total-1)
			b, err := newSwinBlock(m, bp.Sub(fmt.Sprint(j)), dim, heads[i], window, shift, sd)
			if err != nil {
				return err
			}
			backbone = append(backbone, b)
			blockID++
		}
		stage.Prefixes = append(stage.Prefixes, fmt.Sprintf("features.%d.", idx))
		m.Stages = append(m.Stages, stage)
		idx++
	}
	dim := embed << (len(depths) - 1)
	norm, err := vision.NewLayerNorm(p.Sub("norm"), []int64{dim}, 1e-5)
	if err != nil {
		return err
	}
	last := &m.Stages[len(m.Stages)-1]
	last.Prefixes = append(last.Prefixes, "norm.")
	backbone = append(backbone, norm, permute(0, 3, 1, 2), vision.AdaptiveAvgPool(1, 1), vision.Flatten)
	head, err := newLinearWith(p.Sub("head"), dim, int64(m.NumClasses), vision.TruncNormal{Std: 0.02}, nn.NewConstInit(0))
	if err != nil {
		return err
	}
	m.Backbone, m.Head, m.FeatureDim = backbone, head, int(dim)
	m.HeadPrefixes = []string{"head."}
	m.Stages = append(m.Stages, vision.Stage{Name: "head", Prefixes: []string{"head."}})
	return nil
}

// newSwinBlock is torchvision's SwinTransformerBlock on [B, H, W, C].
func newSwinBlock(m *vision.Model, p *nn.Path, dim, heads, window, shift int64, sd float64) (vision.Module, error) {
	norm1, err := vision.NewLayerNorm(p.Sub("norm1"), []int64{dim}, 1e-5)
	if err != nil {
		return nil, err
	}
	attn, err := newWindowAttention(p.Sub("attn"), dim, heads, window, shift)
	if err != nil {
		return nil, err
	}
	norm2, err := vision.NewLayerNorm(p.Sub("norm2"), []int64{dim}, 1e-5)
	if err != nil {
		return nil, err
	}
	mp := p.Sub("mlp")
	fc1, err := newLinearWith(mp.Sub("0"), dim, 4*dim, vision.TruncNormal{Std: 0.02}, nn.NewConstInit(0))
	if err != nil {
		return nil, err
	}
	fc2, err := newLinearWith(mp.Sub("3"), 4*dim, dim, vision.TruncNormal{Std: 0.02}, nn.NewConstInit(0))
	if err != nil {
		return nil, err
	}
	return vision.Seq{
		vision.Residual(vision.Seq{norm1, attn, m.StochasticDepth(sd)}),
		vision.Residual(vision.Seq{norm2, fc1, vision.GELU, fc2, m.StochasticDepth(sd)}),
	}, nil
}

// newPatchMerging is torchvision's PatchMerging: [B, H, W, C] to
// [B, ⌈H/2⌉, ⌈W/2⌉, 2C].
func newPatchMerging(p *nn.Path, dim int64) (vision.Module, error) {
	norm, err := vision.NewLayerNorm(p.Sub("norm"), []int64{4 * dim}, 1e-5)
	if err != nil {
		return nil, err
	}
	red, err := vision.NewLinear(p.Sub("reduction"), 4*dim, 2*dim, false, vision.TruncNormal{Std: 0.02})
	if err != nil {
		return nil, err
	}
	return vision.Seq{patchMerge{}, norm, red}, nil
}

// patchMerge concatenates each 2×2 neighbourhood of [B, H, W, C] (padded to
// even H and W) into [B, ⌈H/2⌉, ⌈W/2⌉, 4C], in torchvision's order x0, x1,
// x2, x3.
type patchMerge struct{}

func (patchMerge) Forward(x *ts.Tensor, _ bool) (*ts.Tensor, error) {
	size, err := x.Size()
	if err != nil {
		return nil, err
	}
	h, w := size[1], size[2]
	x, err = x.ConstantPadNd([]int64{0, 0, 0, w % 2, 0, h % 2}, false)
	if err != nil {
		return nil, err
	}
	defer x.MustDrop()
	h, w = h+h%2, w+w%2
	var parts []*ts.Tensor
	defer func() {
		for _, t := range parts {
			t.MustDrop()
		}
	}()
	for _, o := range [][2]int64{{0, 0}, {1, 0}, {0, 1}, {1, 1}} { // x0, x1, x2, x3
		r, err := x.Slice(1, []int64{o[0]}, []int64{h}, 2, false)
		if err != nil {
			return nil, err
		}
		c, err := r.Slice(2, []int64{o[1]}, []int64{w}, 2, true)
		if err != nil {
			return nil, err
		}
		parts = append(parts, c)
	}
	return ts.Cat(parts, 3)
}

// Emit writes Forward's padding, strided slices and concatenation; it
// needs the static height and width.
func (patchMerge) Emit(g vision.Graph, x string) (string, error) {
	s := g.Shape(x)
	if len(s) != 4 || s[1] <= 0 || s[2] <= 0 {
		return "", fmt.Errorf("swin patch merging: input %v, want a static [N, H, W, C] (no dynamic size)", s)
	}
	h, w := s[1], s[2]
	if h%2 != 0 || w%2 != 0 {
		x = g.Op("Pad", []string{x, g.Ints(0, 0, 0, 0, 0, h%2, w%2, 0)})
		h, w = h+h%2, w+w%2
	}
	var parts []string
	for _, o := range [][2]int64{{0, 0}, {1, 0}, {0, 1}, {1, 1}} { // x0, x1, x2, x3
		parts = append(parts, g.Op("Slice", []string{x, g.Ints(o[0], o[1]), g.Ints(h, w), g.Ints(1, 2), g.Ints(2, 2)}))
	}
	return g.Op("Concat", parts, vision.A("axis", int64(3))), nil
}

// windowAttention is torchvision's ShiftedWindowAttention (v1).
type windowAttention struct {
	qkv, proj            *vision.Linear
	table, index         *ts.Tensor // relative_position_bias_table [(2w-1)², heads], relative_position_index [w⁴]
	heads, window, shift int64
}

func newWindowAttention(p *nn.Path, dim, heads, window, shift int64) (*windowAttention, error) {
	a := &windowAttention{heads: heads, window: window, shift: shift}
	var err error
	if a.qkv, err = newLinearWith(p.Sub("qkv"), dim, 3*dim, vision.TruncNormal{Std: 0.02}, nn.NewConstInit(0)); err != nil {
		return nil, err
	}
	if a.proj, err = newLinearWith(p.Sub("proj"), dim, dim, vision.TruncNormal{Std: 0.02}, nn.NewConstInit(0)); err != nil {
		return nil, err
	}
	if a.table, err = p.NewVar("relative_position_bias_table", []int64{(2*window - 1) * (2*window - 1), heads}, vision.TruncNormal{Std: 0.02}); err != nil {
		return nil, err
	}
	// Token i=(hi, wi) and j=(hj, wj) of a window: (hi-hj+w-1)·(2w-1) + wi-wj+w-1.
	n := window * window
	idx := make([]int64, 0, n*n)
	for i := int64(0); i < n; i++ {
		for j := int64(0); j < n; j++ {
			dh, dw := i/window-j/window+window-1, i%window-j%window+window-1
			idx = append(idx, dh*(2*window-1)+dw)
		}
	}
	t, err := ts.NewTensorFromData(idx, []int64{n * n})
	if err != nil {
		return nil, err
	}
	defer t.MustDrop()
	if dev := p.Device(); dev.IsCuda() {
		if t, err = t.ToDevice(dev, gotch.Int64, false, false, false); err != nil {
			return nil, err
		}
		defer t.MustDrop()
	}
	if a.index, err = p.Add("relative_position_index", t, false); err != nil {
		return nil, err
	}
	return a, nil
}

// shiftMask is the attention mask of shifted windows: [nW, N, N] with 0
// between tokens of the same region of the rolled map and -100 otherwise.
func shiftMask(padH, padW, window, shiftH, shiftW int64) []float32 {
	region := func(i, size, shift int64) int64 {
		switch {
		case i < size-window:
			return 0
		case i < size-shift:
			return 1
		}
		return 2
	}
	nh, nw, n := padH/window, padW/window, window*window
	mask := make([]float32, 0, nh*nw*n*n)
	for bh := int64(0); bh < nh; bh++ {
		for bw := int64(0); bw < nw; bw++ {
			ids := make([]int64, n)
			for t := int64(0); t < n; t++ {
				ids[t] = region(bh*window+t/window, padH, shiftH)*3 + region(bw*window+t%window, padW, shiftW)
			}
			for i := int64(0); i < n; i++ {
				for j := int64(0); j < n; j++ {
					v := float32(0)
					if ids[i] != ids[j] {
						v = -100
					}
					mask = append(mask, v)
				}
			}
		}
	}
	return mask
}

// Forward runs shifted_window_attention on x [B, H, W, C].
func (a *windowAttention) Forward(in *ts.Tensor, _ bool) (*ts.Tensor, error) {
	size, err := in.Size()
	if err != nil {
		return nil, err
	}
	b, h, w, c := size[0], size[1], size[2], size[3]
	ws := a.window
	padR, padB := (ws-w%ws)%ws, (ws-h%ws)%ws
	x, err := in.ConstantPadNd([]int64{0, 0, 0, padR, 0, padB}, false)
	if err != nil {
		return nil, err
	}
	pH, pW := h+padB, w+padR
	sH, sW := windowShift(ws, a.shift, pH, pW)
	shifted := sH+sW > 0
	if shifted {
		if x, err = x.Roll([]int64{-sH, -sW}, []int64{1, 2}, true); err != nil {
			return nil, err
		}
	}
	nW, n := (pH/ws)*(pW/ws), ws*ws
	if x, err = x.View([]int64{b, pH / ws, ws, pW / ws, ws, c}, true); err != nil {
		return nil, err
	}
	if x, err = x.Permute([]int64{0, 1, 3, 2, 4, 5}, true); err != nil {
		return nil, err
	}
	if x, err = x.Reshape([]int64{b * nW, n, c}, true); err != nil {
		return nil, err
	}
	qkv, err := ts.Linear(x, a.qkv.W, a.qkv.B)
	x.MustDrop()
	if err != nil {
		return nil, err
	}
	hd := c / a.heads
	if qkv, err = qkv.Reshape([]int64{b * nW, n, 3, a.heads, hd}, true); err != nil {
		return nil, err
	}
	if qkv, err = qkv.Permute([]int64{2, 0, 3, 1, 4}, true); err != nil {
		return nil, err
	}
	var qkvs [3]*ts.Tensor
	for i := range qkvs {
		if qkvs[i], err = qkv.Select(0, int64(i), false); err != nil {
			qkv.MustDrop()
			return nil, err
		}
	}
	qkv.MustDrop()
	q, k, v := qkvs[0], qkvs[1], qkvs[2]
	defer v.MustDrop()
	if q, err = q.MulScalar(ts.FloatScalar(math.Pow(float64(hd), -0.5)), true); err != nil {
		return nil, err
	}
	if k, err = k.Transpose(-2, -1, true); err != nil {
		return nil, err
	}
	attn, err := q.Matmul(k, true) // [B·nW, heads, N, N]
	k.MustDrop()
	if err != nil {
		return nil, err
	}
	bias, err := a.table.IndexSelect(0, a.index, false)
	if err != nil {
		return nil, err
	}
	if bias, err = bias.View([]int64{n, n, a.heads}, true); err != nil {
		return nil, err
	}
	if bias, err = bias.Permute([]int64{2, 0, 1}, true); err != nil {
		return nil, err
	}
	if bias, err = bias.Contiguous(true); err != nil {
		return nil, err
	}
	attn, err = attn.Add(bias, true)
	bias.MustDrop()
	if err != nil {
		return nil, err
	}
	if shifted {
		mt, err := ts.NewTensorFromData(shiftMask(pH, pW, ws, sH, sW), []int64{1, nW, 1, n, n})
		if err != nil {
			return nil, err
		}
		defer mt.MustDrop()
		if dev := in.MustDevice(); dev.IsCuda() {
			if mt, err = mt.ToDevice(dev, gotch.Float, false, false, false); err != nil {
				return nil, err
			}
			defer mt.MustDrop()
		}
		if attn, err = attn.View([]int64{b, nW, a.heads, n, n}, true); err != nil {
			return nil, err
		}
		if attn, err = attn.Add(mt, true); err != nil {
			return nil, err
		}
		if attn, err = attn.View([]int64{-1, a.heads, n, n}, true); err != nil {
			return nil, err
		}
	}
	if attn, err = attn.Softmax(-1, attn.DType(), true); err != nil {
		return nil, err
	}
	o, err := attn.Matmul(v, true)
	if err != nil {
		return nil, err
	}
	if o, err = o.Transpose(1, 2, true); err != nil {
		return nil, err
	}
	if o, err = o.Reshape([]int64{b * nW, n, c}, true); err != nil {
		return nil, err
	}
	y, err := ts.Linear(o, a.proj.W, a.proj.B)
	o.MustDrop()
	if err != nil {
		return nil, err
	}
	if y, err = y.View([]int64{b, pH / ws, pW / ws, ws, ws, c}, true); err != nil {
		return nil, err
	}
	if y, err = y.Permute([]int64{0, 1, 3, 2, 4, 5}, true); err != nil {
		return nil, err
	}
	if y, err = y.Reshape([]int64{b, pH, pW, c}, true); err != nil {
		return nil, err
	}
	if shifted {
		if y, err = y.Roll([]int64{sH, sW}, []int64{1, 2}, true); err != nil {
			return nil, err
		}
	}
	if padR > 0 || padB > 0 {
		if y, err = y.Slice(1, []int64{0}, []int64{h}, 1, true); err != nil {
			return nil, err
		}
		if y, err = y.Slice(2, []int64{0}, []int64{w}, 1, true); err != nil {
			return nil, err
		}
	}
	return y.Contiguous(true)
}

// Emit writes shifted_window_attention as Forward does, for a static
// [B, H, W, C] (B dynamic): padding, roll, window partition, attention from
// MatMul and Softmax with the relative position bias (gathered at export)
// and the shift mask as constants, window merge, roll back, crop.
func (a *windowAttention) Emit(g vision.Graph, in string) (string, error) {
	size := g.Shape(in)
	if len(size) != 4 || size[1] <= 0 || size[2] <= 0 || size[3] <= 0 {
		return "", fmt.Errorf("swin window attention: input %v, want a static [N, H, W, C] (no dynamic size)", size)
	}
	h, w, c := size[1], size[2], size[3]
	ws := a.window
	padR, padB := (ws-w%ws)%ws, (ws-h%ws)%ws
	x := in
	if padR > 0 || padB > 0 {
		x = g.Op("Pad", []string{x, g.Ints(0, 0, 0, 0, 0, padB, padR, 0)})
	}
	pH, pW := h+padB, w+padR
	sH, sW := windowShift(ws, a.shift, pH, pW)
	shifted := sH+sW > 0
	if shifted {
		x = emitRoll(g, emitRoll(g, x, -sH, 1, pH), -sW, 2, pW)
	}
	nW, n := (pH/ws)*(pW/ws), ws*ws
	x = g.Op("Reshape", []string{x, g.Ints(-1, pH/ws, ws, pW/ws, ws, c)})
	x = g.Op("Transpose", []string{x}, vision.A("perm", []int64{0, 1, 3, 2, 4, 5}))
	x = g.Op("Reshape", []string{x, g.Ints(-1, n, c)})
	qkv, err := a.qkv.Emit(g, x)
	if err != nil {
		return "", err
	}
	hd := c / a.heads
	qkv = g.Op("Reshape", []string{qkv, g.Ints(0, 0, 3, a.heads, hd)})
	qkv = g.Op("Transpose", []string{qkv}, vision.A("perm", []int64{2, 0, 3, 1, 4}))
	parts := g.OpN("Split", []string{qkv, g.Ints(1, 1, 1)}, 3, vision.A("axis", int64(0)))
	for i := range parts {
		parts[i] = g.Op("Squeeze", []string{parts[i], g.Ints(0)})
	}
	q := g.Op("Mul", []string{parts[0], g.Floats(nil, float32(math.Pow(float64(hd), -0.5)))})
	k := g.Op("Transpose", []string{parts[1]}, vision.A("perm", []int64{0, 1, 3, 2}))
	attn := g.Op("MatMul", []string{q, k}) // [B·nW, heads, N, N]
	var bias *ts.Tensor
	err = func() error {
		t, err := a.table.IndexSelect(0, a.index, false)
		if err != nil {
			return err
		}
		if t, err = t.View([]int64{n, n, a.heads}, true); err != nil {
			return err
		}
		bias, err = t.Permute([]int64{2, 0, 1}, true)
		return err
	}()
	if err != nil {
		return "", fmt.Errorf("swin relative position bias: %w", err)
	}
	attn = g.Op("Add", []string{attn, g.Param(bias)})
	bias.MustDrop()
	if shifted {
		attn = g.Op("Reshape", []string{attn, g.Ints(-1, nW, a.heads, n, n)})
		attn = g.Op("Add", []string{attn, g.Floats([]int64{1, nW, 1, n, n}, shiftMask(pH, pW, ws, sH, sW)...)})
		attn = g.Op("Reshape", []string{attn, g.Ints(-1, a.heads, n, n)})
	}
	attn = g.Op("Softmax", []string{attn}, vision.A("axis", int64(-1)))
	o := g.Op("MatMul", []string{attn, parts[2]})
	o = g.Op("Transpose", []string{o}, vision.A("perm", []int64{0, 2, 1, 3}))
	o = g.Op("Reshape", []string{o, g.Ints(-1, n, c)})
	y, err := a.proj.Emit(g, o)
	if err != nil {
		return "", err
	}
	y = g.Op("Reshape", []string{y, g.Ints(-1, pH/ws, pW/ws, ws, ws, c)})
	y = g.Op("Transpose", []string{y}, vision.A("perm", []int64{0, 1, 3, 2, 4, 5}))
	y = g.Op("Reshape", []string{y, g.Ints(-1, pH, pW, c)})
	if shifted {
		y = emitRoll(g, emitRoll(g, y, sH, 1, pH), sW, 2, pW)
	}
	if padR > 0 || padB > 0 {
		y = g.Op("Slice", []string{y, g.Ints(0, 0), g.Ints(h, w), g.Ints(1, 2)})
	}
	return y, nil
}

// emitRoll writes torch.roll(x, shift, axis) for an axis of static length
// size: the last shift elements (mod size) moved to the front.
func emitRoll(g vision.Graph, x string, shift, axis, size int64) string {
	s := ((shift % size) + size) % size
	if s == 0 {
		return x
	}
	tail := g.Op("Slice", []string{x, g.Ints(size - s), g.Ints(size), g.Ints(axis)})
	head := g.Op("Slice", []string{x, g.Ints(0), g.Ints(size - s), g.Ints(axis)})
	return g.Op("Concat", []string{tail, head}, vision.A("axis", axis))
}

// windowShift returns the shift of shifted-window attention along height
// and width for a padded map of pH×pW: a window as large as the map is not
// shifted along that axis (torchvision's ShiftedWindowAttention).
func windowShift(ws, shift, pH, pW int64) (sH, sW int64) {
	sH, sW = shift, shift
	if ws >= pH {
		sH = 0
	}
	if ws >= pW {
		sW = 0
	}
	return sH, sW
}
