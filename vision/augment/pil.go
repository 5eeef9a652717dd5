package augment

// Image operations computed as Pillow 9 computes them, since torchvision
// applies its colour and geometric transforms to PIL images through Pillow.
// Each returns a new image and leaves its input alone.

import (
	"math"
	"strconv"

	"github.com/gtl-dev/gtl/vision/transforms"
)

func newLike(img transforms.RGB) transforms.RGB {
	return transforms.RGB{W: img.W, H: img.H, Pix: make([]uint8, len(img.Pix))}
}

// luma is Pillow's RGB→L conversion (ITU-R 601-2, 16-bit fixed point).
func luma(r, g, b uint8) uint8 {
	return uint8((uint32(r)*19595 + uint32(g)*38470 + uint32(b)*7471 + 0x8000) >> 16)
}

// blendSample is Pillow's ImagingBlend on one sample: a + alpha·(b − a) in
// float32, truncated and clipped.
func blendSample(a, b uint8, alpha float32) uint8 {
	t := float32(a) + alpha*float32(int(b)-int(a))
	switch {
	case t <= 0:
		return 0
	case t >= 255:
		return 255
	}
	return uint8(t)
}

// blend is Image.blend(degenerate, img, alpha); degenerate may be nil
// for black.
func blend(deg []uint8, img transforms.RGB, alpha float64) transforms.RGB {
	out := newLike(img)
	if alpha == 1 {
		copy(out.Pix, img.Pix)
		return out
	}
	a := float32(alpha)
	if deg == nil {
		for i, v := range img.Pix {
			out.Pix[i] = blendSample(0, v, a)
		}
		return out
	}
	for i, v := range img.Pix {
		out.Pix[i] = blendSample(deg[i], v, a)
	}
	return out
}

// adjustBrightness is ImageEnhance.Brightness(img).enhance(f).
func adjustBrightness(img transforms.RGB, f float64) transforms.RGB {
	return blendConst(img, 0, f)
}

// blendConst is Image.blend(constant image, img, alpha), through a table.
func blendConst(img transforms.RGB, c uint8, alpha float64) transforms.RGB {
	if alpha == 1 {
		return copyRGB(img)
	}
	var lut [3][256]uint8
	a := float32(alpha)
	for v := range 256 {
		lut[0][v] = blendSample(c, uint8(v), a)
	}
	lut[1], lut[2] = lut[0], lut[0]
	return applyLUT(img, &lut)
}

// adjustContrast is ImageEnhance.Contrast(img).enhance(f): blend with the
// grey of the image's mean luma.
func adjustContrast(img transforms.RGB, f float64) transforms.RGB {
	var sum int64
	for i := 0; i < len(img.Pix); i += 3 {
		sum += int64(luma(img.Pix[i], img.Pix[i+1], img.Pix[i+2]))
	}
	mean := uint8(0)
	if n := len(img.Pix) / 3; n > 0 {
		mean = uint8(int(float64(sum)/float64(n) + 0.5))
	}
	return blendConst(img, mean, f)
}

// adjustSaturation is ImageEnhance.Color(img).enhance(f): blend with the
// image's greyscale.
func adjustSaturation(img transforms.RGB, f float64) transforms.RGB {
	deg := make([]uint8, len(img.Pix))
	for i := 0; i < len(img.Pix); i += 3 {
		l := luma(img.Pix[i], img.Pix[i+1], img.Pix[i+2])
		deg[i], deg[i+1], deg[i+2] = l, l, l
	}
	return blend(deg, img, f)
}

// adjustSharpness is ImageEnhance.Sharpness(img).enhance(f): blend with
// the image smoothed by Pillow's SMOOTH kernel (border pixels kept).
func adjustSharpness(img transforms.RGB, f float64) transforms.RGB {
	deg := make([]uint8, len(img.Pix))
	copy(deg, img.Pix)
	w, h := img.W, img.H
	const k, c = float32(1.0 / 13), float32(5.0 / 13)
	for y := 1; y < h-1; y++ {
		up, mid, dn := img.Pix[3*(y-1)*w:3*y*w], img.Pix[3*y*w:3*(y+1)*w], img.Pix[3*(y+1)*w:3*(y+2)*w]
		for x := 1; x < w-1; x++ {
			for ch := 0; ch < 3; ch++ {
				i := 3*x + ch
				// Pillow's ImagingFilter3x3 order: row below, row, row above.
				ss := float32(0)
				ss += float32(dn[i-3])*k + float32(dn[i])*k + float32(dn[i+3])*k
				ss += float32(mid[i-3])*k + float32(mid[i])*c + float32(mid[i+3])*k
				ss += float32(up[i-3])*k + float32(up[i])*k + float32(up[i+3])*k
				deg[3*y*w+i] = clipF(ss + 0.5)
			}
		}
	}
	return blend(deg, img, f)
}

func clipF(v float32) uint8 {
	switch {
	case v <= 0:
		return 0
	case v >= 255:
		return 255
	}
	return uint8(v)
}

// adjustHue is torchvision's PIL adjust_hue: to Pillow's 8-bit HSV, add
// uint8(f·255) to H with wrap-around, back to RGB. f in [-0.5, 0.5].
func adjustHue(img transforms.RGB, f float64) transforms.RGB {
	shift := uint8(int(f * 255))
	out := newLike(img)
	p := img.Pix
	for i := 0; i+2 < len(p); i += 3 {
		h, s, v := rgbToHSV(p[i], p[i+1], p[i+2])
		out.Pix[i], out.Pix[i+1], out.Pix[i+2] = hsvToRGB(h+shift, s, v)
	}
	return out
}

func clip8i(v int) uint8 {
	if v < 0 {
		return 0
	}
	if v > 255 {
		return 255
	}
	return uint8(v)
}

// rgbToHSV is Pillow's rgb2hsv_row.
func rgbToHSV(r, g, b uint8) (uint8, uint8, uint8) {
	maxc, minc := max(r, g, b), min(r, g, b)
	if maxc == minc {
		return 0, 0, maxc
	}
	cr := float32(maxc - minc)
	s := cr / float32(maxc)
	rc := float32(maxc-r) / cr
	gc := float32(maxc-g) / cr
	bc := float32(maxc-b) / cr
	var h float32
	switch {
	case r == maxc:
		h = bc - gc
	case g == maxc:
		h = float32(2 + float64(rc) - float64(bc)) // C: double literal
	default:
		h = float32(4 + float64(gc) - float64(rc))
	}
	// fmod(h/6 + 1, 1) in C; exact as a subtraction since h/6+1 < 2.
	hh := float64(h)/6 + 1
	if hh >= 1 {
		hh--
	}
	h = float32(hh)
	return clip8i(int(float64(h) * 255)), clip8i(int(float64(s) * 255)), maxc
}

// Pillow's hsv2rgb per-byte terms, tabulated.
var hueSector, hueFrac, satFrac = func() (sec [256]int, frac, sat [256]float32) {
	for b := range 256 {
		sec[b] = int(math.Floor(float64(float32(b)) * 6 / 255))
		frac[b] = float32(float64(float32(b))*6/255 - float64(sec[b]))
		sat[b] = float32(float64(float32(b)) / 255)
	}
	return sec, frac, sat
}()

// hsvToRGB is Pillow's hsv2rgb.
func hsvToRGB(h, s, v uint8) (uint8, uint8, uint8) {
	if s == 0 {
		return v, v, v
	}
	i, f, fs := hueSector[h], hueFrac[h], satFrac[s]
	fv := float64(v)
	p := clip8i(int(math.Round(fv * float64(1-fs))))
	q := clip8i(int(math.Round(fv * float64(1-fs*f))))
	t := clip8i(int(math.Round(fv * float64(1-fs*(1-f)))))
	switch i % 6 {
	case 0:
		return v, t, p
	case 1:
		return q, v, p
	case 2:
		return p, v, t
	case 3:
		return p, q, v
	case 4:
		return t, p, v
	}
	return v, p, q
}

// applyLUT maps each channel through its 256-entry table.
func applyLUT(img transforms.RGB, lut *[3][256]uint8) transforms.RGB {
	out := newLike(img)
	for i := 0; i+2 < len(img.Pix); i += 3 {
		out.Pix[i] = lut[0][img.Pix[i]]
		out.Pix[i+1] = lut[1][img.Pix[i+1]]
		out.Pix[i+2] = lut[2][img.Pix[i+2]]
	}
	return out
}

func histogram(img transforms.RGB) (h [3][256]int) {
	for i := 0; i+2 < len(img.Pix); i += 3 {
		h[0][img.Pix[i]]++
		h[1][img.Pix[i+1]]++
		h[2][img.Pix[i+2]]++
	}
	return h
}

// posterize is ImageOps.posterize: keep the top bits of each sample.
func posterize(img transforms.RGB, bits int) transforms.RGB {
	bits = min(max(bits, 0), 8)
	mask := ^uint8(1<<(8-bits) - 1)
	var lut [3][256]uint8
	for i := range 256 {
		lut[0][i] = uint8(i) & mask
	}
	lut[1], lut[2] = lut[0], lut[0]
	return applyLUT(img, &lut)
}

// solarize is ImageOps.solarize: invert samples at or above threshold.
func solarize(img transforms.RGB, threshold float64) transforms.RGB {
	var lut [3][256]uint8
	for i := range 256 {
		if float64(i) < threshold {
			lut[0][i] = uint8(i)
		} else {
			lut[0][i] = uint8(255 - i)
		}
	}
	lut[1], lut[2] = lut[0], lut[0]
	return applyLUT(img, &lut)
}

// autocontrast is ImageOps.autocontrast with no cutoff: stretch each
// channel's range to [0, 255].
func autocontrast(img transforms.RGB) transforms.RGB {
	hist := histogram(img)
	var lut [3][256]uint8
	for c := range 3 {
		h := &hist[c]
		lo, hi := 0, 255
		for lo < 255 && h[lo] == 0 {
			lo++
		}
		for hi > 0 && h[hi] == 0 {
			hi--
		}
		if hi <= lo {
			for i := range 256 {
				lut[c][i] = uint8(i)
			}
			continue
		}
		scale := 255.0 / float64(hi-lo)
		offset := -float64(lo) * scale
		for i := range 256 {
			lut[c][i] = clip8i(int(float64(i)*scale + offset))
		}
	}
	return applyLUT(img, &lut)
}

// equalize is ImageOps.equalize: flatten each channel's histogram.
func equalize(img transforms.RGB) transforms.RGB {
	hist := histogram(img)
	var lut [3][256]uint8
	for c := range 3 {
		h := &hist[c]
		nonzero, sum, last := 0, 0, 0
		for _, v := range h {
			if v != 0 {
				nonzero++
				sum += v
				last = v
			}
		}
		step := 0
		if nonzero > 1 {
			step = (sum - last) / 255
		}
		if step == 0 {
			for i := range 256 {
				lut[c][i] = uint8(i)
			}
			continue
		}
		n := step / 2
		for i := range 256 {
			lut[c][i] = clip8i(n / step)
			n += h[i]
		}
	}
	return applyLUT(img, &lut)
}

// Interpolation picks how geometric ops sample the source image.
type Interpolation int

// Interpolations. The zero value is Bilinear.
const (
	Bilinear Interpolation = iota
	Nearest
)

// String names the interpolation.
func (i Interpolation) String() string {
	if i == Nearest {
		return "nearest"
	}
	return "bilinear"
}

// affine is Image.transform(size, AFFINE, a, resample, fillcolor): output
// pixel (x, y) samples the input at a·(x+0.5, y+0.5, 1); pixels that map
// outside the input get fill.
func affine(img transforms.RGB, a [6]float64, interp Interpolation, fill [3]uint8) transforms.RGB {
	out := newLike(img)
	w, h := img.W, img.H
	for i := 0; i+2 < len(out.Pix); i += 3 {
		out.Pix[i], out.Pix[i+1], out.Pix[i+2] = fill[0], fill[1], fill[2]
	}
	if interp == Nearest {
		affineNearest(img, out, a)
		return out
	}
	fw, fh := float64(w), float64(h)
	for y := 0; y < h; y++ {
		yin0 := float64(y) + 0.5
		for x := 0; x < w; x++ {
			xin0 := float64(x) + 0.5
			xin := a[0]*xin0 + a[1]*yin0 + a[2]
			yin := a[3]*xin0 + a[4]*yin0 + a[5]
			if xin < 0 || xin >= fw || yin < 0 || yin >= fh {
				continue
			}
			xin -= 0.5
			yin -= 0.5
			fx, fy := math.Floor(xin), math.Floor(yin)
			dx, dy := xin-fx, yin-fy
			ix, iy := int(fx), int(fy)
			x0, x1 := 3*clampI(ix, w), 3*clampI(ix+1, w)
			row0 := img.Pix[3*clampI(iy, h)*w:]
			hasRow1 := iy+1 >= 0 && iy+1 < h
			var row1 []uint8
			if hasRow1 {
				row1 = img.Pix[3*(iy+1)*w:]
			}
			o := out.Pix[3*(y*w+x):]
			for c := 0; c < 3; c++ {
				a0, b0 := float64(row0[x0+c]), float64(row0[x1+c])
				v1 := a0 + (b0-a0)*dx
				v2 := v1
				if hasRow1 {
					a1, b1 := float64(row1[x0+c]), float64(row1[x1+c])
					v2 = a1 + (b1-a1)*dx
				}
				v := v1 + (v2-v1)*dy
				o[c] = clip8i(int(v)) // Pillow truncates
			}
		}
	}
	return out
}

func clampI(v, n int) int {
	if v < 0 {
		return 0
	}
	if v >= n {
		return n - 1
	}
	return v
}

// affineNearest is Pillow's affine_fixed: 16.16 fixed-point stepping.
func affineNearest(img, out transforms.RGB, a [6]float64) {
	fix := func(v float64) int64 { return int64(math.Floor(v*65536 + 0.5)) }
	a0, a1, a3, a4 := fix(a[0]), fix(a[1]), fix(a[3]), fix(a[4])
	a2 := fix(a[2] + a[1]*0.5 + a[0]*0.5)
	a5 := fix(a[5] + a[4]*0.5 + a[3]*0.5)
	w, h := img.W, img.H
	for y := 0; y < h; y++ {
		xx, yy := a2, a5
		for x := 0; x < w; x++ {
			xin, yin := int(xx>>16), int(yy>>16)
			if xin >= 0 && xin < w && yin >= 0 && yin < h {
				copy(out.Pix[3*(y*w+x):3*(y*w+x)+3], img.Pix[3*(yin*w+xin):])
			}
			xx += a0
			yy += a3
		}
		a2 += a1
		a5 += a4
	}
}

// rotate is Image.rotate(angle, resample, expand=False, fillcolor=fill):
// counter-clockwise by angle degrees about the image centre.
func rotate(img transforms.RGB, angle float64, interp Interpolation, fill [3]uint8) transforms.RGB {
	angle = math.Mod(angle, 360)
	if angle < 0 {
		angle += 360
	}
	switch {
	case angle == 0:
		return copyRGB(img)
	case angle == 180:
		return rotate180(img)
	}
	cx, cy := float64(img.W)/2, float64(img.H)/2
	rad := -(angle * radians)
	// Python's round(v, 15): correctly rounded in decimal, then parsed.
	r15 := func(v float64) float64 {
		f, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'f', 15, 64), 64)
		return f
	}
	m := [6]float64{r15(math.Cos(rad)), r15(math.Sin(rad)), 0, r15(-math.Sin(rad)), r15(math.Cos(rad)), 0}
	m[2] = m[0]*-cx + m[1]*-cy + m[2]
	m[5] = m[3]*-cx + m[4]*-cy + m[5]
	m[2] += cx
	m[5] += cy
	return affine(img, m, interp, fill)
}

func copyRGB(img transforms.RGB) transforms.RGB {
	return transforms.RGB{W: img.W, H: img.H, Pix: append([]uint8(nil), img.Pix...)}
}

func rotate180(img transforms.RGB) transforms.RGB {
	out := newLike(img)
	n := len(img.Pix)
	for i := 0; i < n; i += 3 {
		copy(out.Pix[n-3-i:n-i], img.Pix[i:i+3])
	}
	return out
}

// torchAffine is torchvision's F.affine on a PIL image: the inverse matrix
// of _get_inverse_affine_matrix (scale 1), applied with affine.
func torchAffine(img transforms.RGB, angle float64, tx, ty float64, shearX, shearY float64, center *[2]float64, interp Interpolation, fill [3]uint8) transforms.RGB {
	cx, cy := float64(img.W)*0.5, float64(img.H)*0.5
	if center != nil {
		cx, cy = center[0], center[1]
	}
	rot := angle * radians
	sx, sy := shearX*radians, shearY*radians
	a := math.Cos(rot-sy) / math.Cos(sy)
	b := -math.Cos(rot-sy)*math.Tan(sx)/math.Cos(sy) - math.Sin(rot)
	c := math.Sin(rot-sy) / math.Cos(sy)
	d := -math.Sin(rot-sy)*math.Tan(sx)/math.Cos(sy) + math.Cos(rot)
	m := [6]float64{d, -b, 0, -c, a, 0}
	m[2] += m[0]*(-cx-tx) + m[1]*(-cy-ty)
	m[5] += m[3]*(-cx-tx) + m[4]*(-cy-ty)
	m[2] += cx
	m[5] += cy
	return affine(img, m, interp, fill)
}

// Python's math.radians and math.degrees multiply by these constants;
// multiplying in another order can round differently.
const (
	radians = math.Pi / 180
	degrees = 180 / math.Pi
)
