package loader

import (
	"fmt"
	"image"
	"os"

	"github.com/gtl-dev/gtl/vision/datasets"
	"github.com/gtl-dev/gtl/vision/transforms"
)

// Source is an indexed set of labelled images.
type Source interface {
	// Len returns the number of images.
	Len() int
	// Label returns the class of image i.
	Label(i int) int
	// Load returns image i as 8-bit RGB; the caller owns the result.
	Load(i int) (transforms.RGB, error)
	// Name names image i in errors and skip reports (a file path).
	Name(i int) string
}

// TagSource is a [Source] of multi-label images: Tags returns the classes
// of image i (the caller must not change the slice).
type TagSource interface {
	Tags(i int) []int
}

// CropLoader is a [Source] that can load just a window of an image,
// faster than loading it whole (FromFiles decodes only the JPEG blocks
// under the window). choose gets the full image's size and returns the
// window, which must lie inside it.
type CropLoader interface {
	LoadCrop(i int, choose func(w, h int) image.Rectangle) (transforms.RGB, error)
}

// loadCrop loads the window of image i that choose picks, through
// LoadCrop where src has it.
func loadCrop(src Source, i int, choose func(w, h int) image.Rectangle) (transforms.RGB, error) {
	if cl, ok := src.(CropLoader); ok {
		return cl.LoadCrop(i, choose)
	}
	img, err := src.Load(i)
	if err != nil {
		return img, err
	}
	r := choose(img.W, img.H)
	if r.Empty() || !r.In(image.Rect(0, 0, img.W, img.H)) {
		return transforms.RGB{}, fmt.Errorf("loader: crop %v outside the %dx%d image", r, img.W, img.H)
	}
	return transforms.Crop(img, r), nil
}

// FromImages serves an in-memory set; grayscale images are repeated into
// the three channels.
func FromImages(im *datasets.Images) Source { return imagesSource{im} }

type imagesSource struct{ im *datasets.Images }

func (s imagesSource) Len() int          { return s.im.Len() }
func (s imagesSource) Label(i int) int   { return s.im.Labels[i] }
func (s imagesSource) Name(i int) string { return fmt.Sprintf("image %d", i) }
func (s imagesSource) Tags(i int) []int {
	if s.im.Tags == nil {
		return nil
	}
	return s.im.Tags[i]
}

func (s imagesSource) Load(i int) (transforms.RGB, error) {
	if i < 0 || i >= s.im.Len() {
		return transforms.RGB{}, fmt.Errorf("loader: image %d out of range [0, %d)", i, s.im.Len())
	}
	src := s.im.Image(i)
	out := transforms.RGB{W: s.im.Width, H: s.im.Height, Pix: make([]uint8, 3*s.im.Width*s.im.Height)}
	switch s.im.Channels {
	case 3:
		copy(out.Pix, src)
	case 1:
		for j, v := range src {
			out.Pix[3*j], out.Pix[3*j+1], out.Pix[3*j+2] = v, v, v
		}
	default:
		return transforms.RGB{}, fmt.Errorf("loader: image %d has %d channels, want 1 or 3", i, s.im.Channels)
	}
	return out, nil
}

// FromFiles serves image files, decoding each on every access (as
// torchvision's ImageFolder does) with [transforms.Load].
func FromFiles(items []datasets.Item) Source { return filesSource(items) }

type filesSource []datasets.Item

func (s filesSource) Len() int          { return len(s) }
func (s filesSource) Label(i int) int   { return s[i].Label }
func (s filesSource) Name(i int) string { return s[i].Path }
func (s filesSource) Tags(i int) []int  { return s[i].Tags }

func (s filesSource) Load(i int) (transforms.RGB, error) {
	return transforms.Load(s[i].Path)
}

func (s filesSource) LoadCrop(i int, choose func(w, h int) image.Rectangle) (transforms.RGB, error) {
	data, err := os.ReadFile(s[i].Path)
	if err != nil {
		return transforms.RGB{}, fmt.Errorf("loader: %w", err)
	}
	img, err := transforms.DecodeCrop(data, choose, nil)
	if err != nil {
		return transforms.RGB{}, fmt.Errorf("loader: %s: %w", s[i].Path, err)
	}
	return img, nil
}
