package augment

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// RandomErasing blanks a random rectangle of a normalised CHW image with
// probability P, as torchvision's RandomErasing: the rectangle's area share
// is uniform in Scale and the log of its height/width ratio uniform in log
// Ratio; after 10 rectangles that do not fit it leaves the image alone.
// torchvision's default P is 0.5; the zero value never erases.
type RandomErasing struct {
	P      float64
	Scale  [2]float64 // area share range; default [0.02, 0.33]
	Ratio  [2]float64 // height/width range; default [0.3, 3.3]
	Value  float32    // fill when Random is false; default 0 (the mean after normalisation)
	Random bool       // fill with standard normal noise instead (torchvision's value="random")
}

func (e RandomErasing) defaults() RandomErasing {
	if e.Scale == [2]float64{} {
		e.Scale = [2]float64{0.02, 0.33}
	}
	if e.Ratio == [2]float64{} {
		e.Ratio = [2]float64{0.3, 3.3}
	}
	return e
}

// Params draws the rectangle for an h×w image as torchvision's
// RandomErasing.get_params; ok is false when no rectangle fitted.
func (e RandomErasing) Params(h, w int, r *rand.Rand) (win Window, ok bool) {
	e = e.defaults()
	area := float64(h * w)
	logLo, logHi := math.Log(e.Ratio[0]), math.Log(e.Ratio[1])
	for range 10 {
		target := area * uniform(r, e.Scale[0], e.Scale[1])
		aspect := math.Exp(uniform(r, logLo, logHi))
		eh := int(math.RoundToEven(math.Sqrt(target * aspect)))
		ew := int(math.RoundToEven(math.Sqrt(target / aspect)))
		if !(eh < h && ew < w) {
			continue
		}
		y := r.IntN(h - eh + 1)
		x := r.IntN(w - ew + 1)
		return Window{X: x, Y: y, W: ew, H: eh}, true
	}
	return Window{}, false
}

// EraseCHW erases a rectangle of one image x, laid out [c, h, w], in
// place, with probability P. It panics if len(x) != c·h·w.
func (e RandomErasing) EraseCHW(x []float32, c, h, w int, r *rand.Rand) {
	if len(x) != c*h*w {
		panic(fmt.Sprintf("augment: erase: image has %d values, want c·h·w = %d·%d·%d", len(x), c, h, w))
	}
	if r.Float64() >= e.P {
		return
	}
	win, ok := e.Params(h, w, r)
	if !ok {
		return
	}
	for ch := 0; ch < c; ch++ {
		plane := x[ch*h*w:]
		for y := win.Y; y < win.Y+win.H; y++ {
			row := plane[y*w+win.X : y*w+win.X+win.W]
			for i := range row {
				if e.Random {
					row[i] = float32(r.NormFloat64())
				} else {
					row[i] = e.Value
				}
			}
		}
	}
}

// Gamma draws from the Gamma(shape, 1) distribution (Marsaglia & Tsang
// 2000; shape < 1 by boosting Gamma(shape+1) with U^(1/shape)).
func Gamma(r *rand.Rand, shape float64) float64 {
	if shape < 1 {
		u := r.Float64()
		return Gamma(r, shape+1) * math.Pow(u, 1/shape)
	}
	d := shape - 1.0/3
	c := 1 / math.Sqrt(9*d)
	for {
		x := r.NormFloat64()
		v := 1 + c*x
		if v <= 0 {
			continue
		}
		v = v * v * v
		u := r.Float64()
		if u < 1-0.0331*x*x*x*x || math.Log(u) < 0.5*x*x+d*(1-v+math.Log(v)) {
			return d * v
		}
	}
}

// Beta draws from the Beta(a, b) distribution as X/(X+Y) with X ~ Gamma(a)
// and Y ~ Gamma(b).
func Beta(r *rand.Rand, a, b float64) float64 {
	x, y := Gamma(r, a), Gamma(r, b)
	if x+y == 0 { // both underflowed, possible for tiny a and b
		if r.Float64() < a/(a+b) {
			return 1
		}
		return 0
	}
	return x / (x + y)
}

// Batch is a batch of normalised images for the batch-level ops.
type Batch struct {
	X       []float32 // [B, C, H, W]; the ops modify it in place
	C, H, W int
	Labels  []int // B class indices
	Classes int   // number of classes K
}

func (b Batch) check(op string) error {
	n := len(b.Labels)
	if b.C <= 0 || b.H <= 0 || b.W <= 0 || n == 0 {
		return fmt.Errorf("augment: %s: batch of %d images of %d×%d×%d, want non-empty", op, n, b.C, b.H, b.W)
	}
	if len(b.X) != n*b.C*b.H*b.W {
		return fmt.Errorf("augment: %s: x has %d values, want B·C·H·W = %d·%d·%d·%d", op, len(b.X), n, b.C, b.H, b.W)
	}
	for i, l := range b.Labels {
		if l < 0 || l >= b.Classes {
			return fmt.Errorf("augment: %s: label %d of image %d outside [0, %d)", op, l, i, b.Classes)
		}
	}
	return nil
}

// SoftTargets returns [B, K] targets lam·onehot(label) + (1−lam)·
// onehot(flipped label), where image i is mixed with image B−1−i, each
// one-hot smoothed to 1−s+s/K on the class and s/K elsewhere (timm's
// mixup_target). Every row sums to 1.
func SoftTargets(labels []int, classes int, lam, smoothing float64) []float32 {
	n := len(labels)
	off := smoothing / float64(classes)
	on := 1 - smoothing + off
	t := make([]float32, n*classes)
	for i, l := range labels {
		row := t[i*classes : (i+1)*classes]
		for k := range row {
			row[k] = float32(off)
		}
		m := labels[n-1-i]
		if m == l {
			row[l] = float32(on)
		} else {
			row[l] = float32(off + (on-off)*lam)
			row[m] = float32(off + (on-off)*(1-lam))
		}
	}
	return t
}

// mixupLambda blends each image with its mirror in the batch, x_i ←
// lam·x_i + (1−lam)·x_{B−1−i}, in place.
func mixupLambda(b Batch, lam float64) {
	if lam == 1 {
		return
	}
	n, sz := len(b.Labels), b.C*b.H*b.W
	l, m := float32(lam), float32(1-lam)
	for i := 0; i < n/2; i++ {
		xi, xj := b.X[i*sz:(i+1)*sz], b.X[(n-1-i)*sz:(n-i)*sz]
		for k := range xi {
			a, c := xi[k], xj[k]
			xi[k], xj[k] = l*a+m*c, l*c+m*a
		}
	}
}

// Mixup mixes every image with its mirror in the batch (timm's "batch"
// mode) with lam ~ Beta(alpha, alpha), in place, and returns the [B, K]
// soft targets and lam (Zhang et al. 2018).
func Mixup(b Batch, alpha, smoothing float64, r *rand.Rand) (targets []float32, lam float64, err error) {
	if err := b.check("mixup"); err != nil {
		return nil, 0, err
	}
	if alpha <= 0 {
		return nil, 0, fmt.Errorf("augment: mixup: alpha %g, want > 0", alpha)
	}
	lam = Beta(r, alpha, alpha)
	mixupLambda(b, lam)
	return SoftTargets(b.Labels, b.Classes, lam, smoothing), lam, nil
}

// cutmixBox is timm's rand_bbox: a box of sides ⌊H·√(1−lam)⌋ and
// ⌊W·√(1−lam)⌋ centred at a uniform pixel, clipped to the image.
func cutmixBox(h, w int, lam float64, r *rand.Rand) Window {
	ratio := math.Sqrt(1 - lam)
	ch, cw := int(float64(h)*ratio), int(float64(w)*ratio)
	cy, cx := r.IntN(h), r.IntN(w)
	y0, y1 := min(max(cy-ch/2, 0), h), min(max(cy+ch/2, 0), h)
	x0, x1 := min(max(cx-cw/2, 0), w), min(max(cx+cw/2, 0), w)
	return Window{X: x0, Y: y0, W: x1 - x0, H: y1 - y0}
}

// cutmixBoxSwap swaps the box between each image and its mirror in the
// batch, in place, and returns lam corrected to 1 − box area share.
func cutmixBoxSwap(b Batch, win Window) float64 {
	n, sz, plane := len(b.Labels), b.C*b.H*b.W, b.H*b.W
	for i := 0; i < n/2; i++ {
		xi, xj := b.X[i*sz:(i+1)*sz], b.X[(n-1-i)*sz:(n-i)*sz]
		for c := 0; c < b.C; c++ {
			for y := win.Y; y < win.Y+win.H; y++ {
				o := c*plane + y*b.W + win.X
				ri, rj := xi[o:o+win.W], xj[o:o+win.W]
				for k := range ri {
					ri[k], rj[k] = rj[k], ri[k]
				}
			}
		}
	}
	return 1 - float64(win.W*win.H)/float64(plane)
}

// CutMix pastes into every image a box cut from its mirror in the batch
// (timm's "batch" mode), in place; lam ~ Beta(alpha, alpha) sets the box
// size and is then corrected to the share of the image left uncovered. It
// returns the [B, K] soft targets and the corrected lam (Yun et al. 2019).
func CutMix(b Batch, alpha, smoothing float64, r *rand.Rand) (targets []float32, lam float64, err error) {
	if err := b.check("cutmix"); err != nil {
		return nil, 0, err
	}
	if alpha <= 0 {
		return nil, 0, fmt.Errorf("augment: cutmix: alpha %g, want > 0", alpha)
	}
	lam = cutmixBoxSwap(b, cutmixBox(b.H, b.W, Beta(r, alpha, alpha), r))
	return SoftTargets(b.Labels, b.Classes, lam, smoothing), lam, nil
}

// MixCutMix is timm's Mixup with both methods: per batch, with probability
// Prob, it mixes, by CutMix with probability SwitchProb and by Mixup
// otherwise; a zero alpha disables that method. timm's defaults are
// MixupAlpha 0.8, CutMixAlpha 1.0, Smoothing 0.1.
type MixCutMix struct {
	MixupAlpha  float64 // 0 disables Mixup
	CutMixAlpha float64 // 0 disables CutMix
	SwitchProb  float64 // P(CutMix) when both are enabled; default 0.5
	Prob        float64 // P(mixing a batch at all); default 1
	Smoothing   float64 // label smoothing inside the targets; default 0
}

// Validate checks the parameters.
func (m MixCutMix) Validate() error {
	if m.MixupAlpha < 0 || m.CutMixAlpha < 0 || m.MixupAlpha == 0 && m.CutMixAlpha == 0 {
		return fmt.Errorf("augment: mixcutmix: alphas mixup %g, cutmix %g: want ≥ 0, one > 0", m.MixupAlpha, m.CutMixAlpha)
	}
	for _, p := range []float64{m.SwitchProb, m.Prob, m.Smoothing} {
		if err := checkProb(p); err != nil {
			return fmt.Errorf("augment: mixcutmix: %w", err)
		}
	}
	return nil
}

// mix draws the method and lam, and mixes the images of b in place.
func (m MixCutMix) mix(b Batch, r *rand.Rand) (lam float64) {
	switchP, prob := m.SwitchProb, m.Prob
	if switchP == 0 {
		switchP = 0.5
	}
	if prob == 0 {
		prob = 1
	}
	if r.Float64() >= prob {
		return 1
	}
	if m.MixupAlpha == 0 || m.CutMixAlpha > 0 && r.Float64() < switchP {
		return cutmixBoxSwap(b, cutmixBox(b.H, b.W, Beta(r, m.CutMixAlpha, m.CutMixAlpha), r))
	}
	lam = Beta(r, m.MixupAlpha, m.MixupAlpha)
	mixupLambda(b, lam)
	return lam
}

// Apply mixes the batch in place and returns its [B, K] soft targets and
// lam (1 when the batch was left unmixed).
func (m MixCutMix) Apply(b Batch, r *rand.Rand) (targets []float32, lam float64, err error) {
	if err := b.check("mixcutmix"); err != nil {
		return nil, 0, err
	}
	if err := m.Validate(); err != nil {
		return nil, 0, err
	}
	lam = m.mix(b, r)
	return SoftTargets(b.Labels, b.Classes, lam, m.Smoothing), lam, nil
}

// MixSoft is Apply for a batch whose targets are already rows of class
// weights: x holds n images of 3×size×size, soft n rows of classes
// weights (one-hot for plain labels), both changed in place. Each row is
// smoothed, then mixed with its mirror as the images are, which for one-hot
// rows gives exactly Apply's targets. It has the shape of the data
// loader's BatchMix hook; call Validate first, since it panics on bad
// parameters or sizes.
func (m MixCutMix) MixSoft(x, soft []float32, n, size, classes int, r *rand.Rand) {
	if err := m.Validate(); err != nil {
		panic(err)
	}
	if len(x) != n*3*size*size || len(soft) != n*classes {
		panic(fmt.Sprintf("augment: mixcutmix: x has %d values, soft %d; want %d·3·%d·%d and %d·%d", len(x), len(soft), n, size, size, n, classes))
	}
	b := Batch{X: x, C: 3, H: size, W: size, Labels: make([]int, n), Classes: classes}
	lam := m.mix(b, r)
	s := float32(m.Smoothing)
	off := s / float32(classes)
	for i := range soft {
		soft[i] = soft[i]*(1-s) + off
	}
	l, o := float32(lam), float32(1-lam)
	for i := 0; i < n/2; i++ {
		a, c := soft[i*classes:(i+1)*classes], soft[(n-1-i)*classes:(n-i)*classes]
		for k := range a {
			a[k], c[k] = l*a[k]+o*c[k], l*c[k]+o*a[k]
		}
	}
}

// EraseSquare is EraseCHW for a 3×size×size image, the shape of the data
// loader's Erase hook.
func (e RandomErasing) EraseSquare(chw []float32, size int, r *rand.Rand) {
	e.EraseCHW(chw, 3, size, size, r)
}
