package vision

import (
	"github.com/gtl-dev/gtl/vision/datasets"
	"github.com/gtl-dev/gtl/vision/transforms"
)

// PrepareRGB returns im as RGB images of size×size: grayscale repeated into
// the three channels, resized (shorter side, PIL's bilinear) and centre
// cropped as torchvision's eval transform does. RGB models take grayscale
// data this way with their weights unchanged.
func PrepareRGB(im *datasets.Images, size int) *datasets.Images {
	out := &datasets.Images{Height: size, Width: size, Channels: 3, Classes: im.Classes,
		Labels: append([]int(nil), im.Labels...), Tags: im.Tags, Pix: make([]uint8, 0, im.Len()*size*size*3)}
	eval := transforms.EvalPreset(size, size, transforms.Bilinear)
	for i := 0; i < im.Len(); i++ {
		src := im.Image(i)
		rgb := transforms.RGB{W: im.Width, H: im.Height, Pix: make([]uint8, 3*im.Width*im.Height)}
		for p := 0; p < im.Width*im.Height; p++ {
			for c := 0; c < 3; c++ {
				if im.Channels == 1 {
					rgb.Pix[3*p+c] = src[p]
				} else {
					rgb.Pix[3*p+c] = src[p*im.Channels+c]
				}
			}
		}
		out.Pix = append(out.Pix, eval.Apply(rgb).Pix...)
	}
	return out
}
