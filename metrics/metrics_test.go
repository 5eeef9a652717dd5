package metrics

import (
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
)

func near(a, b float64) bool { return math.Abs(a-b) < 5e-7 }

func nearAll(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !near(a[i], b[i]) {
			return false
		}
	}
	return true
}

// The expected numbers were worked out by hand (and checked with a few
// lines of Python that follow scikit-learn's definitions).
func TestFinish(t *testing.T) {
	tests := []struct {
		name                 string
		cm                   [][]int
		precision, recall, f []float64
		support, predicted   []int
		balanced, macroF1    float64
	}{
		{name: "two classes", cm: [][]int{{3, 1}, {2, 4}},
			precision: []float64{0.6, 0.8}, recall: []float64{0.75, 4.0 / 6}, f: []float64{2.0 / 3, 0.727272727},
			support: []int{4, 6}, predicted: []int{5, 5}, balanced: 0.708333333, macroF1: 0.696969697},
		{name: "a class never predicted, one without images", cm: [][]int{{2, 0, 1}, {0, 0, 2}, {0, 0, 0}},
			precision: []float64{1, 0, 0}, recall: []float64{2.0 / 3, 0, 0}, f: []float64{0.8, 0, 0},
			support: []int{3, 2, 0}, predicted: []int{2, 0, 3}, balanced: 1.0 / 3, macroF1: 0.8 / 3},
		{name: "a class with neither images nor predictions is left out", cm: [][]int{{5, 0, 0, 0}, {0, 3, 1, 1}, {2, 0, 0, 0}, {0, 0, 0, 0}},
			precision: []float64{5.0 / 7, 1, 0, 0}, recall: []float64{1, 0.6, 0, 0}, f: []float64{0.833333333, 0.75, 0, 0},
			support: []int{5, 5, 2, 0}, predicted: []int{7, 3, 1, 1}, balanced: 1.6 / 3, macroF1: 1.583333333 / 4},
		{name: "perfect", cm: [][]int{{2, 0}, {0, 7}},
			precision: []float64{1, 1}, recall: []float64{1, 1}, f: []float64{1, 1},
			support: []int{2, 7}, predicted: []int{2, 7}, balanced: 1, macroF1: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			classes := make([]string, len(tt.cm))
			for i := range classes {
				classes[i] = string(rune('a' + i))
			}
			r := &Report{Classes: classes, Confusion: tt.cm}
			if err := r.Finish(); err != nil {
				t.Fatal(err)
			}
			if !nearAll(r.Precision, tt.precision) || !nearAll(r.Recall, tt.recall) || !nearAll(r.F1, tt.f) {
				t.Errorf("precision %v recall %v F1 %v; want %v %v %v", r.Precision, r.Recall, r.F1, tt.precision, tt.recall, tt.f)
			}
			if !reflect.DeepEqual(r.Support, tt.support) || !reflect.DeepEqual(r.Predicted, tt.predicted) {
				t.Errorf("support %v predicted %v; want %v %v", r.Support, r.Predicted, tt.support, tt.predicted)
			}
			if !near(r.BalancedAccuracy, tt.balanced) || !near(r.MacroF1, tt.macroF1) {
				t.Errorf("balanced accuracy %v macro F1 %v; want %v %v", r.BalancedAccuracy, r.MacroF1, tt.balanced, tt.macroF1)
			}
			if !nearAll(r.PerClass, tt.recall) {
				t.Errorf("PerClass %v, want the recall %v", r.PerClass, tt.recall)
			}
		})
	}
}

func TestFinishErrors(t *testing.T) {
	for _, tt := range []struct {
		name string
		cm   [][]int
		want string
	}{
		{"rows", [][]int{{1, 0}}, "metrics: confusion matrix has 1 rows for 2 classes"},
		{"columns", [][]int{{1, 0}, {1}}, "metrics: confusion matrix row 1 (b) has 1 columns for 2 classes"},
		{"negative", [][]int{{1, 0}, {-1, 0}}, "metrics: confusion matrix row 1 (b), column 0: negative count -1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := (&Report{Classes: []string{"a", "b"}, Confusion: tt.cm}).Finish()
			if err == nil || err.Error() != tt.want {
				t.Errorf("got %v, want %q", err, tt.want)
			}
		})
	}
}

func TestScore(t *testing.T) {
	classes := []string{"a", "b", "c", "d", "e", "f"}
	probs := [][]float64{
		{0.5, 0.1, 0.1, 0.1, 0.1, 0.1},      // a, right
		{0.1, 0.6, 0.1, 0.1, 0.05, 0.05},    // b, true a: wrong
		{0.3, 0.3, 0.1, 0.1, 0.1, 0.1},      // tie a/b: a (first), true b: wrong
		{0.9, 0.02, 0.02, 0.02, 0.02, 0.02}, // a, true f: f is tied 2nd..6th, rank 5 by index: not in top-5
		{0, 0, 1, 0, 0, 0},                  // c, true c: right
	}
	labels := []int{0, 0, 1, 5, 2}
	r, err := Score(probs, labels, classes)
	if err != nil {
		t.Fatal(err)
	}
	if !near(r.Top1, 2.0/5) || !near(r.Top5, 4.0/5) {
		t.Errorf("top-1 %v top-5 %v, want 0.4 0.8", r.Top1, r.Top5)
	}
	wantLoss := -(math.Log(0.5) + math.Log(0.1) + math.Log(0.3) + math.Log(0.02) + math.Log(1)) / 5
	if !near(r.Loss, wantLoss) {
		t.Errorf("loss %v, want %v", r.Loss, wantLoss)
	}
	want := [][]int{{1, 1, 0, 0, 0, 0}, {1, 0, 0, 0, 0, 0}, {0, 0, 1, 0, 0, 0}, {0, 0, 0, 0, 0, 0}, {0, 0, 0, 0, 0, 0}, {1, 0, 0, 0, 0, 0}}
	if !reflect.DeepEqual(r.Confusion, want) {
		t.Errorf("confusion %v, want %v", r.Confusion, want)
	}
	if r.N != 5 || !near(r.Precision[0], 1.0/3) || !near(r.Recall[0], 0.5) {
		t.Errorf("N %d precision(a) %v recall(a) %v; want 5 1/3 1/2", r.N, r.Precision[0], r.Recall[0])
	}
	// A zero probability of the true class costs a large finite loss.
	r, err = Score([][]float64{{1, 0}}, []int{1}, []string{"a", "b"})
	if err != nil || !near(r.Loss, -math.Log(1e-12)) {
		t.Errorf("loss of p=0: %v %v", r, err)
	}
	for _, tt := range []struct {
		name   string
		probs  [][]float64
		labels []int
		want   string
	}{
		{"lengths", [][]float64{{1, 0}}, []int{0, 1}, "metrics: 1 probability rows for 2 labels"},
		{"empty", nil, nil, "metrics: no images to score"},
		{"row", [][]float64{{1}}, []int{0}, "metrics: image 0: 1 probabilities for 2 classes"},
		{"label", [][]float64{{1, 0}}, []int{2}, "metrics: image 0: label 2 outside the 2 classes"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Score(tt.probs, tt.labels, []string{"a", "b"}); err == nil || err.Error() != tt.want {
				t.Errorf("got %v, want %q", err, tt.want)
			}
		})
	}
}

// TestScoreAgreesWithFinish: on seeded random predictions, the confusion
// matrix sums to the images, its trace over N is top-1, and Finish on it
// gives the same numbers as Score.
func TestScoreAgreesWithFinish(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, k := range []int{2, 5, 11} {
		classes := make([]string, k)
		probs := make([][]float64, 200)
		labels := make([]int, 200)
		for i := range probs {
			probs[i] = make([]float64, k)
			var s float64
			for j := range probs[i] {
				probs[i][j] = rng.Float64()
				s += probs[i][j]
			}
			for j := range probs[i] {
				probs[i][j] /= s
			}
			labels[i] = rng.IntN(k)
		}
		r, err := Score(probs, labels, classes)
		if err != nil {
			t.Fatal(err)
		}
		trace := 0
		for c := range k {
			trace += r.Confusion[c][c]
		}
		if r.N != 200 || !near(r.Top1, float64(trace)/200) || (k <= 5 && r.Top5 != 1) || r.Top5 < r.Top1 {
			t.Errorf("k=%d: N %d top-1 %v (trace %d) top-5 %v", k, r.N, r.Top1, trace, r.Top5)
		}
		again := &Report{Classes: classes, Confusion: r.Confusion}
		if err := again.Finish(); err != nil || !nearAll(again.F1, r.F1) || again.MacroF1 != r.MacroF1 {
			t.Errorf("k=%d: Finish disagrees with Score", k)
		}
	}
}

func TestTopLosses(t *testing.T) {
	probs := [][]float64{
		{0.7, 0.2, 0.1}, // right
		{0.6, 0.3, 0.1}, // true b: loss -log 0.3
		{0.1, 0.1, 0.8}, // true a: loss -log 0.1
		{0.2, 0.5, 0.3}, // true c: loss -log 0.3, later index
		{0.1, 0.1, 0.8}, // true b: loss -log 0.1, later index
	}
	labels := []int{0, 1, 0, 2, 1}
	got := TopLosses(probs, labels, 3)
	want := []Mistake{
		{Index: 2, True: 0, Predicted: 2, Prob: 0.8, TrueProb: 0.1, Loss: -math.Log(0.1)},
		{Index: 4, True: 1, Predicted: 2, Prob: 0.8, TrueProb: 0.1, Loss: -math.Log(0.1)},
		{Index: 1, True: 1, Predicted: 0, Prob: 0.6, TrueProb: 0.3, Loss: -math.Log(0.3)},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	if all := TopLosses(probs, labels, 0); len(all) != 4 || all[3].Index != 3 {
		t.Errorf("every mistake: %+v", all)
	}
}

func TestSoftmax(t *testing.T) {
	got := Softmax([]float32{1000, 1000, 999})
	if !nearAll(got, []float64{1 / (2 + 1/math.E), 1 / (2 + 1/math.E), (1 / math.E) / (2 + 1/math.E)}) {
		t.Errorf("got %v", got)
	}
}
