package transforms

import (
	"fmt"
	"image"
	"image/draw"
	_ "image/jpeg" // register decoders
	_ "image/png"
	"os"
)

// ImageNet statistics, which torchvision's pretrained weights expect.
var (
	ImageNetMean = [3]float32{0.485, 0.456, 0.406}
	ImageNetStd  = [3]float32{0.229, 0.224, 0.225}
)

// Eval is torchvision's evaluation transform for a set of weights: resize
// the shorter side to ResizeSize, centre crop CropSize, scale, normalise.
type Eval struct {
	CropSize, ResizeSize int
	Filter               Filter
}

// EvalPreset returns the evaluation transform with the given sizes.
func EvalPreset(crop, resize int, f Filter) Eval {
	return Eval{CropSize: crop, ResizeSize: resize, Filter: f}
}

// Apply resizes and crops img.
func (e Eval) Apply(img RGB) RGB {
	return CenterCrop(ResizeShorter(img, e.ResizeSize, e.Filter), e.CropSize, e.CropSize)
}

// CHW returns the image as float32 planes R, G, B scaled to [0, 1] and
// normalised with mean and std.
func (img RGB) CHW(mean, std [3]float32) []float32 {
	n := img.W * img.H
	out := make([]float32, 3*n)
	for c := 0; c < 3; c++ {
		scale, shift := 1/(255*std[c]), mean[c]/std[c]
		for i := 0; i < n; i++ {
			out[c*n+i] = float32(img.Pix[3*i+c])*scale - shift
		}
	}
	return out
}

// FromImage converts any decoded image to 8-bit RGB (grayscale is repeated
// into the three channels; alpha is dropped as PIL's convert("RGB") does).
func FromImage(m image.Image) RGB {
	b := m.Bounds()
	out := RGB{W: b.Dx(), H: b.Dy(), Pix: make([]uint8, 3*b.Dx()*b.Dy())}
	switch src := m.(type) {
	case *image.Gray:
		for y := 0; y < out.H; y++ {
			for x := 0; x < out.W; x++ {
				v := src.Pix[y*src.Stride+x]
				i := 3 * (y*out.W + x)
				out.Pix[i], out.Pix[i+1], out.Pix[i+2] = v, v, v
			}
		}
		return out
	case *image.RGBA:
		for y := 0; y < out.H; y++ {
			for x := 0; x < out.W; x++ {
				s := src.Pix[y*src.Stride+4*x:]
				copy(out.Pix[3*(y*out.W+x):], s[:3])
			}
		}
		return out
	}
	// Anything else (YCbCr JPEGs, paletted, 16-bit): through NRGBA, which
	// keeps colour values unpremultiplied like PIL.
	n := image.NewNRGBA(b)
	draw.Draw(n, b, m, b.Min, draw.Src)
	for y := 0; y < out.H; y++ {
		for x := 0; x < out.W; x++ {
			copy(out.Pix[3*(y*out.W+x):], n.Pix[y*n.Stride+4*x:y*n.Stride+4*x+3])
		}
	}
	return out
}

// Load decodes a JPEG or PNG file into RGB.
func Load(path string) (RGB, error) {
	f, err := os.Open(path)
	if err != nil {
		return RGB{}, fmt.Errorf("transforms: %w", err)
	}
	defer f.Close()
	m, _, err := image.Decode(f)
	if err != nil {
		return RGB{}, fmt.Errorf("transforms: %s: not a readable JPEG or PNG image: %w", path, err)
	}
	return FromImage(m), nil
}
