package vision

import (
	"fmt"
	"math/rand/v2"

	"github.com/gtl-dev/gtl/vision/datasets"
)

// ListCSV lists the images of a labels file (see datasets.ReadCSVLabels)
// under root, without reading them: the file's validation rows when it
// has a validation column, else a seeded share valFrac of each class (as
// ListFolder splits a folder without val/). One label per row.
func ListCSV(root, labels string, o datasets.CSVOptions, valFrac float64, seed uint64) (*Folder, error) {
	l, err := datasets.ReadCSVLabels(labels, root, o)
	if err != nil {
		return nil, err
	}
	if len(l.Classes) < 2 {
		return nil, fmt.Errorf("vision: labels %s: one class (%q): a classifier needs at least two", labels, l.Classes[0])
	}
	items := l.Items()
	f := &Folder{Classes: l.Classes}
	if l.Valid != nil {
		for i, it := range items {
			if l.Valid[i] {
				f.Val = append(f.Val, it)
			} else {
				f.Train = append(f.Train, it)
			}
		}
		if len(f.Train) == 0 || len(f.Val) == 0 {
			return nil, fmt.Errorf("vision: labels %s: %d training and %d validation rows: want both", labels, len(f.Train), len(f.Val))
		}
		return f, nil
	}
	if valFrac <= 0 || valFrac >= 1 {
		return nil, fmt.Errorf("vision: labels %s has no validation column: a validation split in (0, 1) is needed, got %g", labels, valFrac)
	}
	byClass := make([][]datasets.Item, len(l.Classes))
	for _, it := range items {
		byClass[it.Label] = append(byClass[it.Label], it)
	}
	r := rand.New(rand.NewPCG(seed, 0x666f6c64)) // as ListFolder's split
	for c, its := range byClass {
		r.Shuffle(len(its), func(i, j int) { its[i], its[j] = its[j], its[i] })
		nv := int(float64(len(its))*valFrac + 0.5)
		if nv == 0 || nv == len(its) {
			return nil, fmt.Errorf("vision: labels %s: class %q has %d images, too few to keep %.0f%% for validation", labels, l.Classes[c], len(its), 100*valFrac)
		}
		f.Val = append(f.Val, its[:nv]...)
		f.Train = append(f.Train, its[nv:]...)
	}
	return f, nil
}
