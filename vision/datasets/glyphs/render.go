package glyphs

import (
	"image"
	"image/draw"
	"math"
	"math/rand/v2"

	"golang.org/x/image/font/sfnt"
	"golang.org/x/image/vector"
)

// Distortion holds the ranges of the random changes made to each image.
// Every draw is uniform over its range.
type Distortion struct {
	// RotationDeg is the largest rotation either way, in degrees.
	RotationDeg float64 `json:"rotation_deg"`
	// ScaleMin and ScaleMax bound the glyph's larger side as a fraction of
	// the 20/28 of the image that MNIST's digits fill.
	ScaleMin float64 `json:"scale_min"`
	ScaleMax float64 `json:"scale_max"`
	// Aspect is the largest relative stretch of width against height.
	Aspect float64 `json:"aspect"`
	// Shear is the largest horizontal shear (x += shear·y) either way.
	Shear float64 `json:"shear"`
	// Translate is the largest shift along each axis, as a fraction of the
	// image side.
	Translate float64 `json:"translate"`
	// WeightMin and WeightMax bound the stroke-weight change: that many
	// passes of a 3×3 dilation (positive) or erosion (negative) at
	// Supersample times the output resolution.
	WeightMin int `json:"weight_min"`
	WeightMax int `json:"weight_max"`
	// BlurProb is the probability that an image is blurred; BlurMax the
	// largest blend weight of its 3×3 binomial blur.
	BlurProb float64 `json:"blur_prob"`
	BlurMax  float64 `json:"blur_max"`
	// NoiseMax is the largest standard deviation of the additive Gaussian
	// pixel noise, on a 0..1 intensity scale.
	NoiseMax float64 `json:"noise_max"`
	// Supersample is the factor glyphs are rasterised at before being
	// averaged down to the output size.
	Supersample int `json:"supersample"`
}

// DefaultDistortion is the distortion Generate applies.
var DefaultDistortion = Distortion{
	RotationDeg: 15,
	ScaleMin:    0.8, ScaleMax: 1.05,
	Aspect:    0.12,
	Shear:     0.25,
	Translate: 0.07,
	WeightMin: -1, WeightMax: 3,
	BlurProb: 0.5, BlurMax: 0.6,
	NoiseMax:    0.04,
	Supersample: 4,
}

// renderer draws distorted glyphs; one per goroutine.
type renderer struct {
	d     Distortion
	size  int
	ras   *vector.Rasterizer
	alpha *image.Alpha
	tmp   []uint8
	px    []float64
	blur  []float64
	blurT []float64 // the blur's scratch
}

func newRenderer(d Distortion, size int) *renderer {
	hs := size * d.Supersample
	return &renderer{
		d: d, size: size,
		ras:   vector.NewRasterizer(hs, hs),
		alpha: image.NewAlpha(image.Rect(0, 0, hs, hs)),
		tmp:   make([]uint8, hs*hs),
		px:    make([]float64, size*size),
		blur:  make([]float64, size*size),
		blurT: make([]float64, size*size),
	}
}

// uniform draws from [lo, hi).
func uniform(rng *rand.Rand, lo, hi float64) float64 { return lo + (hi-lo)*rng.Float64() }

// render draws o, distorted with draws from rng, white on black.
func (r *renderer) render(o outline, rng *rand.Rand) *image.Gray {
	d, ss := r.d, r.d.Supersample
	hs := float64(r.size * ss)

	// Affine map from em units to supersampled pixels: centre the glyph's
	// box, scale its larger side, stretch, shear, rotate, shift.
	cx, cy := (o.minX+o.maxX)/2, (o.minY+o.maxY)/2
	ext := max(o.maxX-o.minX, o.maxY-o.minY)
	s := hs * 20 / 28 * uniform(rng, d.ScaleMin, d.ScaleMax) / ext
	a := uniform(rng, 1-d.Aspect, 1+d.Aspect)
	sx, sy := s*a, s/a
	k := uniform(rng, -d.Shear, d.Shear)
	th := uniform(rng, -d.RotationDeg, d.RotationDeg) * math.Pi / 180
	sin, cos := math.Sincos(th)
	tx := hs/2 + uniform(rng, -d.Translate, d.Translate)*hs
	ty := hs/2 + uniform(rng, -d.Translate, d.Translate)*hs
	pt := func(p [2]float64) (float32, float32) {
		u, v := (p[0]-cx)*sx, (p[1]-cy)*sy
		u += k * v
		return float32(cos*u - sin*v + tx), float32(sin*u + cos*v + ty)
	}

	z := r.ras
	z.Reset(int(hs), int(hs))
	z.DrawOp = draw.Src
	started := false
	for _, sg := range o.segs {
		switch sg.op {
		case sfnt.SegmentOpMoveTo:
			if started {
				z.ClosePath()
			}
			started = true
			z.MoveTo(pt(sg.p[0]))
		case sfnt.SegmentOpLineTo:
			z.LineTo(pt(sg.p[0]))
		case sfnt.SegmentOpQuadTo:
			bx, by := pt(sg.p[0])
			x, y := pt(sg.p[1])
			z.QuadTo(bx, by, x, y)
		case sfnt.SegmentOpCubeTo:
			bx, by := pt(sg.p[0])
			qx, qy := pt(sg.p[1])
			x, y := pt(sg.p[2])
			z.CubeTo(bx, by, qx, qy, x, y)
		}
	}
	if started {
		z.ClosePath()
	}
	z.Draw(r.alpha, r.alpha.Bounds(), image.Opaque, image.Point{})

	// Stroke weight: dilate or erode at the supersampled resolution.
	w := d.WeightMin + rng.IntN(d.WeightMax-d.WeightMin+1)
	for range abs(w) {
		morph(r.alpha.Pix, r.tmp, int(hs), w > 0)
	}

	// Average down to the output size.
	n := r.size
	norm := 1 / float64(ss*ss*255)
	for y := range n {
		for x := range n {
			sum := 0
			for dy := range ss {
				row := r.alpha.Pix[(y*ss+dy)*int(hs)+x*ss:]
				for dx := range ss {
					sum += int(row[dx])
				}
			}
			r.px[y*n+x] = float64(sum) * norm
		}
	}

	if rng.Float64() < d.BlurProb {
		b := uniform(rng, 0, d.BlurMax)
		binomial(r.px, r.blur, r.blurT, n)
		for i, v := range r.blur {
			r.px[i] = (1-b)*r.px[i] + b*v
		}
	}

	// Stretch the brightest pixel to white, as MNIST's digits are: thin,
	// eroded or blurred strokes stay thin but not faint.
	peak := 0.0
	for _, v := range r.px {
		peak = max(peak, v)
	}
	if peak > 0 {
		for i := range r.px {
			r.px[i] /= peak
		}
	}

	sigma := uniform(rng, 0, d.NoiseMax)
	img := image.NewGray(image.Rect(0, 0, n, n))
	for i, v := range r.px {
		v += sigma * rng.NormFloat64()
		img.Pix[i] = uint8(math.Round(255 * min(1, max(0, v))))
	}
	return img
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// morph applies one 3×3 dilation (grow) or erosion to the n×n pix, using
// tmp (same length) as scratch; it is separable into a row and a column
// pass. Outside the image counts as background.
func morph(pix, tmp []uint8, n int, grow bool) {
	pick := func(a, b uint8) uint8 {
		if (a > b) == grow {
			return a
		}
		return b
	}
	at := func(p []uint8, i, j, di, dj int) uint8 {
		i, j = i+di, j+dj
		if i < 0 || j < 0 || i >= n || j >= n {
			return 0
		}
		return p[i*n+j]
	}
	for i := range n {
		for j := range n {
			tmp[i*n+j] = pick(pick(at(pix, i, j, 0, -1), pix[i*n+j]), at(pix, i, j, 0, 1))
		}
	}
	for i := range n {
		for j := range n {
			pix[i*n+j] = pick(pick(at(tmp, i, j, -1, 0), tmp[i*n+j]), at(tmp, i, j, 1, 0))
		}
	}
}

// binomial writes the 3×3 [1 2 1]/4 ⊗ [1 2 1]/4 blur of the n×n src to dst,
// repeating edge pixels; tmp (same length) is scratch.
func binomial(src, dst, tmp []float64, n int) {
	at := func(p []float64, i, j int) float64 {
		return p[min(n-1, max(0, i))*n+min(n-1, max(0, j))]
	}
	for i := range n {
		for j := range n {
			tmp[i*n+j] = (at(src, i, j-1) + 2*src[i*n+j] + at(src, i, j+1)) / 4
		}
	}
	for i := range n {
		for j := range n {
			dst[i*n+j] = (at(tmp, i-1, j) + 2*tmp[i*n+j] + at(tmp, i+1, j)) / 4
		}
	}
}
