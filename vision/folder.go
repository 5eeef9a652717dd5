package vision

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"

	"github.com/gtl-dev/gtl/vision/datasets"
	"github.com/gtl-dev/gtl/vision/transforms"
)

// LoadFolder reads an image folder into memory at size×size (shorter side
// resized, centre crop). root/train and root/val are used when both exist;
// otherwise root/<class>/ is split, stratified and seeded, keeping valFrac
// of each class for validation.
func LoadFolder(root string, size int, valFrac float64, seed uint64) (train, val *datasets.Images, err error) {
	tr, va := filepath.Join(root, "train"), filepath.Join(root, "val")
	if isDir(tr) && isDir(va) {
		trItems, classes, err := datasets.ListImageFolder(tr)
		if err != nil {
			return nil, nil, err
		}
		vaItems, vaClasses, err := datasets.ListImageFolder(va)
		if err != nil {
			return nil, nil, err
		}
		for _, c := range vaClasses {
			if sort.SearchStrings(classes, c) == len(classes) || classes[sort.SearchStrings(classes, c)] != c {
				return nil, nil, fmt.Errorf("vision: %s: class folder %q is in val but not in train", root, c)
			}
		}
		// Validation labels follow the training classes' numbering.
		for i := range vaItems {
			vaItems[i].Label = sort.SearchStrings(classes, vaClasses[vaItems[i].Label])
		}
		if train, err = loadItems(trItems, classes, size); err != nil {
			return nil, nil, err
		}
		val, err = loadItems(vaItems, classes, size)
		return train, val, err
	}
	if valFrac <= 0 || valFrac >= 1 {
		return nil, nil, fmt.Errorf("vision: %s has no train/ and val/ folders: a validation split in (0, 1) is needed, got %g", root, valFrac)
	}
	items, classes, err := datasets.ListImageFolder(root)
	if err != nil {
		return nil, nil, err
	}
	byClass := make([][]datasets.Item, len(classes))
	for _, it := range items {
		byClass[it.Label] = append(byClass[it.Label], it)
	}
	r := rand.New(rand.NewPCG(seed, 0x666f6c64))
	var trItems, vaItems []datasets.Item
	for c, its := range byClass {
		r.Shuffle(len(its), func(i, j int) { its[i], its[j] = its[j], its[i] })
		nv := int(float64(len(its))*valFrac + 0.5)
		if nv == 0 || nv == len(its) {
			return nil, nil, fmt.Errorf("vision: %s: class %q has %d images, too few to keep %.0f%% for validation", root, classes[c], len(its), 100*valFrac)
		}
		vaItems = append(vaItems, its[:nv]...)
		trItems = append(trItems, its[nv:]...)
	}
	if train, err = loadItems(trItems, classes, size); err != nil {
		return nil, nil, err
	}
	val, err = loadItems(vaItems, classes, size)
	return train, val, err
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

// loadItems decodes, resizes and crops images into one in-memory set.
func loadItems(items []datasets.Item, classes []string, size int) (*datasets.Images, error) {
	eval := transforms.EvalPreset(size, size, transforms.Bilinear)
	im := &datasets.Images{Height: size, Width: size, Channels: 3, Classes: classes,
		Pix: make([]uint8, 0, len(items)*size*size*3), Labels: make([]int, 0, len(items))}
	for _, it := range items {
		img, err := transforms.Load(it.Path)
		if err != nil {
			return nil, err
		}
		im.Pix = append(im.Pix, eval.Apply(img).Pix...)
		im.Labels = append(im.Labels, it.Label)
	}
	return im, nil
}
