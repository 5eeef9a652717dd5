package vision

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gtl-dev/gtl/vision/datasets"
)

// TestListCSVOneSplit: a validation column that puts every row in one
// split is refused wrapping ErrOneSplit, saying which column marks what;
// counts are singular or plural. (Rows are read as label sets, so that
// one row can hold two classes.)
func TestListCSVOneSplit(t *testing.T) {
	cases := []struct {
		name, header string
		rows         []string // the validation cell of each row
		valFrac      float64
		err          string
		oneSplit     bool
	}{
		{"is_valid all false", "fn,label,is_valid", []string{"false", "0", "False", "no"}, 0.2, "its is_valid column marks all 4 rows false (no validation rows)", true},
		{"is_valid all true", "fn,label,is_valid", []string{"true", "1", "yes", "True"}, 0.2, "its is_valid column marks all 4 rows true (no training rows)", true},
		{"split all train", "fn,label,split", []string{"train", "train", "test", "train"}, 0.2, "its split column marks all 3 rows train (no validation rows)", true},
		{"split all valid", "fn,label,split", []string{"valid", "val"}, 0.2, "its split column marks all 2 rows valid (no training rows)", true},
		{"one row", "fn,label,is_valid", []string{"false"}, 0.2, "its is_valid column marks its 1 row false (no validation rows)", true},
		{"both marked", "fn,label,is_valid", []string{"false", "true", "false", "true"}, 0.2, "", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			var b strings.Builder
			b.WriteString(c.header + "\n")
			for i, v := range c.rows {
				name := fmt.Sprintf("%d.png", i)
				if err := os.WriteFile(filepath.Join(root, name), nil, 0o644); err != nil {
					t.Fatal(err)
				}
				label := []string{"cat", "dog"}[i%2]
				if len(c.rows) == 1 {
					label = "cat dog" // a multi-label row: two classes
				}
				fmt.Fprintf(&b, "%s,%s,%s\n", name, label, v)
			}
			labels := filepath.Join(root, "labels.csv")
			if err := os.WriteFile(labels, []byte(b.String()), 0o644); err != nil {
				t.Fatal(err)
			}
			f, err := ListCSV(root, labels, datasets.CSVOptions{LabelDelim: " "}, c.valFrac, 1)
			if c.err == "" {
				if err != nil || len(f.Train) != 2 || len(f.Val) != 2 {
					t.Fatalf("ListCSV: %v, want 2 training and 2 validation images", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.err) || !strings.Contains(err.Error(), labels) || errors.Is(err, ErrOneSplit) != c.oneSplit {
				t.Fatalf("error %v\nwant %q naming the file, wrapping ErrOneSplit", err, c.err)
			}
		})
	}
}

// TestListCSVTooFew: a class or file too small to split is refused with
// its count in the singular or plural.
func TestListCSVTooFew(t *testing.T) {
	root := t.TempDir()
	for _, n := range []string{"a.png", "b.png", "c.png"} {
		if err := os.WriteFile(filepath.Join(root, n), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct{ name, text, delim, err string }{
		{"a class of one image", "fn,label\na.png,cat\nb.png,dog\nc.png,dog\n", "", `class "cat" has 1 image, too few to keep 20% for validation`},
		{"a class of two images", "fn,label\na.png,cat\nb.png,cat\nc.png,dog\n", "", `class "cat" has 2 images, too few`},
		{"multi-label, one row", "fn,label\na.png,cat dog\n", " ", "1 row, too few to keep 20% for validation"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			labels := filepath.Join(t.TempDir(), "labels.csv")
			if err := os.WriteFile(labels, []byte(c.text), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := ListCSV(root, labels, datasets.CSVOptions{LabelDelim: c.delim}, 0.2, 1)
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Fatalf("error %v, want %q", err, c.err)
			}
		})
	}
}
