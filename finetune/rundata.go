package finetune

import (
	"strings"

	"github.com/gtl-dev/gtl/vision"
	"github.com/gtl-dev/gtl/vision/datasets"
)

// Data is the images of a run: the validation images in memory at the
// training size, and the training images either in memory (prepared at
// the training size when used) or, for an image folder trained with
// augmentation, as files the loader decodes every epoch.
type Data struct {
	Classes []string
	Size    int              // training resolution
	Val     *datasets.Images // at Size×Size, RGB
	train   *datasets.Images // in memory, as read
	files   []datasets.Item  // or streamed from these files
	skipBad bool             // leave unreadable files out
	Skipped []string         // images left out while reading
	// Unsupported are an image folder's files left out for their type
	// (see vision.Folder.Unsupported).
	Unsupported []string
}

// NewData wraps images already in memory: train as read (prepared at size
// when used, see vision.PrepareRGB) and val, prepared at size here.
func NewData(train, val *datasets.Images, size int) *Data {
	if val != nil && (val.Height != size || val.Width != size || val.Channels != 3) {
		val = vision.PrepareRGB(val, size)
	}
	return &Data{Classes: train.Classes, Size: size, Val: val, train: train}
}

// LoadData reads the data of a resolved spec, without drawing shots:
// Fashion-MNIST (the classes of d.Classes, d.Val balanced images held out
// of the training split for validation)
// or an image folder (train/ and val/, or a seeded d.ValSplit of each
// class). With stream, an image folder's training images are listed, not
// read (the loader decodes them every epoch).
func LoadData(d DataSpec, seed uint64, stream bool) (*Data, error) {
	p, err := listData(d, seed, stream)
	if err != nil {
		return nil, err
	}
	return p.read()
}

// pendingData is the data of a spec before any image is read: its classes
// (from the spec for Fashion-MNIST, from the folder's listing otherwise)
// and how to read the images. Run opens the model between the two, so
// that a bad weights file is reported before a large data set is read.
type pendingData struct {
	Classes []string
	read    func() (*Data, error)
}

// listData lists the data of a resolved spec (see LoadData) without
// reading an image.
func listData(d DataSpec, seed uint64, stream bool) (*pendingData, error) {
	if d.Source == "fashion-mnist" {
		classes := datasets.FashionMNISTClasses
		if d.Classes != "" {
			idx, err := datasets.ParseClasses(d.Classes, len(datasets.FashionMNISTClasses))
			if err != nil {
				return nil, FieldErrorf("Data.Classes", "{Data.Classes}: %w", err)
			}
			classes = make([]string, len(idx))
			for i, c := range idx {
				classes[i] = datasets.FashionMNISTClasses[c]
			}
		}
		return &pendingData{Classes: classes, read: func() (*Data, error) {
			train, val, err := readFashion(d.Classes, d.Val)
			if err != nil {
				return nil, err
			}
			return NewData(train, val, d.ImageSize), nil
		}}, nil
	}
	skip := d.OnBadImage == "skip"
	f, err := d.listFolder(seed) // errors name their field
	if err != nil {
		return nil, err
	}
	return &pendingData{Classes: f.Classes, read: func() (*Data, error) {
		out := &Data{Classes: f.Classes, Size: d.ImageSize, skipBad: skip, Unsupported: f.Unsupported}
		var err error
		if out.Val, out.Skipped, err = vision.LoadItems(f.Val, f.Classes, d.ImageSize, skip); err != nil {
			return nil, badImage(err)
		}
		if stream {
			out.files = f.Train
			return out, nil
		}
		train, skipped, err := vision.LoadItems(f.Train, f.Classes, d.ImageSize, skip)
		if err != nil {
			return nil, badImage(err)
		}
		out.train, out.Skipped = train, append(skipped, out.Skipped...)
		return out, nil
	}}, nil
}

// badImage adds the way out to an error about an image that does not
// decode.
func badImage(err error) error {
	msg := err.Error()
	if strings.Contains(msg, "decode") || strings.Contains(msg, "truncated") || strings.Contains(msg, "jpeg") || strings.Contains(msg, "png") {
		return FieldErrorf("Data.Source", "%w ({Data.OnBadImage} skip leaves such images out)", err)
	}
	return FieldErrorf("Data.Source", "%w", err)
}

// Len returns the number of training images.
func (d *Data) Len() int {
	if d.train != nil {
		return d.train.Len()
	}
	return len(d.files)
}

// Streamed reports whether the training images are files read every epoch.
func (d *Data) Streamed() bool { return d.train == nil }

// labels returns the training labels.
func (d *Data) labels() []int {
	if d.train != nil {
		return d.train.Labels
	}
	l := make([]int, len(d.files))
	for i, it := range d.files {
		l[i] = it.Label
	}
	return l
}

// Shots returns the data with n training images per class drawn with seed
// (datasets.Images.FirstPerClass; a multi-label set's at least n images
// carrying each class); n = 0 keeps them all.
func (d *Data) Shots(n int, seed uint64) (*Data, error) {
	if n == 0 {
		return d, nil
	}
	idx, err := (&datasets.Images{Labels: d.labels(), Tags: d.tags(), Classes: d.Classes}).FirstPerClass(n, seed)
	if err != nil {
		return nil, FieldErrorf("Data.Shots", "{Data.Shots}: %w", err)
	}
	out := *d
	if d.train != nil {
		if out.train, err = d.train.Subset(idx); err != nil {
			return nil, err
		}
		return &out, nil
	}
	out.files = make([]datasets.Item, len(idx))
	for i, j := range idx {
		out.files[i] = d.files[j]
	}
	return &out, nil
}

// tags returns the classes of each training image of a multi-label set;
// nil for a single-label one.
func (d *Data) tags() [][]int {
	if d.train != nil {
		return d.train.Tags
	}
	if len(d.files) == 0 || d.files[0].Tags == nil {
		return nil
	}
	t := make([][]int, len(d.files))
	for i, it := range d.files {
		t[i] = it.Tags
	}
	return t
}

// SmallestClass returns the number of training images of the smallest
// class (for a multi-label set: carrying it), and its name.
func (d *Data) SmallestClass() (int, string) {
	count := make([]int, len(d.Classes))
	if tags := d.tags(); tags != nil {
		for _, t := range tags {
			for _, c := range t {
				count[c]++
			}
		}
	} else {
		for _, l := range d.labels() {
			count[l]++
		}
	}
	n, name := count[0], d.Classes[0]
	for c, k := range count {
		if k < n {
			n, name = k, d.Classes[c]
		}
	}
	return n, name
}

// Images returns the training images in memory at Size×Size, RGB: reading
// streamed files, preparing images read at another size.
func (d *Data) Images() (*datasets.Images, error) {
	if d.train == nil {
		im, _, err := vision.LoadItems(d.files, d.Classes, d.Size, d.skipBad)
		if err != nil {
			return nil, badImage(err)
		}
		return im, nil
	}
	im := d.train
	if im.Height == d.Size && im.Width == d.Size && im.Channels == 3 {
		return im, nil
	}
	return vision.PrepareRGB(im, d.Size), nil
}

// FashionValSeed seeds the draw of the validation images that Fashion-MNIST
// runs hold out of the training split: fixed, so every run of a comparison
// (any seed, any strategy) validates on the same images.
const FashionValSeed = 7

// readFashion loads Fashion-MNIST's training split, restricted to the
// classes of spec, and holds n balanced images of it out for validation
// (n/classes per class, drawn with FashionValSeed): the returned training
// set no longer contains them, and the test split is left for gtl eval
// alone, so choosing the best epoch never sees an image the final report
// is measured on.
func readFashion(spec string, n int) (train, val *datasets.Images, err error) {
	if train, err = datasets.LoadFashionMNIST("", datasets.Train); err != nil {
		return nil, nil, err
	}
	if spec != "" {
		classes, err := datasets.ParseClasses(spec, len(train.Classes))
		if err != nil {
			return nil, nil, FieldErrorf("Data.Classes", "{Data.Classes}: %w", err)
		}
		if train, err = train.SelectClasses(classes); err != nil {
			return nil, nil, err
		}
	}
	per := n / len(train.Classes)
	if per < 1 {
		return nil, nil, FieldErrorf("Data.Val", "{Data.Val} %d: want at least one image per class (%d)", n, len(train.Classes))
	}
	idx, err := train.FirstPerClass(per, FashionValSeed)
	if err != nil {
		return nil, nil, FieldErrorf("Data.Val", "{Data.Val} %d: %w", n, err)
	}
	held := make([]bool, train.Len())
	for _, i := range idx {
		held[i] = true
	}
	rest := make([]int, 0, train.Len()-len(idx))
	for i, h := range held {
		if !h {
			rest = append(rest, i)
		}
	}
	if val, err = train.Subset(idx); err != nil {
		return nil, nil, err
	}
	if train, err = train.Subset(rest); err != nil {
		return nil, nil, err
	}
	return train, val, nil
}
