package main

import (
	"encoding/csv"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// evalReference is torchvision's side of TestEvalFolder: a resnet18 with
// seeded weights (its head scaled so that the classes differ from image to
// image), saved as w.pth, and its softmax on every image of the folder
// through Resize(36) + CenterCrop(32) (PIL), and averaged over TenCrop's
// views; then the report computed from them as scikit-learn defines it.
const evalReference = `
import json, math, os, sys, torch, torchvision
from torchvision import transforms as T
root, out = sys.argv[1], sys.argv[2]
torch.manual_seed(0)
m = torchvision.models.resnet18(num_classes=3)
with torch.no_grad():
    m.fc.weight.mul_(60)
m.eval()
torch.save(m.state_dict(), os.path.join(out, "w.pth"))
norm = T.Compose([T.ToTensor(), T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
plain = T.Compose([T.Resize(36), T.CenterCrop(32), norm])
ten = T.Compose([T.Resize(36), T.TenCrop(32)])
ds = torchvision.datasets.ImageFolder(os.path.join(root, "test"))
probs, tta, labels, names = [], [], [], []
with torch.no_grad():
    for path, y in ds.samples:
        img = ds.loader(path)
        probs.append(m(plain(img)[None]).softmax(1)[0].tolist())
        tta.append(m(torch.stack([norm(v) for v in ten(img)])).softmax(1).mean(0).tolist())
        labels.append(y); names.append(path)
def report(P):
    k = 3
    cm = [[0] * k for _ in range(k)]
    for p, y in zip(P, labels):
        cm[y][max(range(k), key=lambda c: (p[c], -c))] += 1
    sup = [sum(r) for r in cm]; pred = [sum(cm[i][j] for i in range(k)) for j in range(k)]
    prec = [cm[c][c] / pred[c] if pred[c] else 0 for c in range(k)]
    rec = [cm[c][c] / sup[c] if sup[c] else 0 for c in range(k)]
    f1 = [2 * prec[c] * rec[c] / (prec[c] + rec[c]) if prec[c] + rec[c] else 0 for c in range(k)]
    n = len(P)
    return {"top1": sum(cm[c][c] for c in range(k)) / n, "confusion": cm,
            "loss": -sum(math.log(p[y]) for p, y in zip(P, labels)) / n,
            "balanced_accuracy": sum(rec[c] for c in range(k) if sup[c]) / sum(1 for c in range(k) if sup[c]),
            "macro_f1": sum(f1[c] for c in range(k) if sup[c] or pred[c]) / sum(1 for c in range(k) if sup[c] or pred[c]),
            "precision": prec, "recall": rec, "f1": f1}
r = report(probs)
r["tta"] = report(tta)
wrong = [i for i, (p, y) in enumerate(zip(probs, labels)) if max(range(3), key=lambda c: (p[c], -c)) != y]
wrong.sort(key=lambda i: (-(-math.log(probs[i][labels[i]])), i))
r["top_losses"] = [names[i] for i in wrong]
json.dump(r, open(os.path.join(out, "ref.json"), "w"))
`

// writeEvalFolder writes root/test/{cat,dog,fox} with 3, 4 and 5 seeded
// 48×40 PNGs (noise over a colour, a gradient per class).
func writeEvalFolder(t *testing.T, root string, classes []string, counts []int) {
	t.Helper()
	rng := rand.New(rand.NewPCG(7, uint64(len(classes))))
	for ci, c := range classes {
		dir := filepath.Join(root, "test", c)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for i := range counts[ci] {
			m := image.NewRGBA(image.Rect(0, 0, 48, 40))
			base := [3]int{rng.IntN(256), rng.IntN(256), rng.IntN(256)}
			for y := range 40 {
				for x := range 48 {
					var px [3]uint8
					for ch := range 3 {
						v := base[ch] + rng.IntN(121) - 60 + []int{3 * x, 3 * y, 0}[ci%3]
						px[ch] = uint8(max(0, min(255, v)))
					}
					m.Set(x, y, color.RGBA{px[0], px[1], px[2], 255})
				}
			}
			f, err := os.Create(filepath.Join(dir, c+string(rune('0'+i))+".png"))
			if err != nil {
				t.Fatal(err)
			}
			if err := png.Encode(f, m); err != nil {
				t.Fatal(err)
			}
			f.Close()
		}
	}
}

func nearly(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

// TestEvalFolder evaluates torchvision weights on an image folder with
// known mistakes: gtl eval's numbers, confusion matrix and top losses must
// be torchvision's, with and without test-time augmentation; the weights'
// classes and 32-px preprocessing come from the JSON beside the .pth.
func TestEvalFolder(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	writeEvalFolder(t, data, []string{"cat", "dog", "fox"}, []int{3, 4, 5})
	if b, err := exec.Command("/usr/bin/python3", "-c", evalReference, data, dir).CombinedOutput(); err != nil {
		t.Fatalf("torchvision reference: %v\n%s (scripts/parity/setup.sh installs python3-torchvision)", err, b)
	}
	var ref struct {
		Top1, Loss            float64
		BalancedAccuracy      float64 `json:"balanced_accuracy"`
		MacroF1               float64 `json:"macro_f1"`
		Confusion             [][]int
		Precision, Recall, F1 []float64
		TTA                   struct {
			Top1, Loss       float64
			BalancedAccuracy float64 `json:"balanced_accuracy"`
			MacroF1          float64 `json:"macro_f1"`
			Confusion        [][]int
		}
		TopLosses []string `json:"top_losses"`
	}
	b, _ := os.ReadFile(filepath.Join(dir, "ref.json"))
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	// The reference must make some mistakes and some right calls, or the
	// comparison checks little.
	if ref.Top1 == 0 || ref.Top1 == 1 || len(ref.TopLosses) < 2 {
		t.Fatalf("reference top-1 %v with %d mistakes: the fixture no longer tells classes apart", ref.Top1, len(ref.TopLosses))
	}
	pth := filepath.Join(dir, "w.pth")
	meta := `{"arch":"resnet18","num_classes":3,"classes":["cat","dog","fox"],"preprocess":{"crop_size":32,"resize_size":36,` +
		`"interpolation":"bilinear","mean":[0.485,0.456,0.406],"std":[0.229,0.224,0.225]}}`
	if err := os.WriteFile(filepath.Join(dir, "w.json"), []byte(meta), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "report")
	stdout, stderr, code := gtl("eval", "-q", "--weights", pth, "--data", data, "--tta", "--json", "--out", out)
	if code != 0 {
		t.Fatalf("eval: %d %s", code, stderr)
	}
	var got evalJSON
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatalf("--json: %v\n%s", err, stdout)
	}
	const tol = 1e-4
	if got.Images != 12 || got.Data != filepath.Join(data, "test") || !reflect.DeepEqual(got.Classes, []string{"cat", "dog", "fox"}) || got.Preprocess.CropSize != 32 {
		t.Errorf("images %d data %s classes %v preprocess %+v", got.Images, got.Data, got.Classes, got.Preprocess)
	}
	if !reflect.DeepEqual(got.Confusion, ref.Confusion) || got.Top1 != ref.Top1 || !nearly(got.Loss, ref.Loss, tol) ||
		!nearly(got.BalancedAccuracy, ref.BalancedAccuracy, 1e-9) || !nearly(got.MacroF1, ref.MacroF1, 1e-9) {
		t.Errorf("gtl: confusion %v top-1 %v loss %v balanced %v macro F1 %v\ntorchvision: %v %v %v %v %v",
			got.Confusion, got.Top1, got.Loss, got.BalancedAccuracy, got.MacroF1, ref.Confusion, ref.Top1, ref.Loss, ref.BalancedAccuracy, ref.MacroF1)
	}
	for i, c := range got.PerClass {
		if !nearly(c.Precision, ref.Precision[i], 1e-9) || !nearly(c.Recall, ref.Recall[i], 1e-9) || !nearly(c.F1, ref.F1[i], 1e-9) || c.Images != []int{3, 4, 5}[i] {
			t.Errorf("class %s: %+v; torchvision precision %v recall %v F1 %v", c.Class, c, ref.Precision[i], ref.Recall[i], ref.F1[i])
		}
	}
	if got.TTA == nil || got.TTA.Views != 10 || !reflect.DeepEqual(got.TTA.Confusion, ref.TTA.Confusion) || got.TTA.Top1 != ref.TTA.Top1 ||
		!nearly(got.TTA.Loss, ref.TTA.Loss, tol) || !nearly(got.TTA.MacroF1, ref.TTA.MacroF1, 1e-9) {
		t.Errorf("TTA: gtl %+v, torchvision's TenCrop %+v", got.TTA, ref.TTA)
	}
	var names []string
	for _, l := range got.TopLosses {
		names = append(names, l.Image)
	}
	if got.Mistakes != len(ref.TopLosses) || !reflect.DeepEqual(names, ref.TopLosses[:min(12, len(ref.TopLosses))]) {
		t.Errorf("top losses %v (%d mistakes), torchvision's %v", names, got.Mistakes, ref.TopLosses)
	}

	// The files: report.json is what --json printed, the CSVs hold the
	// matrix and the mistakes, the PNGs decode.
	if b, _ := os.ReadFile(filepath.Join(out, "report.json")); strings.TrimSpace(string(b)) != strings.TrimSpace(stdout) {
		t.Errorf("report.json differs from --json's output")
	}
	rows := readCSV(t, filepath.Join(out, "confusion.csv"))
	if len(rows) != 4 || strings.Join(rows[0], ",") != `true\predicted,cat,dog,fox` {
		t.Errorf("confusion.csv: %v", rows)
	}
	for i := 1; i < len(rows); i++ {
		for j, v := range rows[i][1:] {
			if v != strings.TrimSpace(string(rune('0'+ref.Confusion[i-1][j]))) {
				t.Errorf("confusion.csv row %d: %v, want %v", i, rows[i], ref.Confusion[i-1])
				break
			}
		}
	}
	if rows := readCSV(t, filepath.Join(out, "top_losses.csv")); len(rows) != 1+len(names) || len(names) > 0 && rows[1][0] != names[0] {
		t.Errorf("top_losses.csv: %v", rows)
	}
	for _, f := range []string{"confusion.png", "top_losses.png"} {
		fh, err := os.Open(filepath.Join(out, f))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := png.Decode(fh); err != nil {
			t.Errorf("%s: %v", f, err)
		}
		fh.Close()
	}

	// Text: the plain and TTA columns side by side.
	stdout, _, code = gtl("eval", "-q", "--weights", pth, "--data", data, "--tta", "--top-losses", "2")
	for _, re := range []string{`(?m)^top-1 \d+\.\d%  loss \d\.\d{4}  \(12 images, 3 classes\)$`, `(?m)^ +plain +TTA ×10 +change$`,
		`(?m)^top-1 +\d+\.\d% +\d+\.\d% +[+-]\d+\.\d$`, `(?m)^fox +\d\.\d{3} +\d\.\d{3} +\d\.\d{3} +5$`, `(?m)^2 fox +(\d+ +){3}\d+\.\d%$`,
		`top losses: the 2 most confidently wrong of \d+ mistakes`} {
		if code != 0 || !regexp.MustCompile(re).MatchString(stdout) {
			t.Errorf("eval text does not match %q:\n%s", re, stdout)
		}
	}

	// Classes are matched by name: a folder class the weights lack is an
	// error naming it; a class without images is named.
	extra := filepath.Join(dir, "extra")
	writeEvalFolder(t, extra, []string{"cat", "dog", "zebra"}, []int{1, 1, 1})
	if _, stderr, code := gtl("eval", "-q", "--weights", pth, "--data", extra); code != 2 || !strings.Contains(stderr, `class(es) "zebra" that `+pth+` does not know`) {
		t.Errorf("extra class: %d %s", code, stderr)
	}
	fewer := filepath.Join(dir, "fewer")
	writeEvalFolder(t, fewer, []string{"dog", "fox"}, []int{2, 2})
	stdout, stderr, code = gtl("eval", "--weights", pth, "--data", fewer, "--json")
	if code != 0 || !strings.Contains(stderr, "has no images of 1 of the model's classes (cat)") || !strings.Contains(stdout, `"images": 4`) {
		t.Errorf("missing class: %d %s\n%s", code, stderr, stdout)
	}
}

// evalJSON is gtl eval --json's output.
type evalJSON struct {
	Data       string
	Images     int
	Classes    []string
	Preprocess struct {
		CropSize int `json:"crop_size"`
	}
	Top1             float64
	Loss             float64
	BalancedAccuracy float64 `json:"balanced_accuracy"`
	MacroF1          float64 `json:"macro_f1"`
	Confusion        [][]int
	PerClass         []struct {
		Class                 string
		Precision, Recall, F1 float64
		Images                int
	} `json:"per_class"`
	TTA *struct {
		Views            int
		Top1, Loss       float64
		MacroF1          float64 `json:"macro_f1"`
		BalancedAccuracy float64 `json:"balanced_accuracy"`
		Confusion        [][]int
	}
	Mistakes  int
	TopLosses []struct{ Image string } `json:"top_losses"`
}

func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return rows
}
