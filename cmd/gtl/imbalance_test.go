package main

import (
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLabelsCSVImbalance trains from a labels file over a flat folder of
// images (20 bright, 4 dark; the CSV's is_valid column splits them) with
// --class-weights auto and --sampler balanced, and checks what the run
// records; then the refusals of bad rows and bad values, one line each.
// csvImages writes 30 PNGs into a flat folder (24 bright, 6 dark) and a
// labels file naming them (columns file, kind, is_valid: the last 5 validate).
func csvImages(t *testing.T) (root, labels string) {
	t.Helper()
	root = t.TempDir()
	var csv strings.Builder
	csv.WriteString("file,kind,is_valid\n")
	for i := 0; i < 30; i++ {
		kind, base := "bright", uint8(200)
		if i%5 == 4 { // 6 dark, 24 bright
			kind, base = "dark", 40
		}
		m := image.NewRGBA(image.Rect(0, 0, 20, 20))
		for j := range m.Pix {
			m.Pix[j] = base + uint8((i*7+j*13)%40)
		}
		name := fmt.Sprintf("img%02d.png", i)
		f, err := os.Create(filepath.Join(root, name))
		if err != nil {
			t.Fatal(err)
		}
		png.Encode(f, m)
		f.Close()
		fmt.Fprintf(&csv, "%s,%s,%v\n", name, kind, i >= 25) // the last 5 (4 bright, 1 dark) validate
	}
	labels = filepath.Join(t.TempDir(), "labels.csv")
	os.WriteFile(labels, []byte(csv.String()), 0o644)
	return root, labels
}

func TestLabelsCSVImbalance(t *testing.T) {
	root, labels := csvImages(t)
	out := filepath.Join(t.TempDir(), "run")
	stdout, stderr, code := gtl("train", "-q", "--model", "resnet18", "--data", root, "--labels", labels, "--fn-col", "file", "--label-col", "kind",
		"--image-size", "16", "--epochs", "1", "--batch", "4", "--class-weights", "auto", "--sampler", "balanced", "--out", out)
	if code != 0 {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "training resnet18 on 25 images (2 classes") || !strings.Contains(stdout, "bal acc  macro F1") ||
		!strings.Contains(stdout, "balanced accuracy ") {
		t.Errorf("stdout %s", stdout)
	}
	var conf struct {
		Labels, FnCol, LabelCol, ValidCol string
		ClassWeights                      string    `json:"class_weights"`
		Sampler                           string    `json:"sampler"`
		Values                            []float64 `json:"class_weight_values"`
		Classes                           []string  `json:"classes"`
	}
	b, _ := os.ReadFile(filepath.Join(out, "config.json"))
	if err := json.Unmarshal(b, &conf); err != nil {
		t.Fatal(err)
	}
	// 25 training images: 20 bright, 5 dark; N/(K·n_c).
	want := []float64{25.0 / (2 * 20), 25.0 / (2 * 5)}
	if conf.Labels != labels || conf.ClassWeights != "auto" || conf.Sampler != "balanced" || len(conf.Values) != 2 ||
		math.Abs(conf.Values[0]-want[0]) > 1e-12 || math.Abs(conf.Values[1]-want[1]) > 1e-12 || strings.Join(conf.Classes, ",") != "bright,dark" {
		t.Errorf("config.json %s", b)
	}
	var line map[string]any
	m, _ := os.ReadFile(filepath.Join(out, "metrics.jsonl"))
	if err := json.Unmarshal([]byte(strings.SplitN(string(m), "\n", 2)[0]), &line); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"val_balanced_accuracy", "val_macro_f1"} {
		if v, ok := line[k].(float64); !ok || v < 0 || v > 1 {
			t.Errorf("metrics.jsonl %s: %v", k, line[k])
		}
	}

	bad := filepath.Join(t.TempDir(), "bad.csv")
	os.WriteFile(bad, []byte("file,kind\nimg00.png,bright\nnope.png,dark\nimg00.png,dark\nimg01.png,\n"), 0o644)
	weights := filepath.Join(t.TempDir(), "w.csv")
	os.WriteFile(weights, []byte("bright,1\nwolf,2\n"), 0o644)
	refusals := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"bad rows", []string{"--labels", bad}, 2, "--labels: labels " + bad + ": 3 bad rows: row 3: nope.png: no such image; row 4: img00.png: the same image as row 2; row 5: img01.png: empty label\n"},
		{"no such column", []string{"--labels", labels, "--label-col", "tag"}, 2, `label_col "tag": no such column`},
		{"sampler", []string{"--labels", labels, "--sampler", "uniform"}, 2, "--sampler uniform: want random or balanced\n"},
		{"weights file", []string{"--labels", labels, "--class-weights", "nope.csv"}, 2, "--class-weights nope.csv: want auto, none or a CSV file"},
		{"weights of another class", []string{"--labels", labels, "--fn-col", "file", "--label-col", "kind", "--class-weights", weights}, 2, `row 2: class "wolf" is not one of the data's 2 classes`},
	}
	for _, r := range refusals {
		t.Run(r.name, func(t *testing.T) {
			args := append([]string{"train", "-q", "--model", "resnet18", "--data", root, "--image-size", "16", "--epochs", "1", "--out", filepath.Join(t.TempDir(), "x")}, r.args...)
			_, stderr, code := gtl(args...)
			if code != r.code || !strings.Contains(stderr, r.msg) || strings.Count(stderr, "\n") != 1 {
				t.Errorf("exit %d, stderr %q\nwant exit %d and one line with %q", code, stderr, r.code, r.msg)
			}
		})
	}
}

// TestCompareLabelsCSVImbalance: gtl compare reads a labels file, trains
// with --class-weights and --sampler (recorded in each run's plan), and
// reports balanced accuracy and macro F1 per run and in report.md.
func TestCompareLabelsCSVImbalance(t *testing.T) {
	root, labels := csvImages(t)
	src := filepath.Join(t.TempDir(), "src") // a source model for the linear probe (cheap: a head on cached features)
	if _, stderr, code := gtl("train", "-q", "--model", "resnet18", "--data", root, "--labels", labels, "--fn-col", "file", "--label-col", "kind",
		"--image-size", "16", "--epochs", "1", "--batch", "8", "--out", src); code != 0 {
		t.Fatalf("source: %s", stderr)
	}
	out := filepath.Join(t.TempDir(), "cmp")
	stdout, stderr, code := gtl("compare", "-q", "--weights", filepath.Join(src, "best.safetensors"), "--data", root, "--labels", labels, "--fn-col", "file", "--label-col", "kind",
		"--strategies", "linear", "--shots", "all", "--seeds", "1", "--class-weights", "auto", "--sampler", "balanced", "--out", out)
	if code != 0 {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "evaluated on 5 images") || !strings.Contains(stdout, "balanced ") || !strings.Contains(stdout, "macro F1 ") {
		t.Errorf("stdout %s", stdout)
	}
	var res struct {
		Runs []struct {
			Config struct {
				ClassWeights string `json:"class_weights"`
				Sampler      string `json:"sampler"`
			} `json:"config"`
			Balanced *float64 `json:"final_balanced_accuracy"`
			MacroF1  *float64 `json:"final_macro_f1"`
		} `json:"runs"`
	}
	b, _ := os.ReadFile(filepath.Join(out, "results.json"))
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Runs) != 1 || res.Runs[0].Config.ClassWeights != "auto" || res.Runs[0].Config.Sampler != "balanced" ||
		res.Runs[0].Balanced == nil || *res.Runs[0].Balanced < 0 || *res.Runs[0].Balanced > 1 || res.Runs[0].MacroF1 == nil {
		t.Errorf("results.json %s", b)
	}
	md, _ := os.ReadFile(filepath.Join(out, "report.md"))
	if !strings.Contains(string(md), "Final balanced accuracy") || !strings.Contains(string(md), "Final macro F1") {
		t.Errorf("report.md has no balanced accuracy or macro F1 table")
	}
	if _, stderr, code := gtl("compare", "-q", "--model", "resnet18", "--data", root, "--labels", labels, "--strategies", "scratch", "--sampler", "often", "--out", filepath.Join(t.TempDir(), "x")); code != 2 || stderr != "gtl: --sampler often: want random or balanced\n" {
		t.Errorf("--sampler often: exit %d, stderr %q", code, stderr)
	}
}
