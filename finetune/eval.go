package finetune

import (
	"fmt"
	"image"
	"math"
	"sort"

	"github.com/gtl-dev/gtl/metrics"
	"github.com/gtl-dev/gtl/torch"
	"github.com/gtl-dev/gtl/vision"
	"github.com/gtl-dev/gtl/vision/datasets"
	"github.com/gtl-dev/gtl/vision/transforms"
)

// Report is an evaluation: top-1 and top-5 accuracy, accuracy per class,
// the confusion matrix (rows: true class, columns: predicted class), the
// per-class precision, recall and F1 and their averages (see
// metrics.Report).
type Report = metrics.Report

// Report evaluates m on data in eval mode without gradients.
func (t *Trainer) Report(m Model, data *datasets.Images) (*Report, error) {
	cfg, err := t.loop()
	if err != nil {
		return nil, err
	}
	if data == nil || data.Len() == 0 {
		return nil, fmt.Errorf("finetune: evaluate: empty data set")
	}
	return t.report(m, evalSet{n: data.Len(), batches: imageBatches(data, cfg), classes: data.Classes, tags: data.Tags}, cfg.Batch)
}

// evalSet is a validation set: n items served by batches, labelled with
// classes.
type evalSet struct {
	n       int
	batches batcher
	classes []string
	tags    [][]int // the classes of each item of a multi-label set; nil: single-label
}

// report evaluates m on every item of data, in batches, in eval mode
// under inference mode (no autograd; batch norms folded).
func (t *Trainer) report(m Model, data evalSet, batchSize int) (*Report, error) {
	if data.tags != nil {
		return t.reportMultiLabel(m, data, batchSize)
	}
	k := len(data.classes)
	r := &Report{Classes: data.classes, Confusion: make([][]int, k), PerClass: make([]float64, k)}
	for i := range r.Confusion {
		r.Confusion[i] = make([]int, k)
	}
	var top5, n int
	var loss float64
	order := make([]int, k)
	idx := make([]int, 0, batchSize)
	// In a data-parallel run each rank evaluates every world-th item (no
	// padding: no item counts twice) and the counts are summed.
	rank, world := t.world()
	err := t.worker().Inference(func() error {
		for start := rank; start < data.n; start += batchSize * world {
			idx = idx[:0]
			for i := start; i < min(start+batchSize*world, data.n); i += world {
				idx = append(idx, i)
			}
			x, y, err := data.batches(idx)
			if err != nil {
				return fmt.Errorf("finetune: evaluate images %d-%d: %w", start, start+len(idx)-1, err)
			}
			labels := y.Int64Values(true)
			logits, err := m.Forward(x, false)
			x.MustDrop()
			if err != nil {
				return fmt.Errorf("finetune: evaluate images %d-%d: %w", start, start+len(idx)-1, err)
			}
			vals := logits.Float64Values(true)
			for b := range idx {
				row := vals[b*k : (b+1)*k]
				for j := range order {
					order[j] = j
				}
				sort.SliceStable(order, func(a, c int) bool { return row[order[a]] > row[order[c]] })
				truth := int(labels[b])
				r.Confusion[truth][order[0]]++
				for _, j := range order[:min(5, k)] {
					if j == truth {
						top5++
					}
				}
				loss += crossEntropy(row, truth)
				n++
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if t.Dist != nil {
		if err := t.reduceReport(r, &top5, &n, &loss); err != nil {
			return nil, err
		}
	}
	correct := 0
	for c := range r.Confusion {
		total := 0
		for _, v := range r.Confusion[c] {
			total += v
		}
		correct += r.Confusion[c][c]
		if total > 0 {
			r.PerClass[c] = float64(r.Confusion[c][c]) / float64(total)
		}
	}
	r.Top1, r.Top5, r.Loss = float64(correct)/float64(n), float64(top5)/float64(n), loss/float64(n)
	if err := r.Finish(); err != nil {
		return nil, fmt.Errorf("finetune: evaluate: %w", err)
	}
	return r, nil
}

// crossEntropy of one row of logits against the true class.
func crossEntropy(row []float64, truth int) float64 {
	m := row[0]
	for _, v := range row {
		m = max(m, v)
	}
	var s float64
	for _, v := range row {
		s += math.Exp(v - m)
	}
	return m + math.Log(s) - row[truth]
}

// reduceReport sums the confusion matrices, top-5 hits, item counts and
// losses of every rank's share of an evaluation.
func (t *Trainer) reduceReport(r *Report, top5, n *int, loss *float64) error {
	k := len(r.Confusion)
	vals := make([]float64, 0, k*k+3)
	for _, row := range r.Confusion {
		for _, v := range row {
			vals = append(vals, float64(v))
		}
	}
	vals = append(vals, float64(*top5), float64(*n), *loss)
	if err := t.Dist.AllReduceFloat64(vals, torch.ReduceSum); err != nil {
		return fmt.Errorf("finetune: evaluate: %w", err)
	}
	for i, row := range r.Confusion {
		for j := range row {
			row[j] = int(vals[i*k+j])
		}
	}
	*top5, *n, *loss = int(vals[k*k]), int(vals[k*k+1]), vals[k*k+2]
	return nil
}

// EvalImages is a labelled set of images for Evaluate: each image as
// decoded (Evaluate resizes and crops it), its true class and a name for
// messages (a file path, or "test image 12").
type EvalImages interface {
	Len() int
	Label(i int) int
	Image(i int) (transforms.RGB, error)
	Name(i int) string
}

// EvalOptions says how Evaluate runs. The zero value of each field means
// its default.
type EvalOptions struct {
	Batch int // images per forward pass; default 64
	// Prep is the evaluation transform: the shorter side resized to
	// Prep.ResizeSize, the centre Prep.CropSize square cut out, scaled to
	// [0, 1] and normalised with Prep.Mean and Prep.Std (required).
	Prep vision.Preprocess
	// TTA also scores every image's test-time augmentation views (see
	// TTAViews) and averages their softmax, as timm's and fastai's TTA.
	TTA bool
	// Progress, when set, is called after each batch with the images done.
	Progress func(done, total int)
}

// Predictions are a model's class probabilities for each image of a set.
type Predictions struct {
	Labels []int       // true class of each image
	Probs  [][]float64 // softmax of the plain evaluation transform's view
	// TTA is the softmax averaged over each image's TTAViews; nil
	// without EvalOptions.TTA.
	TTA [][]float64
	// Views is the most views an image had under TTA (10: the centre, the
	// four corners and their mirror images; fewer when the resized image
	// is no larger than the crop, as corner crops then repeat the centre).
	Views int
}

// Evaluate runs m in evaluation mode under inference mode (no autograd,
// batch norms folded) on every image of data, Batch at a time, and returns
// the class probabilities. It takes the torch worker thread for each
// batch; call it from any goroutine but the worker's.
func Evaluate(m *vision.Model, data EvalImages, o EvalOptions) (*Predictions, error) {
	if o.Batch == 0 {
		o.Batch = 64
	}
	switch {
	case o.Batch < 0:
		return nil, fmt.Errorf("finetune: evaluate: batch %d: want at least 1", o.Batch)
	case o.Prep.CropSize < 1 || o.Prep.ResizeSize < 1:
		return nil, fmt.Errorf("finetune: evaluate: preprocess crop %d, resize %d: want at least 1 pixel each", o.Prep.CropSize, o.Prep.ResizeSize)
	case data == nil || data.Len() == 0:
		return nil, fmt.Errorf("finetune: evaluate: empty data set")
	}
	for c := range 3 {
		if !(o.Prep.Std[c] > 0) {
			return nil, fmt.Errorf("finetune: evaluate: std %v: want positive values", o.Prep.Std)
		}
	}
	n := data.Len()
	p := &Predictions{Labels: make([]int, n), Probs: make([][]float64, n), Views: 1}
	if o.TTA {
		p.TTA = make([][]float64, n)
	}
	filter := transforms.Bilinear
	if o.Prep.Filter == "bicubic" {
		filter = transforms.Bicubic
	}
	k := m.NumClasses
	for start := 0; start < n; start += o.Batch {
		end := min(start+o.Batch, n)
		var views []transforms.RGB
		owner := make([]int, 0, end-start) // image of each view
		for i := start; i < end; i++ {
			img, err := data.Image(i)
			if err != nil {
				return nil, fmt.Errorf("finetune: evaluate %s: %w", data.Name(i), err)
			}
			p.Labels[i] = data.Label(i)
			if p.Labels[i] < 0 || p.Labels[i] >= k {
				return nil, fmt.Errorf("finetune: evaluate %s: label %d outside the model's %d classes", data.Name(i), p.Labels[i], k)
			}
			var vs []transforms.RGB
			if o.TTA {
				vs = TTAViews(img, o.Prep.CropSize, o.Prep.ResizeSize, filter)
				p.Views = max(p.Views, len(vs))
			} else {
				vs = []transforms.RGB{transforms.EvalPreset(o.Prep.CropSize, o.Prep.ResizeSize, filter).Apply(img)}
			}
			for range vs {
				owner = append(owner, i)
			}
			views = append(views, vs...)
		}
		for v := 0; v < len(views); v += o.Batch {
			chunk := views[v:min(v+o.Batch, len(views))]
			var rows [][]float32
			err := torch.Do(func() error {
				x, err := vision.ImagesTensor(chunk, o.Prep, m.VS.Device())
				if err != nil {
					return err
				}
				defer x.MustDrop()
				rows, err = m.Logits(x)
				return err
			})
			if err != nil {
				return nil, fmt.Errorf("finetune: evaluate %s: %w", data.Name(owner[v]), err)
			}
			for j, row := range rows {
				i, probs := owner[v+j], metrics.Softmax(row)
				if len(probs) != k {
					return nil, fmt.Errorf("finetune: evaluate %s: %d logits for %d classes", data.Name(i), len(probs), k)
				}
				first := v+j == 0 || owner[v+j-1] != i // the image's first view: the plain transform
				if first {
					p.Probs[i] = probs
				}
				if !o.TTA {
					continue
				}
				if first {
					p.TTA[i] = make([]float64, k)
				}
				for c, q := range probs {
					p.TTA[i][c] += q
				}
			}
		}
		if o.TTA {
			for i := start; i < end; i++ {
				views := 0
				for _, w := range owner {
					if w == i {
						views++
					}
				}
				for c := range p.TTA[i] {
					p.TTA[i][c] /= float64(views)
				}
			}
		}
		if o.Progress != nil {
			o.Progress(end, n)
		}
	}
	return p, nil
}

// TTAViews returns the test-time augmentation views of img, each
// crop×crop, as torchvision's TenCrop takes them after Resize(resize): the
// shorter side resized to resize, then the centre crop (first: the plain
// evaluation transform's view) and the four corner crops (FiveCrop), then
// the same five of the mirrored image. Corner crops that coincide with the
// centre or with each other (the resized image no larger than the crop in
// a dimension) are left out rather than counted twice.
func TTAViews(img transforms.RGB, crop, resize int, f transforms.Filter) []transforms.RGB {
	r := transforms.ResizeShorter(img, resize, f)
	views := fiveCrop(r, crop)
	return append(views, fiveCrop(hflip(r), crop)...)
}

// fiveCrop returns the centre crop of r and its distinct corner crops.
func fiveCrop(r transforms.RGB, crop int) []transforms.RGB {
	views := []transforms.RGB{transforms.CenterCrop(r, crop, crop)}
	if r.W < crop || r.H < crop {
		return views
	}
	top := int(math.RoundToEven(float64(r.H-crop) / 2))
	left := int(math.RoundToEven(float64(r.W-crop) / 2))
	seen := map[image.Point]bool{{X: left, Y: top}: true}
	for _, at := range []image.Point{{0, 0}, {r.W - crop, 0}, {0, r.H - crop}, {r.W - crop, r.H - crop}} {
		if !seen[at] {
			seen[at] = true
			views = append(views, transforms.Crop(r, image.Rectangle{Min: at, Max: at.Add(image.Pt(crop, crop))}))
		}
	}
	return views
}

// hflip returns img mirrored left to right.
func hflip(img transforms.RGB) transforms.RGB {
	out := transforms.RGB{W: img.W, H: img.H, Pix: make([]uint8, len(img.Pix))}
	for y := 0; y < img.H; y++ {
		row := img.Pix[3*y*img.W : 3*(y+1)*img.W]
		dst := out.Pix[3*y*img.W : 3*(y+1)*img.W]
		for x := 0; x < img.W; x++ {
			copy(dst[3*x:3*x+3], row[3*(img.W-1-x):3*(img.W-x)])
		}
	}
	return out
}

// ImagesSet is an in-memory data set (grayscale or RGB) as EvalImages;
// names are "image N".
func ImagesSet(im *datasets.Images) EvalImages { return imagesSet{im} }

type imagesSet struct{ im *datasets.Images }

func (s imagesSet) Len() int          { return s.im.Len() }
func (s imagesSet) Label(i int) int   { return s.im.Labels[i] }
func (s imagesSet) Name(i int) string { return fmt.Sprintf("image %d", i) }
func (s imagesSet) Image(i int) (transforms.RGB, error) {
	im := s.im
	if im.Channels != 1 && im.Channels != 3 {
		return transforms.RGB{}, fmt.Errorf("%d channels: want 1 or 3", im.Channels)
	}
	src := im.Image(i)
	rgb := transforms.RGB{W: im.Width, H: im.Height, Pix: make([]uint8, 3*im.Width*im.Height)}
	for p := range im.Width * im.Height {
		for c := range 3 {
			if im.Channels == 1 {
				rgb.Pix[3*p+c] = src[p]
			} else {
				rgb.Pix[3*p+c] = src[3*p+c]
			}
		}
	}
	return rgb, nil
}

// FilesSet is a list of image files with their labels as EvalImages; the
// files are decoded as they are read.
func FilesSet(paths []string, labels []int) EvalImages { return filesSet{paths, labels} }

type filesSet struct {
	paths  []string
	labels []int
}

func (s filesSet) Len() int                            { return len(s.paths) }
func (s filesSet) Label(i int) int                     { return s.labels[i] }
func (s filesSet) Name(i int) string                   { return s.paths[i] }
func (s filesSet) Image(i int) (transforms.RGB, error) { return transforms.Load(s.paths[i]) }
