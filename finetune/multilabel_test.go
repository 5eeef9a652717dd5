package finetune

import (
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sugarme/gotch"

	"github.com/gtl-dev/gtl/torch"
	"github.com/gtl-dev/gtl/vision/augment"
)

// TestMultiLabelLossMatchesPyTorch: a multi-label step's loss equals
// PyTorch's nn.BCEWithLogitsLoss() on the same logits and targets:
// multi-hot rows (one, several or no class), and rows mixed by Mixup.
func TestMultiLabelLossMatchesPyTorch(t *testing.T) {
	const n, k = 6, 5
	rng := rand.New(rand.NewPCG(7, 3))
	logits := make([]float32, n*k)
	for i := range logits {
		logits[i] = float32(rng.NormFloat64() * 3)
	}
	hot, err := MultiHot([][]int{{0}, {1, 3}, {}, {0, 1, 2, 3, 4}, {4}, {2, 4}}, k)
	if err != nil {
		t.Fatal(err)
	}
	mixed := slices.Clone(hot) // each row mixed with its mirror, lam 0.7
	for i := 0; i < n; i++ {
		for c := 0; c < k; c++ {
			mixed[i*k+c] = 0.7*hot[i*k+c] + 0.3*hot[(n-1-i)*k+c]
		}
	}
	cases := []struct {
		name    string
		targets []float32
	}{
		{"multi-hot", hot},
		{"mixed", mixed},
	}
	var in struct {
		Logits  []float32   `json:"logits"`
		Targets [][]float32 `json:"targets"`
		N       int         `json:"n"`
		K       int         `json:"k"`
	}
	in.Logits, in.N, in.K = logits, n, k
	for _, c := range cases {
		in.Targets = append(in.Targets, c.targets)
	}
	script := `
import json, sys, torch
d = json.load(sys.stdin)
x = torch.tensor(d["logits"], dtype=torch.float32).reshape(d["n"], d["k"])
f = torch.nn.BCEWithLogitsLoss()
print(json.dumps([f(x, torch.tensor(t, dtype=torch.float32).reshape(d["n"], d["k"])).item() for t in d["targets"]]))
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
				tg, err := torch.FromSlice(c.targets, []int64{n, k})
				if err != nil {
					return err
				}
				defer tg.MustDrop()
				s := &Stepper{dev: gotch.CPU, multiLabel: true}
				defer s.Close()
				l, err := s.loss(x, nil, tg)
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
	if math.Abs(want[0]-want[1]) < 1e-3 {
		t.Fatalf("the cases give the same loss %g: the test cannot tell them apart", want[0])
	}
	// A multi-label batch without targets is refused, not trained as
	// single-label.
	if err := torch.Do(func() error {
		x, err := torch.FromSlice(logits, []int64{n, k})
		if err != nil {
			return err
		}
		defer x.MustDrop()
		_, err = (&Stepper{dev: gotch.CPU, multiLabel: true}).loss(x, nil, nil)
		return err
	}); err == nil || !strings.Contains(err.Error(), "multi-hot") {
		t.Errorf("loss without targets: %v, want an error about the multi-hot targets", err)
	}
}

// TestMultiHot: rows hold 1 at each class of the image; a class outside
// the range names the image.
func TestMultiHot(t *testing.T) {
	got, err := MultiHot([][]int{{2, 0}, {}, {1}}, 3)
	if err != nil {
		t.Fatal(err)
	}
	if want := []float32{1, 0, 1, 0, 0, 0, 0, 1, 0}; !slices.Equal(got, want) {
		t.Errorf("MultiHot = %v, want %v", got, want)
	}
	if _, err := MultiHot([][]int{{0}, {3}}, 3); err == nil || !strings.Contains(err.Error(), "image 1") {
		t.Errorf("class 3 of 3: %v, want an error naming image 1", err)
	}
}

// TestMixSoftMixesMultiHot: the loader's Mixup/CutMix hook (without label
// smoothing) mixes multi-hot rows as it mixes the images: row i becomes
// lam·row_i + (1−lam)·row_{B−1−i}, so several classes keep their weight.
func TestMixSoftMixesMultiHot(t *testing.T) {
	const n, k, size = 4, 3, 4
	hot, err := MultiHot([][]int{{0, 1}, {2}, {1, 2}, {0}}, k)
	if err != nil {
		t.Fatal(err)
	}
	x := make([]float32, n*3*size*size)
	for i := 0; i < n; i++ { // image i is the constant i: lam reads back from the pixels
		for j := 0; j < 3*size*size; j++ {
			x[i*3*size*size+j] = float32(i)
		}
	}
	soft := slices.Clone(hot)
	m := augment.MixCutMix{MixupAlpha: 0.8}
	m.MixSoft(x, soft, n, size, k, rand.New(rand.NewPCG(1, 2)))
	lam := 1 - float64(x[0])/3 // x_0 = lam·0 + (1−lam)·3
	if lam <= 0 || lam >= 1 {
		t.Fatalf("lam %g: the draw did not mix", lam)
	}
	for i := 0; i < n; i++ {
		for c := 0; c < k; c++ {
			want := lam*float64(hot[i*k+c]) + (1-lam)*float64(hot[(n-1-i)*k+c])
			if got := float64(soft[i*k+c]); math.Abs(got-want) > 1e-6 {
				t.Errorf("row %d class %d: %g, want %g", i, c, got, want)
			}
		}
	}
}

// TestMultiLabelSpec: MultiLabel needs a labels file, LabelDelim needs
// MultiLabel, and the delimiter defaults to a space.
func TestMultiLabelSpec(t *testing.T) {
	dir := t.TempDir()
	csv := filepath.Join(dir, "labels.csv")
	if err := os.WriteFile(csv, []byte("fname,labels\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name      string
		d         DataSpec
		field     string // "" : accepted
		wantDelim string
	}{
		{"multi-label without labels", DataSpec{Source: dir, MultiLabel: true}, "Data.MultiLabel", ""},
		{"delimiter without multi-label", DataSpec{Source: dir, Labels: csv, LabelDelim: ";"}, "Data.LabelDelim", ""},
		{"default delimiter", DataSpec{Source: dir, Labels: csv, MultiLabel: true}, "", " "},
		{"own delimiter", DataSpec{Source: dir, Labels: csv, MultiLabel: true, LabelDelim: ";"}, "", ";"},
		{"single-label", DataSpec{Source: dir, Labels: csv}, "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, err := c.d.Resolve()
			if c.field != "" {
				var fe *FieldError
				if !errors.As(err, &fe) || fe.Field != c.field {
					t.Fatalf("Resolve: %v, want a FieldError on %s", err, c.field)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d.LabelDelim != c.wantDelim {
				t.Errorf("LabelDelim %q, want %q", d.LabelDelim, c.wantDelim)
			}
			if got := d.csvOptions().LabelDelim; got != c.wantDelim {
				t.Errorf("csvOptions().LabelDelim %q, want %q", got, c.wantDelim)
			}
		})
	}
}
