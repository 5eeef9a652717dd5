package datasets

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// csvFolder writes empty files for the named images under a new folder
// and the labels file text beside them; it returns the folder and the
// file.
func csvFolder(t *testing.T, images []string, text string) (root, labels string) {
	t.Helper()
	root = t.TempDir()
	for _, im := range images {
		p := filepath.Join(root, im)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	labels = filepath.Join(root, "labels.csv")
	if err := os.WriteFile(labels, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return root, labels
}

// TestReadCSVLabels: fastai's from_csv columns (by index or name), the
// validation and split columns, multi-label rows, and bad rows refused
// together, the first few listed with their row numbers.
func TestReadCSVLabels(t *testing.T) {
	images := []string{"a.png", "b.png", "c.png", "d/e.png"}
	cases := []struct {
		name   string
		text   string
		o      CSVOptions
		paths  []string
		labels [][]string
		valid  []bool
		rows   []int
		err    string
	}{
		{name: "fastai defaults", text: "name,label\na.png,cat\nb.png,dog\n\nd/e.png,cat\n",
			paths: []string{"a.png", "b.png", "d/e.png"}, labels: [][]string{{"cat"}, {"dog"}, {"cat"}}, rows: []int{2, 3, 5}},
		{name: "is_valid", text: "fname,label,is_valid\na.png,cat,False\nb.png,dog,True\nc.png,cat,1\n",
			paths: []string{"a.png", "b.png", "c.png"}, labels: [][]string{{"cat"}, {"dog"}, {"cat"}}, valid: []bool{false, true, true}, rows: []int{2, 3, 4}},
		{name: "columns by name", text: "label,x,file\ncat,1,a.png\ndog,2,b.png\n", o: CSVOptions{FnCol: "file", LabelCol: "label"},
			paths: []string{"a.png", "b.png"}, labels: [][]string{{"cat"}, {"dog"}}, rows: []int{2, 3}},
		{name: "split column, test left out", text: "path,tag,split\na.png,cat,train\nb.png,dog,valid\nc.png,cat,test\n",
			paths: []string{"a.png", "b.png"}, labels: [][]string{{"cat"}, {"dog"}}, valid: []bool{false, true}, rows: []int{2, 3}},
		{name: "multi-label", text: "fn,tags\na.png,cat dog\nb.png,  dog \nc.png,bird cat\n", o: CSVOptions{LabelDelim: " "},
			paths: []string{"a.png", "b.png", "c.png"}, labels: [][]string{{"cat", "dog"}, {"dog"}, {"bird", "cat"}}, rows: []int{2, 3, 4}},
		{name: "bad rows together", text: "fn,label\na.png,cat\nmissing.png,dog\na.png,dog\nb.png,\n,cat\nc.png,cat\n",
			err: "4 bad rows: row 3: missing.png: no such image; row 4: a.png: the same image as row 2; row 5: b.png: empty label; row 6: no image path"},
		{name: "more than five listed", text: "fn,label\n" + strings.Repeat("x.png,cat\n", 7),
			err: "7 bad rows: row 2: x.png: no such image; row 3: x.png: the same image as row 2; row 4:"},
		{name: "bad is_valid", text: "fn,label,is_valid\na.png,cat,maybe\n", err: `row 2: a.png: is_valid "maybe", want true or false`},
		{name: "no such column", text: "fn,label\na.png,cat\n", o: CSVOptions{LabelCol: "tag"}, err: `label_col "tag": no such column (header: fn,label)`},
		{name: "index past the header", text: "fn,label\na.png,cat\n", o: CSVOptions{LabelCol: "4"}, err: "label_col 4: the header has 2 columns"},
		{name: "empty", text: "", err: "empty file"},
		{name: "header only", text: "fn,label\n", err: "no image rows"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root, labels := csvFolder(t, images, c.text)
			l, err := ReadCSVLabels(labels, root, c.o)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) || !strings.Contains(err.Error(), labels) {
					t.Fatalf("error %v\nwant %q naming the file", err, c.err)
				}
				if strings.Contains(c.name, "more than five") && !strings.HasSuffix(err.Error(), "; and 2 more") {
					t.Errorf("error %v: want the rest counted", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := make([]string, len(c.paths))
			for i, p := range c.paths {
				want[i] = filepath.Join(root, p)
			}
			if !reflect.DeepEqual(l.Paths, want) || !reflect.DeepEqual(l.Labels, c.labels) || !reflect.DeepEqual(l.Valid, c.valid) || !reflect.DeepEqual(l.Rows, c.rows) {
				t.Errorf("got paths %v labels %v valid %v rows %v\nwant %v %v %v %v", l.Paths, l.Labels, l.Valid, l.Rows, want, c.labels, c.valid, c.rows)
			}
		})
	}
	// Classes are sorted; items are numbered by them.
	root, labels := csvFolder(t, images, "fn,label\na.png,zebra\nb.png,ant\nc.png,zebra\n")
	l, err := ReadCSVLabels(labels, root, CSVOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(l.Classes, []string{"ant", "zebra"}) {
		t.Errorf("classes %v", l.Classes)
	}
	var got []int
	for _, it := range l.Items() {
		got = append(got, it.Label)
	}
	if !reflect.DeepEqual(got, []int{1, 0, 1}) {
		t.Errorf("item labels %v, want [1 0 1]", got)
	}
}
