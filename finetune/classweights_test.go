package finetune

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/gtl-dev/gtl/torch"
)

// python3Torch returns Debian's python3 with torch, or fails the test.
func python3Torch(t *testing.T) string {
	t.Helper()
	py := "/usr/bin/python3"
	if _, err := os.Stat(py); err != nil {
		t.Fatal("needs Debian's python3-torch: run scripts/parity/setup.sh")
	}
	return py
}

// torchValues runs a Python script with PyTorch, the JSON of in on its
// stdin, and returns the JSON list of numbers it prints: the reference
// values of a test.
func torchValues(t *testing.T, script string, in any) []float64 {
	t.Helper()
	b, _ := json.Marshal(in)
	cmd := exec.Command(python3Torch(t), "-c", script)
	cmd.Stdin = strings.NewReader(string(b))
	res, err := cmd.Output()
	if err != nil {
		t.Fatalf("python3 torch: %v", err)
	}
	var want []float64
	if err := json.Unmarshal(res, &want); err != nil {
		t.Fatal(err)
	}
	return want
}

// TestWeightedLossMatchesPyTorch: the step's loss with class weights (and
// label smoothing, and soft Mixup targets) equals PyTorch's
// nn.CrossEntropyLoss(weight=w, label_smoothing=s) on the same tensors.
func TestWeightedLossMatchesPyTorch(t *testing.T) {
	const n, k = 6, 4
	rng := rand.New(rand.NewPCG(5, 9))
	logits := make([]float32, n*k)
	for i := range logits {
		logits[i] = float32(rng.NormFloat64() * 2)
	}
	labels := []int64{0, 3, 3, 1, 3, 2}
	soft := make([]float32, n*k) // rows of a mix of two labels
	for i := 0; i < n; i++ {
		soft[i*k+int(labels[i])] += 0.7
		soft[i*k+int(labels[(i+1)%n])] += 0.3
	}
	cases := []struct {
		name      string
		weights   []float64 // nil: none
		smoothing float64
		soft      bool
	}{
		{"none", nil, 0, false},
		{"weights", []float64{2.5, 0.5, 1, 0.25}, 0, false},
		{"weights and smoothing", []float64{2.5, 0.5, 1, 0.25}, 0.1, false},
		{"balanced weights", mustBalanced(t, labels, k), 0, false},
		{"soft targets", []float64{2.5, 0.5, 1, 0.25}, 0, true},
		{"soft targets unweighted", nil, 0, true},
	}
	type pycase struct {
		Weights   []float64 `json:"w"`
		Smoothing float64   `json:"s"`
		Soft      bool      `json:"soft"`
	}
	in := map[string]any{"logits": logits, "labels": labels, "soft": soft, "n": n, "k": k}
	var pcs []pycase
	for _, c := range cases {
		pcs = append(pcs, pycase{c.weights, c.smoothing, c.soft})
	}
	in["cases"] = pcs
	script := `
import json, sys, torch
d = json.load(sys.stdin)
x = torch.tensor(d["logits"], dtype=torch.float32).reshape(d["n"], d["k"])
y = torch.tensor(d["labels"])
soft = torch.tensor(d["soft"], dtype=torch.float32).reshape(d["n"], d["k"])
out = []
for c in d["cases"]:
    w = None if c["w"] is None else torch.tensor(c["w"], dtype=torch.float32)
    f = torch.nn.CrossEntropyLoss(weight=w, label_smoothing=c["s"])
    out.append(f(x, soft if c["soft"] else y).item())
print(json.dumps(out))
`
	want := torchValues(t, script, in)
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var got float64
			if err := torch.Do(func() error {
				x, err := torch.FromSlice(logits, []int64{n, k})
				if err != nil {
					return err
				}
				defer x.MustDrop()
				y, err := torch.FromSlice(labels, []int64{n})
				if err != nil {
					return err
				}
				defer y.MustDrop()
				s := &Stepper{dev: gotch.CPU, smoothing: c.smoothing}
				defer s.Close()
				if err := s.setClassWeights(c.weights); err != nil {
					return err
				}
				var sf *ts.Tensor // nil: hard labels
				if c.soft {
					if sf, err = torch.FromSlice(soft, []int64{n, k}); err != nil {
						return err
					}
					defer sf.MustDrop()
				}
				l, err := s.loss(x, y, sf)
				if err != nil {
					return err
				}
				defer l.MustDrop()
				got, err = l.Float64Value([]int64{})
				return err
			}); err != nil {
				t.Fatal(err)
			}
			if math.Abs(got-want[i]) > 1e-5 {
				t.Errorf("loss %.7f, PyTorch %.7f", got, want[i])
			}
		})
	}
	// The weights change the loss (the cases are not all the same number).
	if math.Abs(want[0]-want[1]) < 1e-3 || math.Abs(want[1]-want[2]) < 1e-3 || math.Abs(want[4]-want[5]) < 1e-3 {
		t.Errorf("PyTorch losses %v: the weighted cases should differ", want)
	}
}

func mustBalanced(t *testing.T, labels []int64, k int) []float64 {
	l := make([]int, len(labels))
	for i, v := range labels {
		l[i] = int(v)
	}
	w, err := BalancedClassWeights(l, k, nil)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// TestBalancedClassWeights: N/(K·n_c), as scikit-learn's "balanced".
func TestBalancedClassWeights(t *testing.T) {
	cases := []struct {
		name   string
		labels []int
		k      int
		want   []float64
		err    string
	}{
		{"balanced", []int{0, 1, 0, 1}, 2, []float64{1, 1}, ""},
		{"1:20", append(repeat(0, 20), 1), 2, []float64{21.0 / 40, 21.0 / 2}, ""},
		{"three", []int{0, 0, 0, 1, 2, 2}, 3, []float64{6.0 / 9, 2, 1}, ""},
		{"empty class", []int{0, 0, 2}, 3, nil, `class "b" has no training images`},
		{"label out of range", []int{0, 3}, 3, nil, "label 3 of image 1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w, err := BalancedClassWeights(c.labels, c.k, []string{"a", "b", "c"})
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error %v, want %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for i := range c.want {
				if math.Abs(w[i]-c.want[i]) > 1e-12 {
					t.Errorf("weights %v, want %v", w, c.want)
				}
			}
		})
	}
}

func repeat(v, n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = v
	}
	return out
}

// TestReadClassWeights: by name or in order, and the file's mistakes
// named with their row.
func TestReadClassWeights(t *testing.T) {
	names := []string{"cat", "dog", "fox"}
	cases := []struct {
		name, text string
		want       []float64
		err        string
	}{
		{"by name with header", "class,weight\nfox,3\ncat,1\ndog,0.5\n", []float64{1, 0.5, 3}, ""},
		{"in order", "1\n2\n\n0.25\n", []float64{1, 2, 0.25}, ""},
		{"unknown class", "cat,1\nwolf,2\nfox,1\n", nil, `row 2: class "wolf" is not one of the data's 3 classes`},
		{"missing", "cat,1\ndog,2\n", nil, `1 of the 3 classes have no weight ("fox")`},
		{"twice", "cat,1\ncat,2\n", nil, `row 2: class "cat" given twice`},
		{"negative", "cat,1\ndog,-2\nfox,1\n", nil, `row 2: weight "-2": want a finite number, 0 or more`},
		{"not a number", "1\nlots\n1\n", nil, `row 2: weight "lots"`},
		{"too many", "1\n1\n1\n1\n", nil, "more than the 3 weights"},
		{"all zero", "0\n0\n0\n", nil, "every weight is 0"},
		{"mixed", "cat,1\n2\n", nil, "row 2: one field"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "w.csv")
			if err := os.WriteFile(p, []byte(c.text), 0o644); err != nil {
				t.Fatal(err)
			}
			w, err := ReadClassWeights(p, names)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) || !strings.Contains(err.Error(), p) {
					t.Fatalf("error %v, want %q naming the file", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for i := range c.want {
				if w[i] != c.want[i] {
					t.Fatalf("weights %v, want %v", w, c.want)
				}
			}
		})
	}
}

// TestBalancedOrder: a 1:20 set drawn balanced gives each class about
// half the draws; the order depends on seed and epoch only.
func TestBalancedOrder(t *testing.T) {
	labels := append(repeat(0, 2000), repeat(1, 100)...)
	labels = append(labels, repeat(2, 900)...)
	a, err := BalancedOrder(labels, 7, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != len(labels) {
		t.Fatalf("%d draws, want %d", len(a), len(labels))
	}
	count := make([]int, 3)
	distinct := map[int]bool{}
	for _, i := range a {
		count[labels[i]]++
		if labels[i] == 1 {
			distinct[i] = true
		}
	}
	for c, n := range count { // 1000 expected each; 4.5 standard deviations ≈ 115
		if n < 885 || n > 1115 {
			t.Errorf("class %d drawn %d times of 3000, want about 1000 (counts %v)", c, n, count)
		}
	}
	// With replacement: the 100 minority images are drawn ~10 times each,
	// and (almost) all of them appear.
	if len(distinct) < 95 {
		t.Errorf("%d of the 100 minority images drawn", len(distinct))
	}
	again, _ := BalancedOrder(labels, 7, 1)
	next, _ := BalancedOrder(labels, 7, 2)
	other, _ := BalancedOrder(labels, 8, 1)
	same := func(x, y []int) bool {
		for i := range x {
			if x[i] != y[i] {
				return false
			}
		}
		return true
	}
	if !same(a, again) {
		t.Error("the same seed and epoch gave another order")
	}
	if same(a, next) || same(a, other) {
		t.Error("another epoch or seed gave the same order")
	}
	if _, err := BalancedOrder([]int{0, -1}, 1, 1); err == nil {
		t.Error("a negative label was accepted")
	}
}
