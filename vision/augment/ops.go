package augment

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/gtl-dev/gtl/vision/transforms"
)

// Rotation rotates the image about its centre by an angle drawn uniformly
// from [-Degrees, Degrees), counter-clockwise for positive angles, keeping
// the image size, as torchvision's RandomRotation (expand=False) on PIL
// images. Corners that come from outside the image get Fill.
type Rotation struct {
	Degrees float64       // maximum angle; 0 leaves the image unchanged
	Interp  Interpolation // default Bilinear (torchvision's default is nearest)
	Fill    [3]uint8      // default black
}

// Apply rotates img by a random angle.
func (o Rotation) Apply(img transforms.RGB, r *rand.Rand) transforms.RGB {
	angle := uniform(r, -o.Degrees, o.Degrees)
	if angle == 0 {
		return img
	}
	return rotate(img, angle, o.Interp, o.Fill)
}

// String describes the op.
func (o Rotation) String() string {
	return fmt.Sprintf("Rotation(degrees=%g, %s, fill=%v)", o.Degrees, o.Interp, o.Fill)
}

// ColorJitter changes brightness, contrast, saturation and hue by random
// factors, in a random order, as torchvision's ColorJitter: the
// brightness, contrast and saturation factors are uniform in
// [max(0, 1−v), 1+v], the hue shift uniform in [−Hue, Hue] (Hue ≤ 0.5);
// a zero field skips that adjustment, so the zero value changes nothing.
type ColorJitter struct {
	Brightness, Contrast, Saturation, Hue float64
}

// Apply jitters img's colours.
func (o ColorJitter) Apply(img transforms.RGB, r *rand.Rand) transforms.RGB {
	order := r.Perm(4)
	factor := func(v float64) float64 { return uniform(r, max(0, 1-v), 1+v) }
	var f [4]float64
	for i, v := range [3]float64{o.Brightness, o.Contrast, o.Saturation} {
		if v != 0 {
			f[i] = factor(v)
		}
	}
	if o.Hue != 0 {
		f[3] = uniform(r, -o.Hue, o.Hue)
	}
	for _, k := range order {
		switch {
		case k == 0 && o.Brightness != 0:
			img = adjustBrightness(img, f[0])
		case k == 1 && o.Contrast != 0:
			img = adjustContrast(img, f[1])
		case k == 2 && o.Saturation != 0:
			img = adjustSaturation(img, f[2])
		case k == 3 && o.Hue != 0:
			img = adjustHue(img, f[3])
		}
	}
	return img
}

// String describes the op.
func (o ColorJitter) String() string {
	return fmt.Sprintf("ColorJitter(brightness=%g, contrast=%g, saturation=%g, hue=%g)", o.Brightness, o.Contrast, o.Saturation, o.Hue)
}

// The ops of torchvision's RandAugment and TrivialAugmentWide, in
// torchvision's order (the order fixes which index a draw picks).
var autoOps = [...]string{
	"Identity", "ShearX", "ShearY", "TranslateX", "TranslateY", "Rotate",
	"Brightness", "Color", "Contrast", "Sharpness", "Posterize", "Solarize",
	"AutoContrast", "Equalize",
}

// magnitudes is one op's row of the magnitude table: bins values, or nil
// for ops without a magnitude, and whether a random sign applies.
type magnitudes struct {
	bins   []float64
	signed bool
}

// linspace is torch.linspace in float32, as the magnitude tables are.
// Values may differ from torch's by one float32 ulp (torch's result depends
// on its SIMD chunking and fused multiply-adds); that moves a magnitude by
// ~1e-7, which changes no op's output except at a rounding boundary.
func linspace(start, end float64, n int) []float64 {
	s, e := float32(start), float32(end)
	step := (e - s) / float32(n-1)
	out := make([]float64, n)
	for i := range n {
		if i < n/2 {
			out[i] = float64(float32(float64(s) + float64(step)*float64(i)))
		} else {
			out[i] = float64(float32(float64(e) - float64(step)*float64(n-i-1)))
		}
	}
	return out
}

// posterizeBits is 8 − round(arange(n) / ((n−1)/span)).
func posterizeBits(n int, span float64) []float64 {
	out := make([]float64, n)
	d := float32(float64(n-1) / span)
	for i := range n {
		out[i] = float64(8 - int(math.RoundToEven(float64(float32(i)/d))))
	}
	return out
}

// trivialSpace is TrivialAugmentWide's augmentation space.
func trivialSpace(bins int) [len(autoOps)]magnitudes {
	return [len(autoOps)]magnitudes{
		{nil, false},
		{linspace(0, 0.99, bins), true},
		{linspace(0, 0.99, bins), true},
		{linspace(0, 32, bins), true},
		{linspace(0, 32, bins), true},
		{linspace(0, 135, bins), true},
		{linspace(0, 0.99, bins), true},
		{linspace(0, 0.99, bins), true},
		{linspace(0, 0.99, bins), true},
		{linspace(0, 0.99, bins), true},
		{posterizeBits(bins, 6), false},
		{linspace(255, 0, bins), false},
		{nil, false},
		{nil, false},
	}
}

// randSpace is RandAugment's augmentation space for a w×h image.
func randSpace(bins, w, h int) [len(autoOps)]magnitudes {
	return [len(autoOps)]magnitudes{
		{nil, false},
		{linspace(0, 0.3, bins), true},
		{linspace(0, 0.3, bins), true},
		{linspace(0, 150.0/331.0*float64(w), bins), true},
		{linspace(0, 150.0/331.0*float64(h), bins), true},
		{linspace(0, 30, bins), true},
		{linspace(0, 0.9, bins), true},
		{linspace(0, 0.9, bins), true},
		{linspace(0, 0.9, bins), true},
		{linspace(0, 0.9, bins), true},
		{posterizeBits(bins, 4), false},
		{linspace(255, 0, bins), false},
		{nil, false},
		{nil, false},
	}
}

// applyAutoOp is torchvision's autoaugment._apply_op with nearest
// interpolation.
func applyAutoOp(img transforms.RGB, op int, m float64, fill [3]uint8) transforms.RGB {
	deg := func(v float64) float64 { return math.Atan(v) * degrees }
	origin := &[2]float64{}
	switch autoOps[op] {
	case "ShearX":
		return torchAffine(img, 0, 0, 0, deg(m), 0, origin, Nearest, fill)
	case "ShearY":
		return torchAffine(img, 0, 0, 0, 0, deg(m), origin, Nearest, fill)
	case "TranslateX":
		return torchAffine(img, 0, float64(int(m)), 0, 0, 0, nil, Nearest, fill)
	case "TranslateY":
		return torchAffine(img, 0, 0, float64(int(m)), 0, 0, nil, Nearest, fill)
	case "Rotate":
		return rotate(img, m, Nearest, fill)
	case "Brightness":
		return adjustBrightness(img, 1+m)
	case "Color":
		return adjustSaturation(img, 1+m)
	case "Contrast":
		return adjustContrast(img, 1+m)
	case "Sharpness":
		return adjustSharpness(img, 1+m)
	case "Posterize":
		return posterize(img, int(m))
	case "Solarize":
		return solarize(img, m)
	case "AutoContrast":
		return autocontrast(img)
	case "Equalize":
		return equalize(img)
	}
	return img // Identity
}

// TrivialAugmentWide applies one op, picked uniformly from the 14 of
// torchvision's TrivialAugmentWide, at a magnitude picked uniformly from
// its Bins-bin table, with a random sign where the op has one (Müller &
// Hutter 2021; torchvision's "wide" magnitude ranges).
type TrivialAugmentWide struct {
	Bins int      // magnitude bins; default 31
	Fill [3]uint8 // for pixels from outside the image; default black
}

// Apply augments img.
func (o TrivialAugmentWide) Apply(img transforms.RGB, r *rand.Rand) transforms.RGB {
	bins := o.Bins
	if bins == 0 {
		bins = 31
	}
	space := trivialSpace(bins)
	op := r.IntN(len(autoOps))
	m := 0.0
	if b := space[op].bins; b != nil {
		m = b[r.IntN(len(b))]
	}
	if space[op].signed && r.IntN(2) == 1 {
		m = -m
	}
	if op == 0 {
		return img
	}
	return applyAutoOp(img, op, m, o.Fill)
}

// String describes the op.
func (o TrivialAugmentWide) String() string {
	return fmt.Sprintf("TrivialAugmentWide(bins=%d)", orDefault(o.Bins, 31))
}

// RandAugment applies N ops in sequence, each picked uniformly from the 14
// of torchvision's RandAugment, all at magnitude bin M of Bins, with a
// random sign where the op has one (Cubuk et al. 2020).
type RandAugment struct {
	N    int      // ops per image; default 2
	M    int      // magnitude bin, 0 < M < Bins; 0 means the default 9
	Bins int      // default 31
	Fill [3]uint8 // default black
}

// Apply augments img.
func (o RandAugment) Apply(img transforms.RGB, r *rand.Rand) transforms.RGB {
	n, m, bins := orDefault(o.N, 2), orDefault(o.M, 9), orDefault(o.Bins, 31)
	space := randSpace(bins, img.W, img.H)
	for range n {
		op := r.IntN(len(autoOps))
		mag := 0.0
		if b := space[op].bins; b != nil {
			mag = b[min(m, len(b)-1)]
		}
		if space[op].signed && r.IntN(2) == 1 {
			mag = -mag
		}
		if op != 0 {
			img = applyAutoOp(img, op, mag, o.Fill)
		}
	}
	return img
}

// String describes the op.
func (o RandAugment) String() string {
	return fmt.Sprintf("RandAugment(n=%d, m=%d, bins=%d)", orDefault(o.N, 2), orDefault(o.M, 9), orDefault(o.Bins, 31))
}

// orDefault returns v, or def when v is zero.
func orDefault(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}
