package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gtl-dev/gtl/internal/torchtest"
)

// labelsFiles writes the 40 PNGs of torchtest.WriteHalves and labels files
// of them as people keep them: ids without the extension, columns
// separated by ";" (semi.csv), by tab with tags separated by "|"
// (tabs.tsv), by ":" (colon.csv), and one whose is_valid is all false
// (allfalse.csv). It returns the folder and the files by name.
func labelsFiles(t *testing.T) (root string, files map[string]string) {
	t.Helper()
	root = t.TempDir()
	texts := map[string]*strings.Builder{}
	for _, n := range []string{"semi.csv", "tabs.tsv", "colon.csv", "allfalse.csv"} {
		texts[n] = &strings.Builder{}
	}
	texts["semi.csv"].WriteString("id;tag;is_valid\n")
	texts["tabs.tsv"].WriteString("id\ttags\tis_valid\n")
	texts["colon.csv"].WriteString("id:tag\n")
	texts["allfalse.csv"].WriteString("id,tag,is_valid\n")
	for i, h := range torchtest.WriteHalves(t, root, 40) {
		id := strings.TrimSuffix(h.Name, ".png")
		valid := i%4 == 0
		fmt.Fprintf(texts["semi.csv"], "%s;%s;%v\n", id, h.Tags()[0], valid)
		fmt.Fprintf(texts["tabs.tsv"], "%s\t%s\t%v\n", id, strings.Join(h.Tags(), "|"), valid)
		fmt.Fprintf(texts["colon.csv"], "%s:%s\n", h.Name, h.Tags()[0])
		fmt.Fprintf(texts["allfalse.csv"], "%s,%s,false\n", h.Name, h.Tags()[0])
	}
	files = map[string]string{}
	dir := t.TempDir()
	for n, b := range texts {
		files[n] = filepath.Join(dir, n)
		if err := os.WriteFile(files[n], []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root, files
}

// TestLabelsFileRefusals: labels files that cannot be read as given are
// refused by train, compare, lr-find and eval in one line naming the flag
// that fixes them (--suffix with the extension, --csv-delimiter,
// --valid-col), exit status 2; an explicitly empty --label-delim is
// refused.
func TestLabelsFileRefusals(t *testing.T) {
	root, f := labelsFiles(t)
	out := filepath.Join(t.TempDir(), "x")
	train := []string{"train", "-q", "--model", "resnet18", "--data", root, "--image-size", "16", "--epochs", "1", "--out", out}
	cases := []struct {
		name string
		args []string
		msg  string
	}{
		{"ids without extension", append(train, "--labels", f["semi.csv"]),
			"--labels: labels " + f["semi.csv"] + ": 40 bad rows: row 2: img00: no such image; row 3: img01: no such image; row 4: img02: no such image; row 5: img03: no such image; row 6: img04: no such image; and 35 more; all 40 missing images exist with .png appended: --suffix .png appends it\n"},
		{"colons", append(train, "--labels", f["colon.csv"]),
			`label_col 1: the header has 1 column (none of , ; tab or | splits it): "id:tag"; --csv-delimiter names the file's separator` + "\n"},
		{"wrong delimiter", append(train, "--labels", f["semi.csv"], "--suffix", ".png", "--csv-delimiter", ","),
			`label_col 1: the header has 1 column when split at ',': "id;tag;is_valid"; --csv-delimiter names the file's separator` + "\n"},
		{"two-character delimiter", append(train, "--labels", f["semi.csv"], "--csv-delimiter", ";;"),
			`--csv-delimiter ";;": want one character (not a quote or a line break), or tab` + "\n"},
		{"all false", append(train, "--labels", f["allfalse.csv"]),
			"its is_valid column marks all 40 rows false (no validation rows); --valid-col can name another column, and a file without one is split by --val-split\n"},
		{"empty label delimiter", append(train, "--labels", f["tabs.tsv"], "--suffix", ".png", "--multi-label", "--label-delim", ""),
			`--label-delim "": want what separates the labels of a row (leave the flag out for a space)` + "\n"},
		{"suffix without labels", []string{"train", "-q", "--model", "resnet18", "--data", "fashion-mnist", "--suffix", ".png", "--out", out},
			`--suffix ".png" needs --labels: it is appended to the image paths of a labels file` + "\n"},
		{"compare", []string{"compare", "-q", "--model", "resnet18", "--data", root, "--labels", f["colon.csv"], "--strategies", "scratch", "--out", out},
			"; --csv-delimiter names the file's separator\n"},
		{"lr-find", []string{"lr-find", "-q", "--model", "resnet18", "--data", root, "--labels", f["semi.csv"], "--image-size", "16", "--out", out},
			"all 40 missing images exist with .png appended: --suffix .png appends it\n"},
		{"eval", []string{"eval", "--model", "resnet18", "--pretrained", "--multi-label", "--data", root, "--labels", f["tabs.tsv"], "--csv-delimiter", ";"},
			`label_col 1: the header has 1 column when split at ';'`},
		{"eval, empty label delimiter", []string{"eval", "--model", "resnet18", "--pretrained", "--multi-label", "--data", root, "--labels", f["tabs.tsv"], "--label-delim", ""},
			`--label-delim "": want what`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, stderr, code := gtl(c.args...)
			if code != 2 || !strings.Contains(stderr, c.msg) || strings.Count(stderr, "\n") != 1 {
				t.Errorf("exit %d, stderr %q\nwant exit 2 and one line with %q", code, stderr, c.msg)
			}
		})
	}
	if _, err := os.Stat(out); err == nil {
		t.Errorf("%s written by a refused command", out)
	}
}

// TestLabelsFileTrainEval trains a multi-label model from a tab-separated
// file of ids without extension (--suffix .png, tags split by "|"), checks
// that config.json records the delimiter and suffix, and that gtl eval of
// its checkpoint splits the tags by the recorded "|" without
// --label-delim, while an explicit --label-delim wins.
func TestLabelsFileTrainEval(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a model (about 5 s): make test-all")
	}
	root, f := labelsFiles(t)
	out := filepath.Join(t.TempDir(), "run")
	stdout, stderr, code := gtl("train", "-q", "--model", "resnet18", "--data", root, "--labels", f["tabs.tsv"], "--csv-delimiter", "tab",
		"--suffix", ".png", "--label-col", "tags", "--multi-label", "--label-delim", "|", "--image-size", "16", "--epochs", "1", "--batch", "8", "--out", out)
	if code != 0 {
		t.Fatalf("train: exit %d\nstdout %s\nstderr %s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "training resnet18 on 30 images (2 classes") {
		t.Errorf("train stdout %s", stdout)
	}
	var conf struct {
		CSVDelimiter string `json:"csv_delimiter"`
		Suffix       string `json:"suffix"`
		LabelDelim   string `json:"label_delim"`
	}
	b, _ := os.ReadFile(filepath.Join(out, "config.json"))
	if err := json.Unmarshal(b, &conf); err != nil || conf.CSVDelimiter != "tab" || conf.Suffix != ".png" || conf.LabelDelim != "|" {
		t.Errorf("config.json: %+v (%v), want csv_delimiter tab, suffix .png, label_delim |", conf, err)
	}
	w := filepath.Join(out, "best.safetensors")
	eval := []string{"eval", "--weights", w, "--data", root, "--labels", f["tabs.tsv"], "--suffix", ".png", "--label-col", "tags", "--json"}
	stdout, stderr, code = gtl(eval...)
	var rep struct{ Images int }
	if code != 0 || json.Unmarshal([]byte(stdout), &rep) != nil || rep.Images != 10 {
		t.Errorf("eval with the checkpoint's delimiter: exit %d, %d images (want 10)\nstderr %s", code, rep.Images, stderr)
	}
	_, stderr, code = gtl(append(eval, "--label-delim", " ")...)
	if want := `row 10: class "left|right" is not one of the model's 2 (left, right)`; code != 2 || !strings.Contains(stderr, want) {
		t.Errorf("eval --label-delim ' ': exit %d, stderr %q; want 2 and %q", code, stderr, want)
	}
}
