package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/gtl-dev/gtl/metrics"
	"github.com/gtl-dev/gtl/npy"
)

// TestThresholdRefusals: bad --threshold values and files are refused in
// one line naming the flag, the file and the class or row, exit status 2,
// before anything is trained or predicted.
func TestThresholdRefusals(t *testing.T) {
	root, labels, val, _ := multiLabelImages(t)
	dir := t.TempDir()
	file := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	missing := file("missing.csv", "class,threshold\nclass 0,0.3\n")
	unknown := file("unknown.csv", "class,threshold\nclass 0,0.3\nclass 1,0.4\ncat,0.5\n")
	noHeader := file("noheader.csv", "class 0,0.3\nclass 1,0.4\n")
	badValue := file("badvalue.csv", "class,threshold\nclass 0,0.3\nclass 1,1.2\n")
	twice := file("twice.csv", "class,threshold\nclass 0,0.3\nclass 0,0.4\nclass 1,0.4\n")
	predict := func(th string) []string {
		return []string{"predict", "--model", "resnet18", "--num-classes", "2", "--multi-label", "--threshold", th, val[0]}
	}
	common := []string{"--model", "resnet18", "--data", root, "--labels", labels, "--fn-col", "file", "--label-col", "tags", "--image-size", "16"}
	refusals := []struct {
		name string
		args []string
		want string
	}{
		{"missing class", predict(missing), "--threshold " + missing + ": no threshold for class \"class 1\"\n"},
		{"unknown class", predict(unknown), "--threshold " + unknown + ": row 4: class \"cat\" is not one of the model's 2 (class 0, class 1)\n"},
		{"no header", predict(noHeader), "--threshold " + noHeader + ": the header row \"class 0,0.3\" has no class and threshold columns\n"},
		{"value out of range", predict(badValue), "--threshold " + badValue + ": row 3: class \"class 1\": threshold \"1.2\", want a probability in [0, 1]\n"},
		{"class twice", predict(twice), "--threshold " + twice + ": row 3: class \"class 0\" has a threshold already\n"},
		{"no such file", predict(filepath.Join(dir, "none.csv")), "--threshold " + filepath.Join(dir, "none.csv") + ": not a probability, tune, or a readable CSV file: no such file or directory\n"},
		{"number out of range", predict("-0.1"), "--threshold -0.1: want a probability in [0, 1], tune, or a CSV file of class,threshold rows\n"},
		{"predict tune", predict("tune"), "--threshold tune needs labelled images: gtl eval --threshold tune --out DIR tunes them"},
		{"train without multi-label", append([]string{"train", "--threshold", "0.3", "--out", filepath.Join(t.TempDir(), "r")}, common...),
			"--threshold 0.3 applies to multi-label runs (--multi-label: sigmoid probabilities)"},
		{"train out of range", append([]string{"train", "--multi-label", "--label-delim", "+", "--threshold", "2", "--out", filepath.Join(t.TempDir(), "r")}, common...),
			"--threshold 2: want a probability in [0, 1], or tune\n"},
		{"train not a number", append([]string{"train", "--multi-label", "--label-delim", "+", "--threshold", "best", "--out", filepath.Join(t.TempDir(), "r")}, common...),
			"--threshold best: want a probability in [0, 1], or tune\n"},
		{"compare without multi-label", append([]string{"compare", "--threshold", "tune", "--out", filepath.Join(t.TempDir(), "r")}, common...),
			"--threshold tune applies to multi-label runs"},
	}
	for _, r := range refusals {
		t.Run(r.name, func(t *testing.T) {
			_, stderr, code := gtl(r.args...)
			lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n") // (predict reports the model it opened first)
			last := lines[len(lines)-1] + "\n"
			if code != 2 || !strings.HasPrefix(last, "gtl: ") || !strings.Contains(last, r.want) || strings.Count(stderr, "gtl: ") != 1 {
				t.Errorf("exit %d, stderr %q; want 2 and a last line with %q", code, stderr, r.want)
			}
		})
	}
}

// TestThresholdTuneCLI trains a multi-label model with --threshold tune
// and checks that best.safetensors carries thresholds other than 0.5 that
// equal metrics.TuneThresholds on the checkpoint's validation
// probabilities (from gtl predict's logits), that gtl eval --threshold
// tune finds the same ones, warns and writes them to per_class.csv, and
// that predict with a thresholds file prints exactly the classes over
// their own thresholds.
func TestThresholdTuneCLI(t *testing.T) {
	root, labels, val, valTags := multiLabelImages(t)
	out := filepath.Join(t.TempDir(), "run")
	common := []string{"--data", root, "--labels", labels, "--fn-col", "file", "--label-col", "tags", "--label-delim", "+"}
	stdout, stderr, code := gtl(append([]string{"train", "-q", "--model", "resnet18", "--image-size", "16", "--multi-label", "--epochs", "2", "--batch", "8",
		"--lr", "0.01", "--seed", "3", "--threshold", "tune", "--out", out}, common...)...)
	if code != 0 {
		t.Fatalf("train: exit %d\nstdout %s\nstderr %s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "thresholds tuned on the validation images (so F1 there is optimistic)") {
		t.Errorf("train stdout lacks the tuning note:\n%s", stdout)
	}
	var cfg map[string]any
	if b, err := os.ReadFile(filepath.Join(out, "config.json")); err != nil || json.Unmarshal(b, &cfg) != nil || cfg["threshold"] != "tune" {
		t.Errorf("config.json: threshold %v, want tune (%v)", cfg["threshold"], err)
	}
	var meta struct {
		Thresholds []float64 `json:"thresholds"`
		Classes    []string  `json:"classes"`
	}
	best := filepath.Join(out, "best.safetensors")
	if b, err := os.ReadFile(filepath.Join(out, "best.json")); err != nil || json.Unmarshal(b, &meta) != nil {
		t.Fatalf("best.json: %v", err)
	}
	if len(meta.Thresholds) != 2 || meta.Thresholds[0] == 0.5 || meta.Thresholds[1] == 0.5 {
		t.Fatalf("best.json: thresholds %v, want two tuned ones", meta.Thresholds)
	}
	t.Logf("best.json thresholds %v", meta.Thresholds)

	// The checkpoint's validation probabilities, from predict's logits.
	logits := filepath.Join(t.TempDir(), "logits.npy")
	if _, stderr, code := gtl(append([]string{"predict", "--weights", best, "--logits", logits}, val...)...); code != 0 {
		t.Fatalf("predict: exit %d\n%s", code, stderr)
	}
	a, err := npy.Read(logits)
	if err != nil {
		t.Fatal(err)
	}
	probs, truth := make([][]float64, len(val)), make([][]bool, len(val))
	for i := range val {
		probs[i], truth[i] = make([]float64, 2), make([]bool, 2)
		for c, name := range meta.Classes {
			probs[i][c] = 1 / (1 + math.Exp(-float64(a.Float32[i*2+c])))
			for _, tg := range valTags[i] {
				truth[i][c] = truth[i][c] || tg == name
			}
		}
	}
	want, err := metrics.TuneThresholds(probs, truth)
	if err != nil {
		t.Fatal(err)
	}
	for c := range want { // (training validates on images resized in memory, predict reads the files: float32 noise)
		if math.Abs(meta.Thresholds[c]-want[c]) > 1e-6 {
			t.Errorf("class %s: threshold %.8f in best.json, TuneThresholds on its validation probabilities %.8f", meta.Classes[c], meta.Thresholds[c], want[c])
		}
	}

	// gtl eval --threshold tune on the same images: the same thresholds,
	// a warning, and a per_class.csv that predict takes.
	evalOut := filepath.Join(t.TempDir(), "eval")
	stdout, stderr, code = gtl(append([]string{"eval", "--weights", best, "--split", "val", "--threshold", "tune", "--out", evalOut}, common...)...)
	if code != 0 {
		t.Fatalf("eval: exit %d\n%s", code, stderr)
	}
	if !strings.Contains(stderr, "gtl: warning: --threshold tune: thresholds tuned on the images they score, so these F1 scores are optimistic") {
		t.Errorf("eval stderr lacks the warning: %q", stderr)
	}
	perClass := filepath.Join(evalOut, "per_class.csv")
	tuned := readThresholds(t, perClass, meta.Classes)
	for c := range want {
		if math.Abs(tuned[c]-want[c]) > 1e-6 {
			t.Errorf("class %s: eval tuned %.8f, TuneThresholds %.8f", meta.Classes[c], tuned[c], want[c])
		}
	}

	// predict with a thresholds file (columns in another order, an extra
	// one): each class's median validation probability, so that some
	// images are over it and some not.
	own := make([]float64, 2)
	for c := range own {
		ps := make([]float64, len(val))
		for i := range val {
			ps[i] = probs[i][c]
		}
		own[c] = sortedFloats(ps)[len(ps)/2]
	}
	file := filepath.Join(t.TempDir(), "th.csv")
	body := fmt.Sprintf("note,threshold,class\nx,%s,%s\ny,%s,%s\n", strconv.FormatFloat(own[1], 'g', -1, 64), meta.Classes[1],
		strconv.FormatFloat(own[0], 'g', -1, 64), meta.Classes[0])
	if err := os.WriteFile(file, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		file string
		th   []float64
	}{{"own file", file, own}, {"eval's per_class.csv", perClass, tuned}} {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, code := gtl(append([]string{"predict", "--weights", best, "--threshold", tc.file}, val...)...)
			if code != 0 {
				t.Fatalf("predict: exit %d\n%s", code, stderr)
			}
			rows := strings.Split(strings.TrimSpace(stdout), "\n")
			if len(rows) != len(val) {
				t.Fatalf("predict: %d lines for %d images", len(rows), len(val))
			}
			over := 0
			for i := range val {
				var want []string
				for c, name := range meta.Classes {
					if probs[i][c] > tc.th[c] {
						want = append(want, name)
						over++
					}
				}
				_, got, _ := strings.Cut(rows[i], "\t")
				var names []string
				for _, p := range strings.Split(got, " | ") {
					if p != "(none)" {
						names = append(names, strings.Fields(p)[0])
					}
				}
				if fmt.Sprint(sortedCopy(names)) != fmt.Sprint(sortedCopy(want)) {
					t.Errorf("predict %s: %q, want the classes over %v: %v (probabilities %v)", val[i], got, tc.th, want, probs[i])
				}
			}
			if over == 0 || over == 2*len(val) {
				t.Errorf("%d of %d (image, class) pairs over the thresholds %v: the check cannot fail", over, 2*len(val), tc.th)
			}
		})
	}
}

// readThresholds reads the class and threshold columns of a per_class.csv.
func readThresholds(t *testing.T, path string, classes []string) []float64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil || len(recs) != len(classes)+1 {
		t.Fatalf("%s: %d rows, %v", path, len(recs), err)
	}
	col := map[string]int{}
	for i, h := range recs[0] {
		col[h] = i
	}
	th := make([]float64, len(classes))
	for c, name := range classes {
		if recs[c+1][col["class"]] != name {
			t.Fatalf("%s: row %d is %q, want %q", path, c+2, recs[c+1][col["class"]], name)
		}
		if th[c], err = strconv.ParseFloat(recs[c+1][col["threshold"]], 64); err != nil {
			t.Fatal(err)
		}
	}
	return th
}

func sortedFloats(s []float64) []float64 {
	out := append([]float64(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}
