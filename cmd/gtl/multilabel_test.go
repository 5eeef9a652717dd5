package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gtl-dev/gtl/internal/torchtest"
	"github.com/gtl-dev/gtl/metrics"
	"github.com/gtl-dev/gtl/npy"
)

// multiLabelImages writes 40 PNGs of 16×16 whose left and/or right half is
// bright (tags "left", "right"; every image has at least one) and a labels
// file (file;tags;is_valid, tags separated by "+"; every 4th row
// validates). It returns the folder, the labels file and each validation
// image's path and tags.
func multiLabelImages(t *testing.T) (root, labels string, val []string, valTags [][]string) {
	t.Helper()
	root = t.TempDir()
	var csv strings.Builder
	csv.WriteString("file,tags,is_valid\n")
	for i, h := range torchtest.WriteHalves(t, root, 40) {
		fmt.Fprintf(&csv, "%s,%s,%v\n", h.Name, strings.Join(h.Tags(), "+"), i%4 == 0)
		if i%4 == 0 {
			val, valTags = append(val, filepath.Join(root, h.Name)), append(valTags, h.Tags())
		}
	}
	labels = filepath.Join(t.TempDir(), "labels.csv")
	if err := os.WriteFile(labels, []byte(csv.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return root, labels, val, valTags
}

// TestMultiLabelCLI trains a multi-label model from the CLI (2 epochs at
// 16 px), then checks what the run records, that predict lists exactly
// the classes whose sigmoid is above 0.5, that eval's numbers equal
// metrics.ScoreMultiLabel on predict's logits, and the refusals.
func TestMultiLabelCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a model (about 20 s): make test-all")
	}
	root, labels, val, valTags := multiLabelImages(t)
	out := filepath.Join(t.TempDir(), "run")
	common := []string{"--model", "resnet18", "--data", root, "--labels", labels, "--fn-col", "file", "--label-col", "tags", "--image-size", "16"}
	stdout, stderr, code := gtl(append([]string{"train", "-q", "--multi-label", "--label-delim", "+", "--epochs", "2", "--batch", "8",
		"--lr", "0.01", "--seed", "3", "--out", out}, common...)...)
	if code != 0 {
		t.Fatalf("train: exit %d\nstdout %s\nstderr %s", code, stdout, stderr)
	}
	for _, want := range []string{"training resnet18 on 30 images (2 classes", "val mAP  micro F1  macro F1", "\nmAP ", "best val mAP "} {
		if !strings.Contains(stdout, want) {
			t.Errorf("train stdout lacks %q:\n%s", want, stdout)
		}
	}
	var meta struct {
		MultiLabel bool      `json:"multi_label"`
		Thresholds []float64 `json:"thresholds"`
		Classes    []string  `json:"classes"`
	}
	b, err := os.ReadFile(filepath.Join(out, "best.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &meta); err != nil {
		t.Fatal(err)
	}
	if !meta.MultiLabel || fmt.Sprint(meta.Thresholds) != "[0.5 0.5]" || fmt.Sprint(meta.Classes) != "[left right]" {
		t.Errorf("best.json: multi_label %v, thresholds %v, classes %v", meta.MultiLabel, meta.Thresholds, meta.Classes)
	}
	b, _ = os.ReadFile(filepath.Join(out, "metrics.jsonl"))
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	var last map[string]any
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &last); err != nil || len(lines) != 2 {
		t.Fatalf("metrics.jsonl: %d lines, %v", len(lines), err)
	}
	if last["val_map"] == nil || last["val_map"] != last["val_accuracy"] || last["val_micro_f1"] == nil {
		t.Errorf("metrics.jsonl: %v, want val_map = val_accuracy and val_micro_f1", last)
	}
	if _, err := os.Stat(filepath.Join(out, "per_class.csv")); err != nil {
		t.Error(err)
	}

	// predict: every class over 0.5, from the logits it writes.
	logits := filepath.Join(t.TempDir(), "logits.npy")
	w := filepath.Join(out, "best.safetensors")
	stdout, stderr, code = gtl(append([]string{"predict", "--weights", w, "--logits", logits}, val...)...)
	if code != 0 {
		t.Fatalf("predict: exit %d\n%s", code, stderr)
	}
	a, err := npy.Read(logits)
	if err != nil {
		t.Fatal(err)
	}
	rows := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(rows) != len(val) || fmt.Sprint(a.Shape) != fmt.Sprint([]int{len(val), 2}) {
		t.Fatalf("predict: %d lines, logits %v for %d images", len(rows), a.Shape, len(val))
	}
	probs, truth := make([][]float64, len(val)), make([][]bool, len(val))
	for i := range val {
		probs[i], truth[i] = make([]float64, 2), make([]bool, 2)
		var want []string
		for c, name := range meta.Classes {
			probs[i][c] = 1 / (1 + math.Exp(-float64(a.Float32[i*2+c])))
			if probs[i][c] > 0.5 {
				want = append(want, name)
			}
			for _, tg := range valTags[i] {
				truth[i][c] = truth[i][c] || tg == name
			}
		}
		_, got, _ := strings.Cut(rows[i], "\t")
		var names []string
		for _, p := range strings.Split(got, " | ") {
			if p != "(none)" {
				names = append(names, strings.Fields(p)[0])
			}
		}
		if len(want) == 0 {
			want = nil
		}
		if fmt.Sprint(sortedCopy(names)) != fmt.Sprint(want) {
			t.Errorf("predict %s: %q, want the classes over 0.5: %v (probabilities %v)", val[i], got, want, probs[i])
		}
	}

	// eval on an image folder: one class per image, not a multi-label model's data.
	folder := t.TempDir()
	if err := os.MkdirAll(filepath.Join(folder, "left"), 0o755); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(val[0]); err != nil || os.WriteFile(filepath.Join(folder, "left", "a.png"), b, 0o644) != nil {
		t.Fatal(err)
	}
	if _, stderr, code := gtl("eval", "--weights", w, "--data", folder); code != 2 || !strings.Contains(stderr, "is a multi-label model: gtl eval reads its images and label sets from --labels") {
		t.Errorf("eval of a folder with a multi-label model: exit %d, %q", code, stderr)
	}

	// eval: the numbers of metrics.ScoreMultiLabel on those logits.
	stdout, stderr, code = gtl("eval", "--weights", w, "--data", root, "--labels", labels, "--fn-col", "file", "--label-col", "tags",
		"--label-delim", "+", "--json")
	if code != 0 {
		t.Fatalf("eval: exit %d\n%s", code, stderr)
	}
	var rep struct {
		Images   int
		MAP      float64 `json:"map"`
		MicroF1  float64 `json:"micro_f1"`
		MacroF1  float64 `json:"macro_f1"`
		SampleF1 float64 `json:"sample_f1"`
	}
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("eval --json: %v\n%s", err, stdout)
	}
	want, err := metrics.ScoreMultiLabel(probs, truth, meta.Classes, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Images != len(val) || math.Abs(rep.MAP-want.MAP) > 1e-6 || math.Abs(rep.MicroF1-want.MicroF1) > 1e-9 ||
		math.Abs(rep.MacroF1-want.MacroF1) > 1e-9 || math.Abs(rep.SampleF1-want.SampleF1) > 1e-9 {
		t.Errorf("eval: %+v, want %d images, mAP %g, micro F1 %g, macro F1 %g, sample F1 %g", rep, len(val), want.MAP, want.MicroF1, want.MacroF1, want.SampleF1)
	}

}

// TestMultiLabelRefusals: the settings a multi-label run does not take are
// refused in one line naming the flags, exit status 2.
func TestMultiLabelRefusals(t *testing.T) {
	root, labels, val, _ := multiLabelImages(t)
	common := []string{"--model", "resnet18", "--data", root, "--labels", labels, "--fn-col", "file", "--label-col", "tags", "--image-size", "16"}
	refusals := []struct {
		name string
		args []string
		want string
	}{
		{"multi-label without labels", []string{"train", "--model", "resnet18", "--data", root, "--multi-label", "--out", filepath.Join(t.TempDir(), "r")},
			"--multi-label needs --labels"},
		{"delimiter without multi-label", append([]string{"train", "--label-delim", "+", "--out", filepath.Join(t.TempDir(), "r")}, common...),
			"--label-delim \"+\" needs --multi-label"},
		{"label smoothing", append([]string{"train", "--multi-label", "--label-delim", "+", "--label-smoothing", "0.1", "--out", filepath.Join(t.TempDir(), "r")}, common...),
			"--label-smoothing applies to single-label runs"},
		{"class weights", append([]string{"train", "--multi-label", "--label-delim", "+", "--class-weights", "auto", "--out", filepath.Join(t.TempDir(), "r")}, common...),
			"--class-weights applies to single-label runs"},
		{"data-parallel, before any rank starts", append([]string{"train", "--multi-label", "--label-delim", "+", "--nproc-per-node", "2", "--out", filepath.Join(t.TempDir(), "r")}, common...),
			"--multi-label: data-parallel multi-label training is not supported; drop --nproc-per-node"},
		{"threshold without a multi-label model", []string{"predict", "--model", "resnet18", "--num-classes", "2", "--threshold", "0.3", val[0]}, "--threshold applies to a multi-label model"},
		{"top-k with a multi-label model", []string{"predict", "--model", "resnet18", "--num-classes", "2", "--multi-label", "-k", "2", val[0]}, "--top-k: a multi-label model prints every class over its threshold"},
		{"threshold out of range", []string{"predict", "--model", "resnet18", "--num-classes", "2", "--multi-label", "--threshold", "1.5", val[0]}, "--threshold 1.5: want a probability in [0, 1]"},
		{"eval multi-label without labels", []string{"eval", "--model", "resnet18", "--pretrained", "--multi-label", "--data", root}, "gtl eval reads a multi-label model's images and label sets from --labels"},
	}
	// An image folder (one class per image) and a single-label model trained on it for one step.
	folder := t.TempDir()
	for _, cl := range []string{"left", "right"} {
		if err := os.MkdirAll(filepath.Join(folder, cl), 0o755); err != nil {
			t.Fatal(err)
		}
		for i, p := range val[:5] {
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(folder, cl, fmt.Sprintf("%d.png", i)), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	single := filepath.Join(t.TempDir(), "single")
	if _, stderr, code := gtl("train", "-q", "--model", "resnet18", "--data", folder, "--image-size", "16", "--epochs", "1", "--batch", "8", "--out", single); code != 0 {
		t.Fatalf("train on a folder: exit %d, %s", code, stderr)
	}
	refusals = append(refusals, struct {
		name string
		args []string
		want string
	}{"eval a folder with --threshold", []string{"eval", "--weights", filepath.Join(single, "best.safetensors"), "--threshold", "0.3", "--data", folder}, "--threshold applies to a multi-label model"})
	for _, r := range refusals {
		t.Run(r.name, func(t *testing.T) {
			_, stderr, code := gtl(r.args...)
			if code != 2 || !strings.Contains(stderr, r.want) || strings.Count(stderr, "gtl: ") != 1 || strings.Contains(stderr, "[rank") {
				t.Errorf("exit %d, stderr %q; want 2 and one error line with %q", code, stderr, r.want)
			}
		})
	}
}

func sortedCopy(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}
