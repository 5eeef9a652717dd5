package datasets

import (
	"fmt"
	"math/rand/v2"
)

// Images is a labelled set of same-sized images held in memory.
type Images struct {
	Height, Width, Channels int
	// Pix holds image i at Pix[i*H*W*C : (i+1)*H*W*C], rows top to bottom,
	// channels interleaved (HWC), 0 = black.
	Pix     []uint8
	Labels  []int    // class index of each image
	Classes []string // class names, indexed by label
	// Tags holds the classes of each image of a multi-label set (Labels
	// then holds the first of them); nil for a single-label set.
	Tags [][]int
}

// Len returns the number of images.
func (im *Images) Len() int { return len(im.Labels) }

// ImageSize returns the number of bytes of one image.
func (im *Images) ImageSize() int { return im.Height * im.Width * im.Channels }

// Image returns the pixels of image i (a slice of Pix, not a copy).
func (im *Images) Image(i int) []uint8 {
	n := im.ImageSize()
	return im.Pix[i*n : (i+1)*n]
}

// Subset returns a new set holding the images at idx, in that order.
func (im *Images) Subset(idx []int) (*Images, error) {
	n := im.ImageSize()
	out := &Images{Height: im.Height, Width: im.Width, Channels: im.Channels, Classes: im.Classes,
		Pix: make([]uint8, 0, len(idx)*n), Labels: make([]int, 0, len(idx))}
	for _, i := range idx {
		if i < 0 || i >= im.Len() {
			return nil, fmt.Errorf("datasets: subset: index %d out of range [0, %d)", i, im.Len())
		}
		out.Pix = append(out.Pix, im.Image(i)...)
		out.Labels = append(out.Labels, im.Labels[i])
		if im.Tags != nil {
			out.Tags = append(out.Tags, im.Tags[i])
		}
	}
	return out, nil
}

// FirstPerClass returns the indices of the first n images of every class, in
// a seeded random order of the whole set; n larger than a class is an error.
//
// A multi-label set (Tags set) takes, in that order, every image carrying
// a class that has fewer than n images taken so far, so that every class
// has at least n (more where classes share images): the
// minimum-including sampling of few-shot multi-label learning (Hou et al.,
// "Few-shot Learning for Multi-label Intent Detection", AAAI 2021).
func (im *Images) FirstPerClass(n int, seed uint64) ([]int, error) {
	perm := rand.New(rand.NewPCG(seed, 0x67746c)).Perm(im.Len())
	if im.Tags != nil {
		return im.atLeastPerClass(n, perm)
	}
	count := make([]int, len(im.Classes))
	var idx []int
	for _, i := range perm {
		if c := im.Labels[i]; count[c] < n {
			count[c]++
			idx = append(idx, i)
		}
	}
	for c, k := range count {
		if k < n {
			return nil, fmt.Errorf("datasets: %d images per class asked, class %d (%s) has %d", n, c, im.Classes[c], k)
		}
	}
	return idx, nil
}

// atLeastPerClass is FirstPerClass of a multi-label set, in the order perm.
func (im *Images) atLeastPerClass(n int, perm []int) ([]int, error) {
	count := make([]int, len(im.Classes))
	var idx []int
	for _, i := range perm {
		wanted := false
		for _, c := range im.Tags[i] {
			if c < 0 || c >= len(count) {
				return nil, fmt.Errorf("datasets: image %d: class %d outside [0, %d)", i, c, len(count))
			}
			wanted = wanted || count[c] < n
		}
		if !wanted {
			continue
		}
		for _, c := range im.Tags[i] {
			count[c]++
		}
		idx = append(idx, i)
	}
	for c, k := range count {
		if k < n {
			return nil, fmt.Errorf("datasets: %d images per class asked, class %d (%s) has %d", n, c, im.Classes[c], k)
		}
	}
	return idx, nil
}
