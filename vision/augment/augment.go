package augment

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/gtl-dev/gtl/vision/transforms"
)

// Op is one augmentation step on a single image. Apply never writes to
// img; it returns a new image, or img itself when the draw leaves the image
// unchanged. All randomness comes from r, so a seeded r reproduces the
// result byte for byte.
type Op interface {
	Apply(img transforms.RGB, r *rand.Rand) transforms.RGB
	String() string
}

// ownedOp is an Op that can also work on an image it may overwrite, which
// saves a copy when it runs after an op that made a fresh image.
type ownedOp interface {
	applyOwned(img transforms.RGB, r *rand.Rand) transforms.RGB
}

// Pipeline is a sequence of ops applied in the order given.
type Pipeline []Op

// Apply runs the ops in order on img. Like Op.Apply it never writes to img,
// and returns img itself when no op changed it.
func (p Pipeline) Apply(img transforms.RGB, r *rand.Rand) transforms.RGB {
	owned := false
	for _, op := range p {
		var out transforms.RGB
		if o, ok := op.(ownedOp); ok && owned {
			out = o.applyOwned(img, r)
		} else {
			out = op.Apply(img, r)
		}
		owned = owned || !samePix(out, img)
		img = out
	}
	return img
}

// String lists the ops, as "[op op ...]".
func (p Pipeline) String() string {
	s := "["
	for i, op := range p {
		if i > 0 {
			s += " "
		}
		s += op.String()
	}
	return s + "]"
}

func samePix(a, b transforms.RGB) bool {
	return len(a.Pix) == len(b.Pix) && (len(a.Pix) == 0 || &a.Pix[0] == &b.Pix[0])
}

// Preset names accepted by Preset.
const (
	PresetNone   = "none"
	PresetLight  = "light"
	PresetStrong = "strong"
)

// Preset returns a named training pipeline whose output is size×size:
//
//   - "none": the evaluation transform, resize the shorter side to size and
//     centre crop (transforms.EvalPreset(size, size, Bilinear));
//   - "light" (the default for fine-tuning): RandomResizedCrop with scale
//     [0.35, 1] and HorizontalFlip(0.5);
//   - "strong": RandomResizedCrop with scale [0.08, 1], HorizontalFlip(0.5)
//     and TrivialAugmentWide.
func Preset(name string, size int) (Pipeline, error) {
	if size <= 0 {
		return nil, fmt.Errorf("augment: preset %q: size %d, want > 0", name, size)
	}
	switch name {
	case PresetNone:
		return Pipeline{Eval{Size: size}}, nil
	case PresetLight:
		return Pipeline{
			RandomResizedCrop{Size: size, Scale: [2]float64{0.35, 1}},
			HorizontalFlip{P: 0.5},
		}, nil
	case PresetStrong:
		return Pipeline{
			RandomResizedCrop{Size: size},
			HorizontalFlip{P: 0.5},
			TrivialAugmentWide{},
		}, nil
	}
	return nil, fmt.Errorf("augment: unknown preset %q, want %q, %q or %q", name, PresetNone, PresetLight, PresetStrong)
}

// Eval is the deterministic evaluation transform as an Op: resize the
// shorter side to ResizeSize and centre crop Size×Size, as
// transforms.EvalPreset. It draws nothing from r.
type Eval struct {
	Size       int               // output side, required
	ResizeSize int               // shorter side before the crop; default Size
	Filter     transforms.Filter // default Bilinear
}

// Apply resizes and crops img.
func (e Eval) Apply(img transforms.RGB, _ *rand.Rand) transforms.RGB {
	rs := e.ResizeSize
	if rs == 0 {
		rs = e.Size
	}
	return transforms.EvalPreset(e.Size, rs, e.Filter).Apply(img)
}

// String describes the op.
func (e Eval) String() string {
	rs := e.ResizeSize
	if rs == 0 {
		rs = e.Size
	}
	return fmt.Sprintf("Eval(size=%d, resize=%d, %s)", e.Size, rs, e.Filter)
}

// RandomResizedCrop crops a random window and resizes it to Size×Size, as
// torchvision's RandomResizedCrop: the window's area share is uniform in
// Scale and the log of its aspect ratio uniform in log Ratio; after 10
// windows that do not fit it falls back to the largest centred window
// whose ratio lies in Ratio.
type RandomResizedCrop struct {
	Size   int               // output side, required
	Scale  [2]float64        // area share range; default [0.08, 1]
	Ratio  [2]float64        // width/height range; default [3/4, 4/3]
	Filter transforms.Filter // default Bilinear (antialiased, as PIL)
}

func (c RandomResizedCrop) defaults() RandomResizedCrop {
	if c.Scale == [2]float64{} {
		c.Scale = [2]float64{0.08, 1}
	}
	if c.Ratio == [2]float64{} {
		c.Ratio = [2]float64{3.0 / 4, 4.0 / 3}
	}
	return c
}

// Window is a crop rectangle: left, top, width and height in pixels.
type Window struct{ X, Y, W, H int }

// Params draws the crop window for a w×h image, exactly as torchvision's
// RandomResizedCrop.get_params (with r in place of torch's generator).
// fallback reports that no draw fitted and the centre window was used.
func (c RandomResizedCrop) Params(w, h int, r *rand.Rand) (win Window, fallback bool) {
	c = c.defaults()
	area := float64(w * h)
	logLo, logHi := math.Log(c.Ratio[0]), math.Log(c.Ratio[1])
	for range 10 {
		target := area * uniform(r, c.Scale[0], c.Scale[1])
		aspect := math.Exp(uniform(r, logLo, logHi))
		cw := int(math.RoundToEven(math.Sqrt(target * aspect)))
		ch := int(math.RoundToEven(math.Sqrt(target / aspect)))
		if 0 < cw && cw <= w && 0 < ch && ch <= h {
			y := r.IntN(h - ch + 1)
			x := r.IntN(w - cw + 1)
			return Window{X: x, Y: y, W: cw, H: ch}, false
		}
	}
	inRatio := float64(w) / float64(h)
	cw, ch := w, h
	switch {
	case inRatio < min(c.Ratio[0], c.Ratio[1]):
		ch = int(math.RoundToEven(float64(cw) / min(c.Ratio[0], c.Ratio[1])))
	case inRatio > max(c.Ratio[0], c.Ratio[1]):
		cw = int(math.RoundToEven(float64(ch) * max(c.Ratio[0], c.Ratio[1])))
	}
	return Window{X: (w - cw) / 2, Y: (h - ch) / 2, W: cw, H: ch}, true
}

// Apply crops a random window of img and resizes it to Size×Size.
func (c RandomResizedCrop) Apply(img transforms.RGB, r *rand.Rand) transforms.RGB {
	win, _ := c.Params(img.W, img.H, r)
	return transforms.Resize(Crop(img, win), c.Size, c.Size, c.Filter)
}

// String describes the op.
func (c RandomResizedCrop) String() string {
	c = c.defaults()
	return fmt.Sprintf("RandomResizedCrop(size=%d, scale=[%g, %g], ratio=[%.4g, %.4g], %s)",
		c.Size, c.Scale[0], c.Scale[1], c.Ratio[0], c.Ratio[1], c.Filter)
}

// Crop copies the window win out of img; win must lie inside img.
func Crop(img transforms.RGB, win Window) transforms.RGB {
	out := transforms.RGB{W: win.W, H: win.H, Pix: make([]uint8, 3*win.W*win.H)}
	for y := 0; y < win.H; y++ {
		src := 3 * ((win.Y+y)*img.W + win.X)
		copy(out.Pix[3*y*win.W:3*(y+1)*win.W], img.Pix[src:src+3*win.W])
	}
	return out
}

// HorizontalFlip mirrors the image left to right with probability P. It
// draws one uniform u per image and flips when u < P. torchvision's default
// P is 0.5; the zero value never flips.
type HorizontalFlip struct {
	P float64
}

// Apply flips img with probability P.
func (f HorizontalFlip) Apply(img transforms.RGB, r *rand.Rand) transforms.RGB {
	if r.Float64() >= f.P {
		return img
	}
	out := transforms.RGB{W: img.W, H: img.H, Pix: make([]uint8, len(img.Pix))}
	for y := 0; y < img.H; y++ {
		src := img.Pix[3*y*img.W : 3*(y+1)*img.W]
		dst := out.Pix[3*y*img.W : 3*(y+1)*img.W]
		for i, j := 0, len(src)-3; j >= 0; i, j = i+3, j-3 {
			dst[i], dst[i+1], dst[i+2] = src[j], src[j+1], src[j+2]
		}
	}
	return out
}

func (f HorizontalFlip) applyOwned(img transforms.RGB, r *rand.Rand) transforms.RGB {
	if r.Float64() >= f.P {
		return img
	}
	for y := 0; y < img.H; y++ {
		row := img.Pix[3*y*img.W : 3*(y+1)*img.W]
		for i, j := 0, len(row)-3; i < j; i, j = i+3, j-3 {
			row[i], row[j] = row[j], row[i]
			row[i+1], row[j+1] = row[j+1], row[i+1]
			row[i+2], row[j+2] = row[j+2], row[i+2]
		}
	}
	return img
}

// String describes the op.
func (f HorizontalFlip) String() string { return fmt.Sprintf("HorizontalFlip(p=%g)", f.P) }

// uniform draws from [lo, hi).
func uniform(r *rand.Rand, lo, hi float64) float64 { return lo + (hi-lo)*r.Float64() }
