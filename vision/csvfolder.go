package vision

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/gtl-dev/gtl/vision/datasets"
)

// ErrOneSplit is wrapped by ListCSV's error when a labels file's
// validation column puts every row in the same split (all training or
// all validation).
var ErrOneSplit = errors.New("every row in one split")

// ListCSV lists the images of a labels file (see datasets.ReadCSVLabels)
// under root, without reading them: the file's validation rows when it
// has a validation column, else a seeded share valFrac of each class (as
// ListFolder splits a folder without val/); a multi-label file's rows are
// split by StratifyMultiLabel.
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
			marks := "false (no validation rows)"
			if l.ValidColumn == "split" {
				marks = "train (no validation rows)"
			}
			if len(f.Train) == 0 {
				marks = "true (no training rows)"
				if l.ValidColumn == "split" {
					marks = "valid (no training rows)"
				}
			}
			n := len(f.Train) + len(f.Val)
			all := "all " + datasets.Plural(n, "row")
			if n == 1 {
				all = "its 1 row"
			}
			return nil, fmt.Errorf("vision: labels %s: %w: its %s column marks %s %s", labels, ErrOneSplit, l.ValidColumn, all, marks)
		}
		return f, nil
	}
	if valFrac <= 0 || valFrac >= 1 {
		return nil, fmt.Errorf("vision: labels %s has no validation column: a validation split in (0, 1) is needed, got %g", labels, valFrac)
	}
	if l.Multi {
		f.Train, f.Val = StratifyMultiLabel(items, len(l.Classes), valFrac, seed)
		if len(f.Train) == 0 || len(f.Val) == 0 {
			return nil, fmt.Errorf("vision: labels %s: %s, too few to keep %.0f%% for validation", labels, datasets.Plural(len(items), "row"), 100*valFrac)
		}
		return f, nil
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
			return nil, fmt.Errorf("vision: labels %s: class %q has %s, too few to keep %.0f%% for validation", labels, l.Classes[c], datasets.Plural(len(its), "image"), 100*valFrac)
		}
		f.Val = append(f.Val, its[:nv]...)
		f.Train = append(f.Train, its[nv:]...)
	}
	return f, nil
}

// StratifyMultiLabel splits multi-label items (each with its Tags, class
// indices in [0, classes)) into a training and a validation part holding
// about valFrac of the items and, as nearly as the items allow, valFrac
// of every class's items: the iterative stratification of Sechidis,
// Tsoumakas and Vlahavas, "On the Stratification of Multi-label Data"
// (ECML PKDD 2011), Algorithm 1, as scikit-multilearn's
// IterativeStratification implements it. Repeatedly, the class with the
// fewest items left is taken and each of its items goes to the part that
// still wants the most items of that class (ties: the part that wants the
// most items in all, then a seeded coin); the wants of every class the
// item carries then drop by one. Items without tags are placed by the
// parts' total wants. The order of both parts follows a seeded shuffle;
// the same items and seed give the same split.
func StratifyMultiLabel(items []datasets.Item, classes int, valFrac float64, seed uint64) (train, val []datasets.Item) {
	r := rand.New(rand.NewPCG(seed, 0x666f6c64)) // as ListFolder's split
	order := r.Perm(len(items))
	frac := [2]float64{1 - valFrac, valFrac} // part 0 trains, part 1 validates
	// want[p][c]: how many more items of class c part p should get; total[p] all items.
	perClass := make([]int, classes)
	for _, it := range items {
		for _, c := range it.Tags {
			perClass[c]++
		}
	}
	var want [2][]float64
	var total [2]float64
	for p := range 2 {
		want[p] = make([]float64, classes)
		for c, n := range perClass {
			want[p][c] = float64(n) * frac[p]
		}
		total[p] = float64(len(items)) * frac[p]
	}
	part := make([]int, len(items)) // -1: not yet placed
	for i := range part {
		part[i] = -1
	}
	left := append([]int(nil), perClass...) // items of each class not yet placed
	place := func(i, p int) {
		part[i] = p
		total[p]--
		for _, c := range items[i].Tags {
			want[p][c]--
			left[c]--
		}
	}
	for {
		rarest := -1
		for c, n := range left {
			if n > 0 && (rarest < 0 || n < left[rarest]) {
				rarest = c
			}
		}
		if rarest < 0 {
			break
		}
		for _, i := range order {
			if part[i] >= 0 || !slices.Contains(items[i].Tags, rarest) {
				continue
			}
			p := 0
			switch a, b := want[0][rarest], want[1][rarest]; {
			case b > a:
				p = 1
			case a == b:
				switch a, b := total[0], total[1]; {
				case b > a:
					p = 1
				case a == b:
					p = r.IntN(2)
				}
			}
			place(i, p)
		}
	}
	for _, i := range order {
		if part[i] < 0 { // no tags
			p := 0
			if total[1] > total[0] {
				p = 1
			}
			place(i, p)
		}
	}
	for _, i := range order {
		if part[i] == 0 {
			train = append(train, items[i])
		} else {
			val = append(val, items[i])
		}
	}
	return train, val
}
