package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/gtl-dev/gtl/vision"
	"github.com/gtl-dev/gtl/vision/datasets"
)

// target is a data set to train on: its training images as read (shots are
// drawn from them) and its evaluation images prepared at the training size.
type target struct {
	train, val *datasets.Images
	size       int
}

// loadTarget reads --data: fashion-mnist (with --classes; --val test-split
// images, balanced over the classes) or an image folder (train/ and val/,
// or a --val-split of each class). The evaluation images are prepared at
// size; the training images are prepared by prepare (after drawing shots).
func loadTarget(c *cli.Context, size int) (*target, error) {
	data := c.String("data")
	if data == "fashion-mnist" {
		train, val, err := readFashion(c.String("classes"), c.Int("val"))
		if err != nil {
			return nil, err
		}
		return &target{train: train, val: vision.PrepareRGB(val, size), size: size}, nil
	}
	if st, err := os.Stat(data); err != nil || !st.IsDir() {
		return nil, cli.Exit(fmt.Sprintf("--data %s: not fashion-mnist and not an image folder", data), 2)
	}
	if c.String("classes") != "" {
		return nil, cli.Exit("--classes applies to fashion-mnist; an image folder is used as it is", 2)
	}
	d, err := vision.ReadFolder(data, vision.FolderOptions{Size: size, ValFrac: c.Float64("val-split"), Seed: uint64(c.Int64("seed")),
		SkipBad: c.String("on-bad-image") == "skip"})
	if err != nil {
		return nil, cli.Exit(badImageHint(err), 2)
	}
	reportUnsupported(c, d.Unsupported)
	reportSkipped(c, d.Skipped)
	return &target{train: d.Train, val: d.Val, size: size}, nil
}

// shots returns n training images per class drawn with seed (all of them
// for n = 0), prepared at the target's size.
func (t *target) shots(n int, seed uint64) (*datasets.Images, error) {
	im := t.train
	if n > 0 {
		idx, err := im.FirstPerClass(n, seed)
		if err != nil {
			return nil, err
		}
		if im, err = im.Subset(idx); err != nil {
			return nil, err
		}
	}
	if im.Height == t.size && im.Width == t.size && im.Channels == 3 {
		return im, nil
	}
	return vision.PrepareRGB(im, t.size), nil
}

// smallestClass returns the number of training images of the smallest class.
func (t *target) smallestClass() (int, string) {
	count := make([]int, len(t.train.Classes))
	for _, l := range t.train.Labels {
		count[l]++
	}
	n, name := count[0], t.train.Classes[0]
	for c, k := range count {
		if k < n {
			n, name = k, t.train.Classes[c]
		}
	}
	return n, name
}

// readFashion loads Fashion-MNIST's training split and n balanced images of
// its test split (all for n = 0), restricted to the classes of spec.
func readFashion(spec string, n int) (train, test *datasets.Images, err error) {
	if train, err = datasets.LoadFashionMNIST("", datasets.Train); err != nil {
		return nil, nil, err
	}
	if test, err = datasets.LoadFashionMNIST("", datasets.Test); err != nil {
		return nil, nil, err
	}
	if spec != "" {
		classes, err := datasets.ParseClasses(spec, len(train.Classes))
		if err != nil {
			return nil, nil, cli.Exit("--classes: "+err.Error(), 2)
		}
		if train, err = train.SelectClasses(classes); err != nil {
			return nil, nil, err
		}
		if test, err = test.SelectClasses(classes); err != nil {
			return nil, nil, err
		}
	}
	if n > 0 && n < test.Len() {
		idx, err := test.FirstPerClass(n/len(test.Classes), 7)
		if err != nil {
			return nil, nil, err
		}
		if test, err = test.Subset(idx); err != nil {
			return nil, nil, err
		}
	}
	return train, test, nil
}

// badImageHint adds the way out to an error about an image that does not
// decode.
func badImageHint(err error) string {
	msg := err.Error()
	if strings.Contains(msg, "decode") || strings.Contains(msg, "truncated") || strings.Contains(msg, "jpeg") || strings.Contains(msg, "png") {
		msg += " (--on-bad-image skip leaves such images out)"
	}
	return msg
}

// reportSkipped says on stderr how many images were left out, naming the
// first few.
func reportSkipped(c *cli.Context, skipped []string) {
	if len(skipped) == 0 {
		return
	}
	names := skipped[:min(3, len(skipped))]
	more := ""
	if len(skipped) > 3 {
		more = fmt.Sprintf(" and %d more", len(skipped)-3)
	}
	fmt.Fprintf(c.App.ErrWriter, "skipped %d images that do not load: %s%s\n", len(skipped), strings.Join(names, ", "), more)
}
