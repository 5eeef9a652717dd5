package transforms

import (
	"math"
)

// RGB is an 8-bit image with interleaved R, G, B samples, rows top to bottom.
type RGB struct {
	W, H int
	Pix  []uint8 // len 3*W*H
}

// Filter is a resampling filter.
type Filter int

// The filters torchvision's pretrained weights use.
const (
	Bilinear Filter = iota
	Bicubic
)

func (f Filter) String() string { return [...]string{"bilinear", "bicubic"}[f] }

func (f Filter) support() float64 {
	if f == Bicubic {
		return 2
	}
	return 1
}

func (f Filter) weight(x float64) float64 {
	x = math.Abs(x)
	if f == Bicubic { // PIL's cubic, a = -0.5
		const a = -0.5
		switch {
		case x < 1:
			return ((a+2)*x-(a+3))*x*x + 1
		case x < 2:
			return (((x-5)*x+8)*x - 4) * a
		}
		return 0
	}
	if x < 1 {
		return 1 - x
	}
	return 0
}

// PIL computes with 8-bit samples and fixed-point weights of this precision.
const precisionBits = 32 - 8 - 2

// coefficients returns, for each output position, the first input index
// and the fixed-point weights, as PIL's precompute_coeffs does.
func coefficients(in, out int, f Filter) (bounds []int, weights [][]int32) {
	scale := float64(in) / float64(out)
	filterScale := math.Max(scale, 1)
	support := f.support() * filterScale
	bounds = make([]int, out)
	weights = make([][]int32, out)
	for xx := 0; xx < out; xx++ {
		center := (float64(xx) + 0.5) * scale
		xmin := int(math.Max(math.Trunc(center-support+0.5), 0))
		xmax := int(math.Min(math.Trunc(center+support+0.5), float64(in))) - xmin
		k := make([]float64, xmax)
		var ww float64
		for x := 0; x < xmax; x++ {
			w := f.weight((float64(x+xmin) - center + 0.5) / filterScale)
			k[x] = w
			ww += w
		}
		fixed := make([]int32, xmax)
		for x := range k {
			if ww != 0 {
				k[x] /= ww
			}
			// PIL rounds half away from zero.
			if k[x] < 0 {
				fixed[x] = int32(-0.5 + k[x]*(1<<precisionBits))
			} else {
				fixed[x] = int32(0.5 + k[x]*(1<<precisionBits))
			}
		}
		bounds[xx], weights[xx] = xmin, fixed
	}
	return bounds, weights
}

// clip8 turns a fixed-point sum into a sample, as PIL's clip8 (PIL sums
// in 32-bit ints too).
func clip8(v int32) uint8 {
	v >>= precisionBits
	if v < 0 {
		return 0
	}
	if v > 255 {
		return 255
	}
	return uint8(v)
}

// Resize scales img to w×h with filter f, computing exactly as PIL's
// Image.resize (antialiased, horizontal pass first, 8-bit intermediate).
func Resize(img RGB, w, h int, f Filter) RGB {
	out := img
	if w != img.W {
		out = resizeHorizontal(img, w, f)
	}
	if h != out.H {
		out = resizeVertical(out, h, f)
	}
	if out.W == img.W && out.H == img.H { // no pass ran: still return a copy
		out = RGB{W: img.W, H: img.H, Pix: append([]uint8(nil), img.Pix...)}
	}
	return out
}

// resizeHorizontal scales the width to w, all three channels of a pixel
// at once.
func resizeHorizontal(img RGB, w int, f Filter) RGB {
	bounds, weights := coefficients(img.W, w, f)
	out := RGB{W: w, H: img.H, Pix: make([]uint8, 3*w*img.H)}
	const half = int32(1) << (precisionBits - 1)
	for y := 0; y < img.H; y++ {
		row := img.Pix[3*y*img.W : 3*(y+1)*img.W]
		dst := out.Pix[3*y*w : 3*(y+1)*w]
		for xx := 0; xx < w; xx++ {
			k := weights[xx]
			src := row[3*bounds[xx] : 3*(bounds[xx]+len(k))]
			ss0, ss1, ss2 := half, half, half
			for len(k) >= 2 {
				p := src[:6:6]
				k0, k1 := k[0], k[1]
				ss0 += int32(p[0])*k0 + int32(p[3])*k1
				ss1 += int32(p[1])*k0 + int32(p[4])*k1
				ss2 += int32(p[2])*k0 + int32(p[5])*k1
				src, k = src[6:], k[2:]
			}
			if len(k) == 1 {
				p := src[:3:3]
				ss0 += int32(p[0]) * k[0]
				ss1 += int32(p[1]) * k[0]
				ss2 += int32(p[2]) * k[0]
			}
			d := dst[3*xx : 3*xx+3]
			d[0], d[1], d[2] = clip8(ss0), clip8(ss1), clip8(ss2)
		}
	}
	return out
}

// resizeVertical scales the height to h, a whole row at a time (integer
// sums do not depend on the order of their terms, so this equals PIL's
// column-by-column loop).
func resizeVertical(img RGB, h int, f Filter) RGB {
	bounds, weights := coefficients(img.H, h, f)
	n := 3 * img.W
	out := RGB{W: img.W, H: h, Pix: make([]uint8, n*h)}
	acc := make([]int32, n)
	const half = int32(1) << (precisionBits - 1)
	for yy := 0; yy < h; yy++ {
		for j := range acc {
			acc[j] = half
		}
		k, row := weights[yy], bounds[yy]
		for len(k) >= 2 { // two taps a pass: half the accumulator traffic
			s0 := img.Pix[row*n : (row+1)*n]
			s1 := img.Pix[(row+1)*n : (row+2)*n]
			s1 = s1[:len(s0)]
			a := acc[:len(s0)]
			k0, k1 := k[0], k[1]
			for j, v := range s0 {
				a[j] += int32(v)*k0 + int32(s1[j])*k1
			}
			k, row = k[2:], row+2
		}
		if len(k) == 1 {
			s0 := img.Pix[row*n : (row+1)*n]
			a := acc[:len(s0)]
			for j, v := range s0 {
				a[j] += int32(v) * k[0]
			}
		}
		dst := out.Pix[yy*n : (yy+1)*n]
		dst = dst[:len(acc)]
		for j, v := range acc {
			dst[j] = clip8(v)
		}
	}
	return out
}

// ResizeShorter scales img so that its shorter side is size, the longer
// side int(size·long/short), as torchvision's Resize(size).
func ResizeShorter(img RGB, size int, f Filter) RGB {
	w, h := img.W, img.H
	if w <= h {
		if w == size {
			return img
		}
		return Resize(img, size, int(float64(size)*float64(h)/float64(w)), f)
	}
	if h == size {
		return img
	}
	return Resize(img, int(float64(size)*float64(w)/float64(h)), size, f)
}

// CenterCrop cuts the central w×h window, placed as torchvision's
// CenterCrop does (offsets rounded half to even); an image smaller than the
// window is padded with black first, as torchvision does.
func CenterCrop(img RGB, w, h int) RGB {
	if img.W < w || img.H < h {
		pw, ph := max(w, img.W), max(h, img.H)
		padded := RGB{W: pw, H: ph, Pix: make([]uint8, 3*pw*ph)}
		left, top := (pw-img.W)/2, (ph-img.H)/2
		for y := 0; y < img.H; y++ {
			copy(padded.Pix[3*((y+top)*pw+left):], img.Pix[3*y*img.W:3*(y+1)*img.W])
		}
		img = padded
	}
	top := int(math.RoundToEven(float64(img.H-h) / 2))
	left := int(math.RoundToEven(float64(img.W-w) / 2))
	out := RGB{W: w, H: h, Pix: make([]uint8, 3*w*h)}
	for y := 0; y < h; y++ {
		copy(out.Pix[3*y*w:3*(y+1)*w], img.Pix[3*((y+top)*img.W+left):])
	}
	return out
}
