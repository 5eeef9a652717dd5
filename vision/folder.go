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
// of each class for validation. With skipBad, images that do not decode
// are left out and listed in skipped; otherwise the first one is an error.
func LoadFolder(root string, size int, valFrac float64, seed uint64, skipBad bool) (train, val *datasets.Images, skipped []string, err error) {
	f, err := ListFolder(root, valFrac, seed)
	if err != nil {
		return nil, nil, nil, err
	}
	if train, skipped, err = LoadItems(f.Train, f.Classes, size, skipBad); err != nil {
		return nil, nil, nil, err
	}
	val, vSkipped, err := LoadItems(f.Val, f.Classes, size, skipBad)
	return train, val, append(skipped, vSkipped...), err
}

// Folder is an image folder's listing, split into training and validation
// images.
type Folder struct {
	Train, Val []datasets.Item
	Classes    []string
}

// ListFolder lists an image folder without reading the images: root/train
// and root/val when both exist (a class in val must be in train), else
// root/<class>/ split per class with valFrac for validation, seeded.
func ListFolder(root string, valFrac float64, seed uint64) (*Folder, error) {
	tr, va := filepath.Join(root, "train"), filepath.Join(root, "val")
	if isDir(tr) && isDir(va) {
		trItems, classes, err := datasets.ListImageFolder(tr)
		if err != nil {
			return nil, err
		}
		vaItems, vaClasses, err := datasets.ListImageFolder(va)
		if err != nil {
			return nil, err
		}
		for _, c := range vaClasses {
			if i := sort.SearchStrings(classes, c); i == len(classes) || classes[i] != c {
				return nil, fmt.Errorf("vision: %s: class folder %q is in val but not in train", root, c)
			}
		}
		// Validation labels follow the training classes' numbering.
		for i := range vaItems {
			vaItems[i].Label = sort.SearchStrings(classes, vaClasses[vaItems[i].Label])
		}
		return &Folder{Train: trItems, Val: vaItems, Classes: classes}, nil
	}
	if valFrac <= 0 || valFrac >= 1 {
		return nil, fmt.Errorf("vision: %s has no train/ and val/ folders: a validation split in (0, 1) is needed, got %g", root, valFrac)
	}
	items, classes, err := datasets.ListImageFolder(root)
	if err != nil {
		return nil, err
	}
	byClass := make([][]datasets.Item, len(classes))
	for _, it := range items {
		byClass[it.Label] = append(byClass[it.Label], it)
	}
	r := rand.New(rand.NewPCG(seed, 0x666f6c64))
	f := &Folder{Classes: classes}
	for c, its := range byClass {
		r.Shuffle(len(its), func(i, j int) { its[i], its[j] = its[j], its[i] })
		nv := int(float64(len(its))*valFrac + 0.5)
		if nv == 0 || nv == len(its) {
			return nil, fmt.Errorf("vision: %s: class %q has %d images, too few to keep %.0f%% for validation", root, classes[c], len(its), 100*valFrac)
		}
		f.Val = append(f.Val, its[:nv]...)
		f.Train = append(f.Train, its[nv:]...)
	}
	return f, nil
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

// LoadItems decodes, resizes and crops images into one in-memory set; with
// skipBad, images that do not decode are left out and listed.
func LoadItems(items []datasets.Item, classes []string, size int, skipBad bool) (*datasets.Images, []string, error) {
	eval := transforms.EvalPreset(size, size, transforms.Bilinear)
	im := &datasets.Images{Height: size, Width: size, Channels: 3, Classes: classes,
		Pix: make([]uint8, 0, len(items)*size*size*3), Labels: make([]int, 0, len(items))}
	var skipped []string
	for _, it := range items {
		img, err := transforms.Load(it.Path)
		if err != nil {
			if skipBad {
				skipped = append(skipped, it.Path)
				continue
			}
			return nil, nil, err
		}
		im.Pix = append(im.Pix, eval.Apply(img).Pix...)
		im.Labels = append(im.Labels, it.Label)
	}
	return im, skipped, nil
}
