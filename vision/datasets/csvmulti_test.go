package datasets

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// TestCSVMultiLabelItems: with LabelDelim, the classes are the sorted union
// of the tags and each item carries its tags as sorted, unique class
// indices (Label the first label's); without it, items carry no tags.
func TestCSVMultiLabelItems(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"a.png", "b.png", "c.png"} {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	csv := filepath.Join(dir, "labels.csv")
	if err := os.WriteFile(csv, []byte("f,tags\na.png,dog;cat\nb.png,bird\nc.png,cat;dog;cat\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, delim, classes, tags, labels string
	}{
		{"multi-label", ";", "[bird cat dog]", "[[1 2] [0] [1 2]]", "[2 0 1]"},
		{"single-label", "", "[bird cat;dog;cat dog;cat]", "[[] [] []]", "[2 0 1]"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l, err := ReadCSVLabels(csv, dir, CSVOptions{LabelDelim: c.delim})
			if err != nil {
				t.Fatal(err)
			}
			items := l.Items()
			var tags [][]int
			var labels []int
			for _, it := range items {
				tags, labels = append(tags, it.Tags), append(labels, it.Label)
			}
			if got := fmt.Sprint(l.Classes); got != c.classes {
				t.Errorf("classes %s, want %s", got, c.classes)
			}
			if got := fmt.Sprint(tags); got != c.tags {
				t.Errorf("tags %s, want %s", got, c.tags)
			}
			if got := fmt.Sprint(labels); got != c.labels {
				t.Errorf("labels %s, want %s", got, c.labels)
			}
			if c.delim == "" && items[0].Tags != nil {
				t.Errorf("single-label item carries tags %v", items[0].Tags)
			}
		})
	}
}
