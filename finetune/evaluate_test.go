package finetune

import (
	"image"
	"math"
	"reflect"
	"testing"

	"github.com/gtl-dev/gtl/metrics"
	"github.com/gtl-dev/gtl/torch"
	"github.com/gtl-dev/gtl/vision"
	"github.com/gtl-dev/gtl/vision/transforms"
)

// TestEvaluateAgreesWithReport: Evaluate (no Trainer) scores a model as
// the trainer's validation batches do, at any batch size; with TTA on square images
// the size of the crop, each image has two views (itself and its mirror).
func TestEvaluateAgreesWithReport(t *testing.T) {
	data := randomImages(21, 32, 4)
	m := newModel(t, torch.Default(), "resnet18", 5)
	defer torch.Do(func() error { m.Close(); return nil })
	// The reference: the whole set in one batch as the trainer's
	// validation makes it (vision.Batch, ImageNet normalisation).
	var logits [][]float32
	if err := torch.Do(func() error {
		idx := make([]int, data.Len())
		for i := range idx {
			idx[i] = i
		}
		x, y, err := vision.Batch(data, idx, ImageNetNorm)
		if err != nil {
			return err
		}
		defer x.MustDrop()
		defer y.MustDrop()
		logits, err = m.Logits(x)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	probs := make([][]float64, len(logits))
	for i, row := range logits {
		probs[i] = metrics.Softmax(row)
	}
	want, err := metrics.Score(probs, data.Labels, data.Classes)
	if err != nil {
		t.Fatal(err)
	}
	prep := vision.Preprocess{CropSize: 32, ResizeSize: 32, Filter: "bilinear", Mean: transforms.ImageNetMean, Std: transforms.ImageNetStd}
	var first [][]float64
	for _, batch := range []int{1, 7, 64} {
		t.Run("", func(t *testing.T) {
			p, err := Evaluate(m, ImagesSet(data), EvalOptions{Batch: batch, Prep: prep, TTA: batch == 7})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(p.Labels, data.Labels) {
				t.Fatalf("labels %v, want %v", p.Labels, data.Labels)
			}
			r, err := metrics.Score(p.Probs, p.Labels, data.Classes)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(r.Confusion, want.Confusion) || r.Top1 != want.Top1 || math.Abs(r.Loss-want.Loss) > 1e-5 {
				t.Errorf("batch %d: confusion %v top-1 %v loss %v; one batch of vision.Batch %v %v %v", batch, r.Confusion, r.Top1, r.Loss, want.Confusion, want.Top1, want.Loss)
			}
			if first == nil {
				first = p.Probs
			}
			for i := range p.Probs {
				for c := range p.Probs[i] {
					if d := math.Abs(p.Probs[i][c] - first[i][c]); d > 1e-5 {
						t.Fatalf("batch %d: image %d class %d: %v, batch 1 gave %v", batch, i, c, p.Probs[i][c], first[i][c])
					}
				}
			}
			if batch == 7 && (p.Views != 2 || p.TTA == nil) {
				t.Errorf("TTA views %d, want 2 (the image and its mirror)", p.Views)
			}
			if batch != 7 && p.TTA != nil {
				t.Errorf("TTA probabilities without TTA")
			}
		})
	}
	for _, tc := range []struct {
		name string
		o    EvalOptions
		want string
	}{
		{"batch", EvalOptions{Batch: -1, Prep: prep}, "finetune: evaluate: batch -1: want at least 1"},
		{"crop", EvalOptions{Prep: vision.Preprocess{ResizeSize: 32, Std: prep.Std}}, "finetune: evaluate: preprocess crop 0, resize 32: want at least 1 pixel each"},
		{"std", EvalOptions{Prep: vision.Preprocess{CropSize: 32, ResizeSize: 32}}, "finetune: evaluate: std [0 0 0]: want positive values"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Evaluate(m, ImagesSet(data), tc.o); err == nil || err.Error() != tc.want {
				t.Errorf("got %v, want %q", err, tc.want)
			}
		})
	}
}

// TestTTAViews: the views are torchvision's TenCrop after Resize (centre
// first, then the corners, then the same of the mirrored image), with
// corners that repeat the centre or each other left out.
func TestTTAViews(t *testing.T) {
	pic := func(w, h int) transforms.RGB {
		img := transforms.RGB{W: w, H: h, Pix: make([]uint8, 3*w*h)}
		for i := range img.Pix {
			img.Pix[i] = uint8(i)
		}
		return img
	}
	crop := func(img transforms.RGB, x, y, s int) transforms.RGB {
		return transforms.Crop(img, image.Rect(x, y, x+s, y+s))
	}
	img := pic(6, 4)
	flip := hflip(img)
	if flip.Pix[0] != img.Pix[3*5] || flip.Pix[3*6-1] != img.Pix[2] {
		t.Fatalf("hflip: %v of %v", flip.Pix[:18], img.Pix[:18])
	}
	for _, tc := range []struct {
		name         string
		img          transforms.RGB
		crop, resize int
		want         []transforms.RGB
	}{
		// 6×4 at resize 4 is unchanged; the centre 3×3 is at (2, 0) (1.5
		// rounds to even), every corner differs from it.
		{"ten", img, 3, 4, []transforms.RGB{crop(img, 2, 0, 3), crop(img, 0, 0, 3), crop(img, 3, 0, 3), crop(img, 0, 1, 3), crop(img, 3, 1, 3),
			crop(flip, 2, 0, 3), crop(flip, 0, 0, 3), crop(flip, 3, 0, 3), crop(flip, 0, 1, 3), crop(flip, 3, 1, 3)}},
		// 5×4 cropped 4: the centre (0, 0) is the left corners; the right
		// ones are one view.
		{"repeats", pic(5, 4), 4, 4, []transforms.RGB{crop(pic(5, 4), 0, 0, 4), crop(pic(5, 4), 1, 0, 4), crop(hflip(pic(5, 4)), 0, 0, 4), crop(hflip(pic(5, 4)), 1, 0, 4)}},
		{"square", pic(4, 4), 4, 4, []transforms.RGB{pic(4, 4), hflip(pic(4, 4))}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := TTAViews(tc.img, tc.crop, tc.resize, transforms.Bilinear)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %d views, want %d:\n%v\n%v", len(got), len(tc.want), got, tc.want)
			}
			if plain := transforms.EvalPreset(tc.crop, tc.resize, transforms.Bilinear).Apply(tc.img); !reflect.DeepEqual(got[0], plain) {
				t.Errorf("the first view is not the evaluation transform's")
			}
		})
	}
}
