package vision

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gtl-dev/gtl/vision/datasets"
)

// multiLabelItems draws n items over len(p) classes, class c carried with
// probability p[c], at least one class each (the most common one when the
// draw gives none).
func multiLabelItems(n int, p []float64, seed uint64) []datasets.Item {
	r := rand.New(rand.NewPCG(seed, 1))
	items := make([]datasets.Item, n)
	for i := range items {
		var tags []int
		for c, pc := range p {
			if r.Float64() < pc {
				tags = append(tags, c)
			}
		}
		if len(tags) == 0 {
			tags = []int{0}
		}
		items[i] = datasets.Item{Path: fmt.Sprintf("%03d.png", i), Label: tags[0], Tags: tags}
	}
	return items
}

// TestStratifyMultiLabel: every class's share of validation items is
// within one item of valFrac of its items (the rare classes, which
// stratifying by the first tag alone misplaces, included); the parts
// partition the items; the split follows the seed.
func TestStratifyMultiLabel(t *testing.T) {
	cases := []struct {
		name    string
		n       int
		p       []float64
		valFrac float64
		seed    uint64
		slack   float64 // allowed |val_c − valFrac·n_c| for every class
	}{
		{"rare late tags", 200, []float64{0.6, 0.4, 0.3, 0.05, 0.05}, 0.2, 1, 1},
		{"eight classes", 300, []float64{0.5, 0.35, 0.3, 0.2, 0.1, 0.08, 0.05, 0.03}, 0.2, 7, 1},
		{"third to validation", 150, []float64{0.7, 0.5, 0.1, 0.04}, 1.0 / 3, 3, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			items := multiLabelItems(tc.n, tc.p, tc.seed)
			train, val := StratifyMultiLabel(items, len(tc.p), tc.valFrac, 42)
			seen := map[string]int{}
			for _, it := range append(append([]datasets.Item(nil), train...), val...) {
				seen[it.Path]++
			}
			if len(train)+len(val) != tc.n || len(seen) != tc.n {
				t.Fatalf("%d train + %d val items, %d distinct, want a partition of %d", len(train), len(val), len(seen), tc.n)
			}
			if d := math.Abs(float64(len(val)) - tc.valFrac*float64(tc.n)); d > max(2, 0.02*float64(tc.n)) {
				t.Errorf("%d validation items, want about %.1f", len(val), tc.valFrac*float64(tc.n))
			}
			count := func(its []datasets.Item) []int {
				n := make([]int, len(tc.p))
				for _, it := range its {
					for _, c := range it.Tags {
						n[c]++
					}
				}
				return n
			}
			all, nv := count(items), count(val)
			for c := range tc.p {
				if d := math.Abs(float64(nv[c]) - tc.valFrac*float64(all[c])); d > tc.slack {
					t.Errorf("class %d: %d of %d items validate, want %.1f ± %g", c, nv[c], all[c], tc.valFrac*float64(all[c]), tc.slack)
				}
			}
			// The same seed gives the same split; another seed another.
			train2, val2 := StratifyMultiLabel(items, len(tc.p), tc.valFrac, 42)
			if !slices.EqualFunc(val, val2, func(a, b datasets.Item) bool { return a.Path == b.Path }) || len(train2) != len(train) {
				t.Error("the same seed gave another split")
			}
			_, val3 := StratifyMultiLabel(items, len(tc.p), tc.valFrac, 43)
			if slices.EqualFunc(val, val3, func(a, b datasets.Item) bool { return a.Path == b.Path }) {
				t.Error("seeds 42 and 43 gave the same split")
			}
		})
	}
}

// TestListCSVMultiLabelSplit: a multi-label labels file without a
// validation column is split by StratifyMultiLabel: a tag that is never an
// image's first (so that splitting by the first tag leaves it to chance)
// keeps its share of validation images.
func TestListCSVMultiLabelSplit(t *testing.T) {
	root := t.TempDir()
	var b strings.Builder
	b.WriteString("fname,labels\n")
	for i := 0; i < 50; i++ {
		name := fmt.Sprintf("%02d.png", i)
		if err := os.WriteFile(filepath.Join(root, name), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		tags := []string{"a"}
		if i%2 == 1 {
			tags = []string{"b"}
		}
		if i%5 == 0 {
			tags = append(tags, "z") // 10 images carry z, never first
		}
		fmt.Fprintf(&b, "%s,%s\n", name, strings.Join(tags, " "))
	}
	labels := filepath.Join(t.TempDir(), "labels.csv")
	if err := os.WriteFile(labels, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	for seed := uint64(1); seed <= 5; seed++ {
		f, err := ListCSV(root, labels, datasets.CSVOptions{LabelDelim: " "}, 0.2, seed)
		if err != nil {
			t.Fatal(err)
		}
		n := map[string]int{}
		for _, it := range f.Val {
			for _, c := range it.Tags {
				n[f.Classes[c]]++
			}
		}
		if len(f.Val) != 10 || n["z"] != 2 || n["a"] != 5 || n["b"] != 5 {
			t.Errorf("seed %d: %d validation images, tags %v; want 10 with z 2, a 5, b 5", seed, len(f.Val), n)
		}
	}
}
