package main

import (
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCompareMultiLabel: gtl compare on a multi-label labels file draws
// its shots so that every class, one never first in any row included,
// has at least that many training images, and scores and names the runs
// by mAP.
func TestCompareMultiLabel(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a 40-epoch scratch run (about 15 s): make test-all")
	}
	root, labels, _, _ := multiLabelImages(t)
	b, err := os.ReadFile(labels)
	if err != nil {
		t.Fatal(err)
	}
	// Every 5th image also carries "zz", which sorts last: never a row's first label.
	rows, err := csv.NewReader(strings.NewReader(string(b))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	out.WriteString("file,tags\n")
	for i, r := range rows[1:] {
		tags := r[1]
		if i%5 == 0 {
			tags += "+zz"
		}
		fmt.Fprintf(&out, "%s,%s\n", r[0], tags)
	}
	relabelled := filepath.Join(t.TempDir(), "labels.csv")
	if err := os.WriteFile(relabelled, []byte(out.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "cmp")
	stdout, stderr, code := gtl("compare", "--model", "resnet18", "--data", root, "--labels", relabelled, "--fn-col", "file", "--label-col", "tags",
		"--multi-label", "--label-delim", "+", "--image-size", "16", "--strategies", "scratch", "--shots", "3", "--seeds", "1", "--out", dir)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	// gtl train holds out the same validation images (its default --seed 1).
	trained, stderr, code := gtl("train", "--model", "resnet18", "--data", root, "--labels", relabelled, "--fn-col", "file", "--label-col", "tags",
		"--multi-label", "--label-delim", "+", "--image-size", "16", "--epochs", "1", "--out", filepath.Join(t.TempDir(), "train"))
	if code != 0 {
		t.Fatalf("train: exit %d\n%s", code, stderr)
	}
	var nTrain, nVal, nEval int
	if i := strings.Index(trained, "training resnet18 on "); i < 0 {
		t.Fatalf("train's stdout:\n%s", trained)
	} else {
		fmt.Sscanf(trained[i:], "training resnet18 on %d images (3 classes, 16 px), validating on %d;", &nTrain, &nVal)
	}
	if i := strings.Index(stdout, "evaluated on "); i >= 0 {
		fmt.Sscanf(stdout[i:], "evaluated on %d images", &nEval)
	}
	if nVal == 0 || nEval != nVal {
		t.Errorf("compare evaluated on %d images, train validated on %d (of %d)", nEval, nVal, nTrain+nVal)
	}
	for _, want := range []string{"[left right zz]", "3 shots seed 1: mAP ", "macro recall", "\nmAP           3 per class\n"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
	res, err := os.ReadFile(filepath.Join(dir, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(res), `"multi_label": true`) {
		t.Errorf("results.json does not record a multi-label grid")
	}
	c, err := os.ReadFile(filepath.Join(dir, "results.csv"))
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(strings.NewReader(string(c))).ReadAll()
	if err != nil || len(recs) != 2 {
		t.Fatalf("results.csv: %v\n%s", err, c)
	}
	// At least 3 images of each of 3 classes, and no more than 9.
	var n int
	fmt.Sscan(recs[1][3], &n)
	if recs[0][3] != "train_images" || n < 3 || n > 9 {
		t.Errorf("train_images %s, want 3 to 9", recs[1][3])
	}
}
