package datasets

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"reflect"
	"testing"
)

// TestReadCSVLabelsMatchesPandas: the rows gtl reads from files separated
// by ; tab | or another character (sniffed, or given as CSVOptions.
// Delimiter) are the rows pandas.read_csv reads with that delimiter (what
// fastai's from_csv calls with its delimiter argument): quoted fields with
// the delimiter or quotes inside, CRLF line ends, a byte-order mark,
// blank lines. Cells are compared with surrounding spaces stripped (gtl
// trims them).
func TestReadCSVLabelsMatchesPandas(t *testing.T) {
	// One Python process reads every file (pandas takes a second to import).
	const script = `
import json, sys
import pandas as pd
out = []
for path, sep in json.loads(sys.argv[1]):
    df = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False, encoding="utf-8-sig", skip_blank_lines=True)
    out.append([[str(df.iloc[i, 0]).strip(), str(df.iloc[i, 1]).strip()] for i in range(len(df))])
print(json.dumps(out))
`
	cases := []struct {
		name, text, sep string
		o               CSVOptions
		images          []string
	}{
		{"semicolon with quoted semicolons", "\ufeffname;label\r\n\"a;1.png\";cat\r\nb.png;\"dog; tabby\"\r\n\r\nc.png;\"say \"\"hi\"\"\"\r\n", ";", CSVOptions{},
			[]string{"a;1.png", "b.png", "c.png"}},
		{"tab with commas in labels", "name\tlabel\tis_valid\na.png\tcat, grey\tfalse\nb.png\tdog\ttrue\n", "\t", CSVOptions{},
			[]string{"a.png", "b.png"}},
		{"pipe, unicode names", "fichier|étiquette\nété.png|chat\nb.png|chien\n", "|", CSVOptions{},
			[]string{"été.png", "b.png"}},
		{"comma given where ; also appears", "name,label\na.png,cat;dog\nb.png,dog\n", ",", CSVOptions{Delimiter: ","},
			[]string{"a.png", "b.png"}},
		{"colon given", "name:label\n\"a:b.png\":cat\nb.png:dog\n", ":", CSVOptions{Delimiter: ":"},
			[]string{"a:b.png", "b.png"}},
	}
	roots, files, args := make([]string, len(cases)), make([]string, len(cases)), make([][2]string, len(cases))
	for i, c := range cases {
		roots[i], files[i] = csvFolder(t, c.images, c.text)
		args[i] = [2]string{files[i], c.sep}
	}
	arg, _ := json.Marshal(args)
	out, err := exec.Command("/usr/bin/python3", "-c", script, string(arg)).CombinedOutput()
	if err != nil {
		t.Fatalf("pandas: %v\n%s (scripts/parity/setup.sh installs python3-pandas)", err, out)
	}
	var wants [][][2]string
	if err := json.Unmarshal(out, &wants); err != nil || len(wants) != len(cases) {
		t.Fatalf("pandas: %s: %v", out, err)
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			want, root := wants[i], roots[i]
			l, err := ReadCSVLabels(files[i], root, c.o)
			if err != nil {
				t.Fatal(err)
			}
			var got [][2]string
			for i, p := range l.Paths {
				rel, err := filepath.Rel(root, p)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, [2]string{rel, l.Labels[i][0]})
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("gtl read %q\npandas.read_csv(sep=%q) read %q", got, c.sep, want)
			}
			if len(want) != len(c.images) {
				t.Errorf("pandas read %d rows, want %d", len(want), len(c.images))
			}
		})
	}
}
