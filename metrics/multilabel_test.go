package metrics

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestMultiLabelMatchesSklearn: average precision per class (ties
// included), mAP, micro, macro and sample F1 and per-class precision and
// recall at per-class thresholds equal scikit-learn's on the same seeded
// data.
func TestMultiLabelMatchesSklearn(t *testing.T) {
	py := "/usr/bin/python3"
	if _, err := os.Stat(py); err != nil {
		t.Fatal("needs Debian's python3-sklearn: run scripts/parity/setup.sh")
	}
	const n, k = 60, 5
	rng := rand.New(rand.NewPCG(3, 4))
	probs := make([][]float64, n)
	truth := make([][]bool, n)
	for i := range probs {
		probs[i], truth[i] = make([]float64, k), make([]bool, k)
		for c := range k {
			truth[i][c] = rng.Float64() < 0.2+0.12*float64(c)
			p := rng.Float64()*0.6 + 0.3*b2f(truth[i][c])
			probs[i][c] = math.Round(p*10) / 10 // ties
		}
	}
	thresholds := []float64{0.5, 0.3, 0.5, 0.7, 0.45}
	classes := []string{"a", "b", "c", "d", "e"}
	r, err := ScoreMultiLabel(probs, truth, classes, thresholds)
	if err != nil {
		t.Fatal(err)
	}
	script := `
import json, sys, numpy as np
from sklearn.metrics import average_precision_score, f1_score, precision_score, recall_score
d = json.load(sys.stdin)
p = np.array(d["probs"]); y = np.array(d["truth"]).astype(int); t = np.array(d["thresholds"])
pred = (p > t).astype(int)
print(json.dumps({
  "ap": [average_precision_score(y[:, c], p[:, c]) for c in range(y.shape[1])],
  "map": average_precision_score(y, p, average="macro"),
  "micro": f1_score(y, pred, average="micro", zero_division=0),
  "macro": f1_score(y, pred, average="macro", zero_division=0),
  "samples": f1_score(y, pred, average="samples", zero_division=0),
  "precision": precision_score(y, pred, average=None, zero_division=0).tolist(),
  "recall": recall_score(y, pred, average=None, zero_division=0).tolist(),
}))
`
	in, _ := json.Marshal(map[string]any{"probs": probs, "truth": truth, "thresholds": thresholds})
	cmd := exec.Command(py, "-c", script)
	cmd.Stdin = strings.NewReader(string(in))
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python3 sklearn: %v", err)
	}
	var want struct {
		AP                    []float64
		MAP                   float64
		Micro, Macro, Samples float64
		Precision, Recall     []float64
	}
	if err := json.Unmarshal(out, &want); err != nil {
		t.Fatal(err)
	}
	near := func(name string, got, want float64) {
		if math.Abs(got-want) > 1e-12 {
			t.Errorf("%s %.15f, scikit-learn %.15f", name, got, want)
		}
	}
	for c := range k {
		near("AP "+classes[c], r.AP[c], want.AP[c])
		near("precision "+classes[c], r.Precision[c], want.Precision[c])
		near("recall "+classes[c], r.Recall[c], want.Recall[c])
	}
	near("mAP", r.MAP, want.MAP)
	near("micro F1", r.MicroF1, want.Micro)
	near("macro F1", r.MacroF1, want.Macro)
	near("sample F1", r.SampleF1, want.Samples)
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// TestAveragePrecision: hand-computed cases.
func TestAveragePrecision(t *testing.T) {
	cases := []struct {
		name   string
		scores []float64
		pos    []bool
		want   float64
	}{
		{"perfect", []float64{0.9, 0.8, 0.1}, []bool{true, true, false}, 1},
		// ranks: + - + : P@1 = 1, P@3 = 2/3 → (1 + 2/3) / 2
		{"one miss", []float64{0.9, 0.8, 0.1}, []bool{true, false, true}, (1 + 2.0/3) / 2},
		// all tied: one threshold, precision 1/3 at recall 1
		{"all tied", []float64{0.5, 0.5, 0.5}, []bool{false, true, false}, 1.0 / 3},
		{"no positives", []float64{0.5, 0.1}, []bool{false, false}, math.NaN()},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := AveragePrecision(c.scores, c.pos)
			if math.IsNaN(c.want) != math.IsNaN(got) || (!math.IsNaN(c.want) && math.Abs(got-c.want) > 1e-12) {
				t.Errorf("AP %v, want %v", got, c.want)
			}
		})
	}
	if _, err := ScoreMultiLabel([][]float64{{0.5}}, [][]bool{{true}}, []string{"a"}, []float64{1.5}); err == nil {
		t.Error("a threshold of 1.5 was accepted")
	}
}
