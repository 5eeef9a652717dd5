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

func clip8(v int64) uint8 {
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
		bounds, weights := coefficients(img.W, w, f)
		tmp := RGB{W: w, H: img.H, Pix: make([]uint8, 3*w*img.H)}
		for y := 0; y < img.H; y++ {
			row := img.Pix[3*y*img.W:]
			for xx := 0; xx < w; xx++ {
				for c := 0; c < 3; c++ {
					ss := int64(1) << (precisionBits - 1)
					for i, k := range weights[xx] {
						ss += int64(row[3*(bounds[xx]+i)+c]) * int64(k)
					}
					tmp.Pix[3*(y*w+xx)+c] = clip8(ss)
				}
			}
		}
		out = tmp
	}
	if h != out.H {
		bounds, weights := coefficients(out.H, h, f)
		tmp := RGB{W: out.W, H: h, Pix: make([]uint8, 3*out.W*h)}
		for yy := 0; yy < h; yy++ {
			for x := 0; x < out.W; x++ {
				for c := 0; c < 3; c++ {
					ss := int64(1) << (precisionBits - 1)
					for i, k := range weights[yy] {
						ss += int64(out.Pix[3*((bounds[yy]+i)*out.W+x)+c]) * int64(k)
					}
					tmp.Pix[3*(yy*out.W+x)+c] = clip8(ss)
				}
			}
		}
		out = tmp
	}
	if out.W == img.W && out.H == img.H { // no pass ran: still return a copy
		out = RGB{W: img.W, H: img.H, Pix: append([]uint8(nil), img.Pix...)}
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
