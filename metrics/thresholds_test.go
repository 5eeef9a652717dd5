package metrics

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestTuneThresholdsMatchesSklearn: on seeded random probabilities (with
// ties, a class no image carries and a class of all-equal scores), the F1
// reached at the tuned thresholds is the maximum F1 over the points of
// scikit-learn's precision_recall_curve, and scikit-learn's f1_score of
// p > t equals ScoreMultiLabel's F1 at them.
func TestTuneThresholdsMatchesSklearn(t *testing.T) {
	py := "/usr/bin/python3"
	if _, err := os.Stat(py); err != nil {
		t.Fatal("needs Debian's python3-sklearn: run scripts/parity/setup.sh")
	}
	for _, seed := range []uint64{1, 2, 3} {
		const n, k = 80, 6
		rng := rand.New(rand.NewPCG(seed, 11))
		probs := make([][]float64, n)
		truth := make([][]bool, n)
		for i := range probs {
			probs[i], truth[i] = make([]float64, k), make([]bool, k)
			for c := range k {
				truth[i][c] = c != 2 && rng.Float64() < 0.15+0.12*float64(c) // class 2: no positives
				p := rng.Float64()*0.7 + 0.3*b2f(truth[i][c])
				switch c {
				case 1, 3:
					p = math.Round(p*10) / 10 // ties
				case 5:
					p = 0.25 // one score for every image
				}
				probs[i][c] = p
			}
		}
		classes := []string{"a", "b", "c", "d", "e", "f"}
		th, err := TuneThresholds(probs, truth)
		if err != nil {
			t.Fatal(err)
		}
		r, err := ScoreMultiLabel(probs, truth, classes, th)
		if err != nil {
			t.Fatal(err)
		}
		script := `
import json, sys, numpy as np
from sklearn.metrics import precision_recall_curve, f1_score
d = json.load(sys.stdin)
p = np.array(d["probs"]); y = np.array(d["truth"]).astype(int); t = np.array(d["thresholds"])
best = []
for c in range(y.shape[1]):
    if y[:, c].sum() == 0:
        best.append(0.0)
        continue
    pr, rc, _ = precision_recall_curve(y[:, c], p[:, c])
    f = np.where(pr + rc > 0, 2 * pr * rc / np.where(pr + rc > 0, pr + rc, 1), 0)
    best.append(float(f.max()))
print(json.dumps({"best": best,
  "f1": f1_score(y, (p > t).astype(int), average=None, zero_division=0).tolist()}))
`
		in, _ := json.Marshal(map[string]any{"probs": probs, "truth": truth, "thresholds": th})
		cmd := exec.Command(py, "-c", script)
		cmd.Stdin = strings.NewReader(string(in))
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("python3 sklearn: %v", err)
		}
		var want struct{ Best, F1 []float64 }
		if err := json.Unmarshal(out, &want); err != nil {
			t.Fatal(err)
		}
		for c := range k {
			if math.Abs(r.F1[c]-want.Best[c]) > 1e-12 {
				t.Errorf("seed %d class %s: F1 %.15f at threshold %g, scikit-learn's best %.15f", seed, classes[c], r.F1[c], th[c], want.Best[c])
			}
			if math.Abs(r.F1[c]-want.F1[c]) > 1e-12 {
				t.Errorf("seed %d class %s: F1 %.15f, scikit-learn's f1_score at p > %g: %.15f", seed, classes[c], r.F1[c], th[c], want.F1[c])
			}
		}
		if th[2] != DefaultThreshold {
			t.Errorf("seed %d: class c (no positives) threshold %g, want %g", seed, th[2], DefaultThreshold)
		}
		if th[0] == DefaultThreshold {
			t.Errorf("seed %d: class a kept %g: nothing was tuned", seed, th[0])
		}
	}
}

// TestTuneThresholds: hand-computed cases, one class each.
func TestTuneThresholds(t *testing.T) {
	odd := math.Nextafter(0.5, 1) // odd last mantissa bit
	even := math.Nextafter(odd, 1)
	cases := []struct {
		name   string
		scores []float64
		pos    []bool
		want   float64
	}{
		// cut between 0.8 and 0.3: F1 1
		{"separable", []float64{0.9, 0.8, 0.3, 0.1}, []bool{true, true, false, false}, 0.55},
		// top-1: F1 2/3; top-3: 2·2/(3+2) = 0.8; top-4: 4/6: the cut below 0.4
		{"one negative above", []float64{0.9, 0.7, 0.4, 0.2}, []bool{true, false, true, false}, 0.3},
		// top-1 (F1 2·1/(1+2) = 2/3) and top-2 (2·1/(2+2) = 1/2) … top-4 2·2/(4+2) = 2/3:
		// equal F1, the highest threshold wins
		{"tie goes high", []float64{0.9, 0.7, 0.5, 0.2}, []bool{true, false, false, true}, 0.8},
		// tied scores form one cut: the positive at 0.6 cannot be taken without the negative
		{"tied scores", []float64{0.6, 0.6, 0.1}, []bool{true, false, false}, 0.35},
		// every image predicted: the cut below the lowest score, at half of it
		{"all positive", []float64{0.4, 0.2}, []bool{true, true}, 0.1},
		// a positive at 0 cannot be predicted by p > t: the best is the cut above it
		{"zero score", []float64{0.0, 0.6, 0.0}, []bool{true, true, false}, 0.3},
		// no cut has a true positive: the default
		{"best F1 zero", []float64{0.9, 0.0}, []bool{false, true}, DefaultThreshold},
		{"no positives", []float64{0.9, 0.1}, []bool{false, false}, DefaultThreshold},
		// adjacent floats: the midpoint rounds to the upper score, so the lower one is taken
		{"adjacent floats", []float64{even, odd}, []bool{true, false}, odd},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			probs := make([][]float64, len(c.scores))
			truth := make([][]bool, len(c.scores))
			for i := range probs {
				probs[i], truth[i] = []float64{c.scores[i]}, []bool{c.pos[i]}
			}
			th, err := TuneThresholds(probs, truth)
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(th[0]-c.want) > 1e-15 {
				t.Errorf("threshold %.17g, want %.17g", th[0], c.want)
			}
			for i, p := range c.scores { // the same images predicted as at the wanted threshold
				if (p > th[0]) != (p > c.want) {
					t.Errorf("image %d (%.17g): predicted %v at %.17g, want %v", i, p, p > th[0], th[0], p > c.want)
				}
			}
		})
	}
	bad := []struct {
		name  string
		probs [][]float64
		truth [][]bool
	}{
		{"NaN", [][]float64{{math.NaN()}}, [][]bool{{true}}},
		{"above 1", [][]float64{{1.5}}, [][]bool{{true}}},
		{"ragged", [][]float64{{0.5, 0.5}, {0.5}}, [][]bool{{true, false}, {true}}},
		{"rows", [][]float64{{0.5}}, nil},
		{"empty", nil, nil},
	}
	for _, c := range bad {
		t.Run("refused "+c.name, func(t *testing.T) {
			if _, err := TuneThresholds(c.probs, c.truth); err == nil {
				t.Error("accepted")
			}
		})
	}
}

// Tune each class's threshold on validation probabilities; score other
// images at them.
func ExampleTuneThresholds() {
	probs := [][]float64{{0.9, 0.2}, {0.7, 0.6}, {0.4, 0.8}, {0.2, 0.3}}
	truth := [][]bool{{true, false}, {true, true}, {false, true}, {false, false}}
	th, err := TuneThresholds(probs, truth)
	if err != nil {
		panic(err)
	}
	fmt.Printf("%.2f\n", th)
	// Output: [0.55 0.45]
}
