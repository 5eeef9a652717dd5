package transforms

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	_ "image/gif" // register decoders: image.Decode takes the format from the bytes
	_ "image/jpeg"
	_ "image/png"
	"os"
	"sync/atomic"

	_ "golang.org/x/image/bmp"
	_ "golang.org/x/image/tiff"
	_ "golang.org/x/image/webp"
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
	case *image.YCbCr: // Go's JPEGs
		for y := 0; y < out.H; y++ {
			row := out.Pix[3*y*out.W:]
			for x := 0; x < out.W; x++ {
				yi, ci := src.YOffset(b.Min.X+x, b.Min.Y+y), src.COffset(b.Min.X+x, b.Min.Y+y)
				row[3*x], row[3*x+1], row[3*x+2] = color.YCbCrToRGB(src.Y[yi], src.Cb[ci], src.Cr[ci])
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

// DefaultMaxPixels is the largest image (width × height) decoded by
// default: PIL's Image.MAX_IMAGE_PIXELS, 1024 × 1024 × 1024 / 4 / 3, past
// which PIL warns of a decompression bomb.
const DefaultMaxPixels = 89_478_485

// DecodeOptions says how images are decoded. The zero value is the
// default.
type DecodeOptions struct {
	// KeepOrientation leaves an image as stored; by default its EXIF
	// Orientation is applied (see Orient), showing it as the person who took
	// it sees it, as Hugging Face's load_image and Ultralytics do.
	// torchvision's ImageFolder (PIL without exif_transpose) keeps it.
	KeepOrientation bool
	// MaxPixels refuses an image whose header claims more pixels, before
	// any are decoded (a decompression bomb). 0: DefaultMaxPixels; negative:
	// no limit.
	MaxPixels int64
}

var defaultDecode atomic.Pointer[DecodeOptions]

// SetDefaultDecodeOptions sets the options that [Load], [Decode],
// [DecodeInto], [DecodeScaled] and [DecodeCrop] use, for the whole process
// (a command sets them once from its flags). It is safe for concurrent use.
func SetDefaultDecodeOptions(o DecodeOptions) { defaultDecode.Store(&o) }

// DefaultDecodeOptions returns the options set by SetDefaultDecodeOptions.
func DefaultDecodeOptions() DecodeOptions {
	if o := defaultDecode.Load(); o != nil {
		return *o
	}
	return DecodeOptions{}
}

// ErrTooManyPixels is wrapped by the error for an image over the pixel limit.
var ErrTooManyPixels = errors.New("too many pixels")

// checkSize reads the size an image's header claims, without decoding it,
// and refuses one over the limit.
func (o DecodeOptions) checkSize(data []byte) error {
	limit := o.MaxPixels
	if limit == 0 {
		limit = DefaultMaxPixels
	}
	if limit < 0 {
		return nil
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil // the decoder says what is wrong
	}
	if n := int64(cfg.Width) * int64(cfg.Height); n > limit {
		return fmt.Errorf("%w: a %s image of %d×%d = %d pixels, over the limit of %d (a decompression bomb? --max-pixels raises it)",
			ErrTooManyPixels, format, cfg.Width, cfg.Height, n, limit)
	}
	return nil
}

// orientation returns the EXIF orientation to apply (1: none).
func (o DecodeOptions) orientation(data []byte) int {
	if o.KeepOrientation {
		return 1
	}
	return Orientation(data)
}

// Load decodes an image file into RGB, as [Decode] does.
func Load(path string) (RGB, error) { return LoadWith(path, DefaultDecodeOptions()) }

// LoadWith is [Load] with the given options.
func LoadWith(path string, o DecodeOptions) (RGB, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return RGB{}, fmt.Errorf("transforms: %w", err)
	}
	img, err := DecodeWith(data, nil, o)
	if err != nil {
		return RGB{}, fmt.Errorf("transforms: %s: %w", path, err)
	}
	return img, nil
}

// Decode decodes image data into RGB, the format taken from the bytes:
// JPEG through [JPEGDecoder] (libjpeg-turbo when built with cgo, pixel for
// pixel what PIL gives, CMYK and YCCK included); PNG, GIF (first frame),
// BMP, TIFF and WebP through Go's decoders. The EXIF orientation is applied
// and the pixel count checked as [DefaultDecodeOptions] say. A truncated
// or empty file is an error.
func Decode(data []byte) (RGB, error) { return DecodeInto(data, nil) }

// DecodeInto is [Decode] that reuses dst for the pixels of a JPEG when it
// is large enough, so a loop decoding many images need not allocate.
func DecodeInto(data []byte, dst []uint8) (RGB, error) {
	return DecodeWith(data, dst, DefaultDecodeOptions())
}

// DecodeWith is [DecodeInto] with the given options.
func DecodeWith(data []byte, dst []uint8, o DecodeOptions) (RGB, error) {
	if err := o.checkSize(data); err != nil {
		return RGB{}, err
	}
	var img RGB
	var err error
	if IsJPEG(data) {
		if img, err = decodeJPEG(data, 1, dst); err != nil {
			return RGB{}, fmt.Errorf("not a readable JPEG image: %w", err)
		}
	} else if img, err = DecodeGo(data); err != nil {
		return RGB{}, err
	}
	return Orient(img, o.orientation(data)), nil
}

// DecodeScaled decodes a JPEG at 1/denom of its size (denom 1, 2, 4 or 8)
// with libjpeg's DCT scaling, as PIL's Image.draft does: several times
// faster than decoding in full and resizing, but the pixels are not those
// of a full decode followed by a resize.
func DecodeScaled(data []byte, denom int, dst []uint8) (RGB, error) {
	switch denom {
	case 1, 2, 4, 8:
	default:
		return RGB{}, fmt.Errorf("transforms: scaled decode: denominator %d, want 1, 2, 4 or 8", denom)
	}
	if !IsJPEG(data) {
		return RGB{}, errors.New("transforms: scaled decode: not a JPEG image")
	}
	o := DefaultDecodeOptions()
	if err := o.checkSize(data); err != nil {
		return RGB{}, fmt.Errorf("transforms: %w", err)
	}
	img, err := decodeJPEG(data, denom, dst)
	if err != nil {
		return RGB{}, fmt.Errorf("transforms: not a readable JPEG image: %w", err)
	}
	return Orient(img, o.orientation(data)), nil
}

// DecodeCrop decodes the window of an image that choose picks once it
// knows the image's size: the same pixels as [Decode] followed by [Crop],
// but a JPEG only has the rows and block columns under the window decoded
// (libjpeg-turbo's skip and crop), which saves much of a random crop's
// decoding time. dst is reused when large enough. An image with an EXIF
// orientation to apply is decoded in full, turned, then cropped.
func DecodeCrop(data []byte, choose func(w, h int) image.Rectangle, dst []uint8) (RGB, error) {
	o := DefaultDecodeOptions()
	if err := o.checkSize(data); err != nil {
		return RGB{}, err
	}
	if IsJPEG(data) && o.orientation(data) == 1 {
		img, err := decodeJPEGCrop(data, choose, dst)
		if err != nil {
			return RGB{}, fmt.Errorf("not a readable JPEG image: %w", err)
		}
		return img, nil
	}
	img, err := DecodeWith(data, dst, o)
	if err != nil {
		return RGB{}, err
	}
	return cropChosen(img, choose)
}

// Crop returns a copy of the window r of img, which must lie inside it.
func Crop(img RGB, r image.Rectangle) RGB {
	out := RGB{W: r.Dx(), H: r.Dy(), Pix: make([]uint8, 3*r.Dx()*r.Dy())}
	for y := 0; y < out.H; y++ {
		copy(out.Pix[3*y*out.W:3*(y+1)*out.W], img.Pix[3*((r.Min.Y+y)*img.W+r.Min.X):])
	}
	return out
}

// IsJPEG reports whether data starts with a JPEG start-of-image marker.
func IsJPEG(data []byte) bool {
	return len(data) >= 3 && data[0] == 0xff && data[1] == 0xd8 && data[2] == 0xff
}

// DecodeGo decodes image data (JPEG, PNG, GIF, BMP, TIFF, WebP, told
// from the bytes) with Go's decoders only (image/jpeg's IDCT and chroma
// upsampling differ from libjpeg's by a few levels per pixel), as stored:
// no EXIF orientation, no pixel limit. It is what [Decode] uses for all but
// JPEG, and for JPEG without cgo.
func DecodeGo(data []byte) (RGB, error) {
	if len(data) == 0 {
		return RGB{}, errors.New("not a readable image: empty file")
	}
	if cfg, _, err := image.DecodeConfig(bytes.NewReader(data)); err == nil {
		if err := checkPixels(cfg.Width, cfg.Height); err != nil {
			return RGB{}, err
		}
	}
	m, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return RGB{}, fmt.Errorf("not a readable image (JPEG, PNG, GIF, BMP, TIFF or WebP): %w", err)
	}
	return FromImage(m), nil
}

// cropChosen crops img to the window choose picks for its size.
func cropChosen(img RGB, choose func(w, h int) image.Rectangle) (RGB, error) {
	r := choose(img.W, img.H)
	if r.Empty() || !r.In(image.Rect(0, 0, img.W, img.H)) {
		return RGB{}, fmt.Errorf("crop %v outside the %dx%d image", r, img.W, img.H)
	}
	return Crop(img, r), nil
}
