package vision

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/gtl-dev/gtl/vision/datasets"
	"github.com/gtl-dev/gtl/vision/transforms"
)

// LoadFolder reads an image folder into memory at size×size (shorter side
// resized, centre crop), split as [ListFolder] says. With skipBad, images
// that do not decode are left out and listed in skipped; otherwise the
// first one is an error. [ReadFolder] also returns the files left out for
// their type.
func LoadFolder(root string, size int, valFrac float64, seed uint64, skipBad bool) (train, val *datasets.Images, skipped []string, err error) {
	d, err := ReadFolder(root, FolderOptions{Size: size, ValFrac: valFrac, Seed: seed, SkipBad: skipBad})
	if err != nil {
		return nil, nil, nil, err
	}
	return d.Train, d.Val, d.Skipped, nil
}

// FolderOptions says how to read an image folder.
type FolderOptions struct {
	Size    int     // images are resized (shorter side) and centre-cropped to Size×Size
	ValFrac float64 // share of each class kept for validation when the folder has no validation folder
	Seed    uint64  // seed of that split
	SkipBad bool    // leave out images that do not decode (else the first is an error)
}

// FolderData is an image folder read into memory.
type FolderData struct {
	Train, Val  *datasets.Images
	Skipped     []string // images left out because they do not decode (SkipBad)
	Unsupported []string // files left out for their type (see Folder.Unsupported)
}

// ReadFolder reads an image folder into memory as [LoadFolder] does.
func ReadFolder(root string, o FolderOptions) (*FolderData, error) {
	f, err := ListFolder(root, o.ValFrac, o.Seed)
	if err != nil {
		return nil, err
	}
	d := &FolderData{Unsupported: f.Unsupported}
	if d.Train, d.Skipped, err = LoadItems(f.Train, f.Classes, o.Size, o.SkipBad); err != nil {
		return nil, err
	}
	val, vSkipped, err := LoadItems(f.Val, f.Classes, o.Size, o.SkipBad)
	if err != nil {
		return nil, err
	}
	d.Val, d.Skipped = val, append(d.Skipped, vSkipped...)
	return d, nil
}

// Folder is an image folder's listing, split into training and validation
// images.
type Folder struct {
	Train, Val []datasets.Item
	Classes    []string
	// Unsupported are files left out for their type (not an image
	// extension gtl reads; hidden files are not counted).
	Unsupported []string
}

// ValDirs are the names a validation folder beside train/ may have:
// torchvision's and Keras's val/, fastai's valid/, and validation/.
var ValDirs = []string{"val", "valid", "validation"}

// TestDir is the name of a held-out test folder, never taken as a class.
const TestDir = "test"

// ValDir returns root's validation folder: the first of ValDirs under root
// that is a folder; "" when there is none.
func ValDir(root string) string {
	for _, d := range ValDirs {
		if p := filepath.Join(root, d); isDir(p) {
			return p
		}
	}
	return ""
}

// SplitDir returns the folder of a named split of the image folder root:
// "train" and "test" (TestDir) are root's folders of those names, "val",
// "valid" and "validation" its validation folder (ValDir, whichever of
// ValDirs it has), "all" root itself. It returns an error naming the split
// when root lacks that folder or the name is none of these.
func SplitDir(root, split string) (string, error) {
	switch {
	case split == "all":
		return root, nil
	case split == "train" || split == TestDir:
		if p := filepath.Join(root, split); isDir(p) {
			return p, nil
		}
		return "", fmt.Errorf("split %s: %s has no %s/ folder", split, root, split)
	case slices.Contains(ValDirs, split):
		if p := ValDir(root); p != "" {
			return p, nil
		}
		return "", fmt.Errorf("split %s: %s has no validation folder (%s)", split, root, strings.Join(ValDirs, "/, ")+"/")
	}
	return "", fmt.Errorf("split %s: an image folder's splits are test, val, train and all", split)
}

// ListFolder lists an image folder without reading the images:
//   - root/train and a validation folder (root/val, root/valid or
//     root/validation, see ValDirs) when both exist: a class in the
//     validation folder must be in train;
//   - else root/train, or root itself, split per class with valFrac for
//     validation, seeded.
//
// root/test is never a class (see TestDir); hidden files and folders are
// never classes or images (see datasets.IsHidden).
func ListFolder(root string, valFrac float64, seed uint64) (*Folder, error) {
	tr, va := filepath.Join(root, "train"), ValDir(root)
	if isDir(tr) && va != "" {
		trL, err := datasets.ScanImageFolder(tr)
		if err != nil {
			return nil, err
		}
		vaL, err := datasets.ScanImageFolder(va)
		if err != nil {
			return nil, err
		}
		classes, vaItems, vaClasses := trL.Classes, vaL.Items, vaL.Classes
		for _, c := range vaClasses {
			if i := sort.SearchStrings(classes, c); i == len(classes) || classes[i] != c {
				return nil, fmt.Errorf("vision: %s: class folder %q is in %s but not in train", root, c, filepath.Base(va))
			}
		}
		if err := twoClasses(tr, trL.Classes); err != nil {
			return nil, err
		}
		// Validation labels follow the training classes' numbering.
		for i := range vaItems {
			vaItems[i].Label = sort.SearchStrings(classes, vaClasses[vaItems[i].Label])
		}
		return &Folder{Train: trL.Items, Val: vaItems, Classes: classes, Unsupported: append(trL.Unsupported, vaL.Unsupported...)}, nil
	}
	base := root
	if isDir(tr) {
		base = tr
	}
	if valFrac <= 0 || valFrac >= 1 {
		return nil, fmt.Errorf("vision: %s has no train/ and val/ folders: a validation split in (0, 1) is needed, got %g", root, valFrac)
	}
	l, err := datasets.ScanImageFolder(base, TestDir)
	if err != nil {
		return nil, err
	}
	if err := twoClasses(base, l.Classes); err != nil {
		return nil, err
	}
	items, classes := l.Items, l.Classes
	byClass := make([][]datasets.Item, len(classes))
	for _, it := range items {
		byClass[it.Label] = append(byClass[it.Label], it)
	}
	r := rand.New(rand.NewPCG(seed, 0x666f6c64))
	f := &Folder{Classes: classes, Unsupported: l.Unsupported}
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

// twoClasses refuses a training set of one class: a classifier needs two.
func twoClasses(dir string, classes []string) error {
	if len(classes) < 2 {
		return fmt.Errorf("vision: %s: one class folder (%s); a classifier needs at least two (want %s/<class>/<image>.jpg)", dir, classes[0], dir)
	}
	return nil
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
		if it.Tags != nil {
			im.Tags = append(im.Tags, it.Tags)
		}
	}
	if im.Tags != nil && len(im.Tags) != len(im.Labels) {
		return nil, nil, fmt.Errorf("vision: load images: %d of %d images carry tags: a set is multi-label or not", len(im.Tags), len(im.Labels))
	}
	return im, skipped, nil
}
