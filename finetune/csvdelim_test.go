package finetune

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLabelsFileFields: a labels file's errors name the field to change:
// CSVDelimiter for a header of one column, Suffix when the images exist
// with an extension appended, ValidCol when its validation column marks
// one split; the file's delimiter and suffix reach the reader; the two
// fields are refused without Labels or when malformed.
func TestLabelsFileFields(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"a.jpg", "b.jpg", "c.jpg", "d.jpg"} {
		if err := os.WriteFile(filepath.Join(dir, n), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	file := func(text string) string {
		p := filepath.Join(t.TempDir(), "labels.csv")
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	semi := file("id;label;is_valid\na;cat;0\nb;dog;0\nc;cat;1\nd;dog;1\n")
	cases := []struct {
		name    string
		d       DataSpec
		field   string // of the error; "" none
		msg     string // in the error
		classes string // read without error
	}{
		{"semicolon and suffix", DataSpec{Source: dir, Labels: semi, Suffix: ".jpg"}, "", "", "cat,dog"},
		{"no suffix: hinted", DataSpec{Source: dir, Labels: semi}, "Data.Suffix", "all 4 missing images exist with .jpg appended: Data.Suffix .jpg appends it", ""},
		{"wrong delimiter", DataSpec{Source: dir, Labels: semi, CSVDelimiter: ","}, "Data.CSVDelimiter",
			`label_col 1: the header has 1 column when split at ',': "id;label;is_valid"; Data.CSVDelimiter names the file's separator`, ""},
		{"colons", DataSpec{Source: dir, Labels: file("id:label\na.jpg:cat\n")}, "Data.CSVDelimiter", "the header has 1 column (none of , ; tab or | splits it)", ""},
		{"all validation", DataSpec{Source: dir, Labels: file("id,label,is_valid\na.jpg,cat,1\nb.jpg,dog,1\n")}, "Data.ValidCol",
			"its is_valid column marks all 2 rows true (no training rows); Data.ValidCol can name another column, and a file without one is split by Data.ValSplit", ""},
		{"bad rows", DataSpec{Source: dir, Labels: file("id,label\na.jpg,cat\nz.png,dog\n")}, "Data.Labels", "1 bad row: row 3: z.png: no such image", ""},
		{"bad delimiter", DataSpec{Source: dir, Labels: semi, CSVDelimiter: "::"}, "Data.CSVDelimiter", `Data.CSVDelimiter "::": want one character`, ""},
		{"tab by name", DataSpec{Source: dir, Labels: file("id\tlabel\na.jpg\tcat\nb.jpg\tdog\nc.jpg\tcat\nd.jpg\tdog\n"), CSVDelimiter: "tab", ValSplit: 0.5}, "", "", "cat,dog"},
		{"delimiter without labels", DataSpec{Source: dir, CSVDelimiter: ";"}, "Data.CSVDelimiter", `Data.CSVDelimiter ";" needs Data.Labels`, ""},
		{"suffix without labels", DataSpec{Source: dir, Suffix: ".jpg"}, "Data.Suffix", `Data.Suffix ".jpg" needs Data.Labels`, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, err := c.d.Resolve()
			if err == nil {
				f, lerr := d.listFolder(1)
				if lerr == nil {
					if _, rerr := d.ReadLabels(); rerr != nil {
						t.Fatalf("ReadLabels: %v after listFolder read the file", rerr)
					}
					if got := strings.Join(f.Classes, ","); got != c.classes || c.field != "" {
						t.Fatalf("classes %s, want %q (error of %q)", got, c.classes, c.field)
					}
					return
				}
				err = lerr
			}
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != c.field || !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("error %v\nwant a FieldError of %q with %q", err, c.field, c.msg)
			}
		})
	}
}
