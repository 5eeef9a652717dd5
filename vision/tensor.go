package vision

import (
	"fmt"

	"github.com/sugarme/gotch/ts"

	"github.com/gtl-dev/gtl/torch"
	"github.com/gtl-dev/gtl/vision/datasets"
)

// Normalize is a per-channel normalisation applied after scaling pixels to
// [0, 1]: (x - Mean[c]) / Std[c]. A nil Mean means 0 and a nil Std means 1;
// a single value applies to every channel.
type Normalize struct {
	Mean, Std []float64
}

func (n Normalize) at(vals []float64, c int, def float64) float64 {
	switch len(vals) {
	case 0:
		return def
	case 1:
		return vals[0]
	default:
		return vals[c]
	}
}

// Batch returns the images of im at idx as a float32 tensor of shape
// [len(idx), C, H, W], normalised by norm, and their labels as an int64
// tensor of shape [len(idx)]. The caller owns both tensors.
func Batch(im *datasets.Images, idx []int, norm Normalize) (x, y *ts.Tensor, err error) {
	c, h, w := im.Channels, im.Height, im.Width
	for _, vals := range [][]float64{norm.Mean, norm.Std} {
		if len(vals) > 1 && len(vals) != c {
			return nil, nil, fmt.Errorf("vision: normalise: %d values for %d channels", len(vals), c)
		}
	}
	scale := make([]float32, c)
	shift := make([]float32, c)
	for ch := 0; ch < c; ch++ {
		std := norm.at(norm.Std, ch, 1)
		if std == 0 {
			return nil, nil, fmt.Errorf("vision: normalise: std of channel %d is 0", ch)
		}
		scale[ch] = float32(1 / (255 * std))
		shift[ch] = float32(norm.at(norm.Mean, ch, 0) / std)
	}
	data := make([]float32, len(idx)*c*h*w)
	labels := make([]int64, len(idx))
	plane := h * w
	for b, i := range idx {
		if i < 0 || i >= im.Len() {
			return nil, nil, fmt.Errorf("vision: batch: image %d out of range [0, %d)", i, im.Len())
		}
		src := im.Image(i)
		dst := data[b*c*plane : (b+1)*c*plane]
		for p := 0; p < plane; p++ { // HWC -> CHW
			for ch := 0; ch < c; ch++ {
				dst[ch*plane+p] = float32(src[p*c+ch])*scale[ch] - shift[ch]
			}
		}
		labels[b] = int64(im.Labels[i])
	}
	x, err = torch.FromSlice(data, []int64{int64(len(idx)), int64(c), int64(h), int64(w)})
	if err != nil {
		return nil, nil, fmt.Errorf("vision: batch of %d images: %w", len(idx), err)
	}
	y, err = torch.FromSlice(labels, []int64{int64(len(idx))})
	if err != nil {
		x.MustDrop()
		return nil, nil, fmt.Errorf("vision: batch labels: %w", err)
	}
	return x, y, nil
}

// Channel returns the mean and standard deviation applied to channel c.
func (n Normalize) Channel(c int) (mean, std float64) {
	return n.at(n.Mean, c, 0), n.at(n.Std, c, 1)
}
