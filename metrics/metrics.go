package metrics

import (
	"fmt"
	"math"
	"sort"
)

// Report is an evaluation: top-1 and top-5 accuracy, accuracy per class,
// the confusion matrix (rows: true class, columns: predicted class) and the
// mean cross-entropy; Finish adds the per-class precision, recall and F1
// and their averages.
type Report struct {
	Classes    []string
	Top1, Top5 float64
	PerClass   []float64 // recall of each class (its images predicted right)
	Confusion  [][]int
	Loss       float64

	// Filled by Finish (or Score).
	N                int       // images
	Support          []int     // images of each true class
	Predicted        []int     // images predicted as each class
	Precision        []float64 // of each class; 0 when nothing was predicted as it
	Recall           []float64 // of each class; 0 when it has no images
	F1               []float64 // of each class; 0 when precision and recall are 0
	BalancedAccuracy float64   // mean recall over the classes with images
	MacroF1          float64   // mean F1 over the classes with images or predictions

	// MultiLabel is the evaluation of a multi-label classifier; nil for a
	// single-label one. With it, Top1 holds its MAP (the score runs
	// select by), Loss the mean binary cross-entropy, MacroF1 and the
	// per-class numbers its own, BalancedAccuracy the mean recall over
	// the classes some image carries, Top5 NaN, and Confusion is nil.
	MultiLabel *MultiLabel
}

// Finish computes the per-class and averaged numbers from the confusion
// matrix. It returns an error when the matrix is not square over Classes.
func (r *Report) Finish() error {
	k := len(r.Classes)
	if len(r.Confusion) != k {
		return fmt.Errorf("metrics: confusion matrix has %d rows for %d classes", len(r.Confusion), k)
	}
	r.Support, r.Predicted = make([]int, k), make([]int, k)
	r.Precision, r.Recall, r.F1 = make([]float64, k), make([]float64, k), make([]float64, k)
	r.N = 0
	for i, row := range r.Confusion {
		if len(row) != k {
			return fmt.Errorf("metrics: confusion matrix row %d (%s) has %d columns for %d classes", i, r.Classes[i], len(row), k)
		}
		for j, v := range row {
			if v < 0 {
				return fmt.Errorf("metrics: confusion matrix row %d (%s), column %d: negative count %d", i, r.Classes[i], j, v)
			}
			r.Support[i] += v
			r.Predicted[j] += v
			r.N += v
		}
	}
	if r.PerClass == nil {
		r.PerClass = make([]float64, k)
	}
	var sumRecall, sumF1 float64
	var nRecall, nF1 int
	for c := range k {
		tp := float64(r.Confusion[c][c])
		if r.Predicted[c] > 0 {
			r.Precision[c] = tp / float64(r.Predicted[c])
		}
		if r.Support[c] > 0 {
			r.Recall[c] = tp / float64(r.Support[c])
			sumRecall += r.Recall[c]
			nRecall++
		}
		r.PerClass[c] = r.Recall[c]
		if p, q := r.Precision[c], r.Recall[c]; p+q > 0 {
			r.F1[c] = 2 * p * q / (p + q)
		}
		if r.Support[c] > 0 || r.Predicted[c] > 0 {
			sumF1 += r.F1[c]
			nF1++
		}
	}
	r.BalancedAccuracy, r.MacroF1 = 0, 0
	if nRecall > 0 {
		r.BalancedAccuracy = sumRecall / float64(nRecall)
	}
	if nF1 > 0 {
		r.MacroF1 = sumF1 / float64(nF1)
	}
	return nil
}

// minProb bounds the probability a loss is taken of, so that a class given
// probability 0 (an underflow) costs a large finite loss, not +Inf.
const minProb = 1e-12

// Score evaluates predicted class probabilities (probs[i][c]: image i's
// probability of class c; each row sums to about 1) against the true
// labels. The predicted class is the most probable, the first of equals as
// torch.argmax; an image counts for top-5 when its true class is among
// the five most probable (ties broken by index). Loss is the mean of
// -log p(true class).
func Score(probs [][]float64, labels []int, classes []string) (*Report, error) {
	k := len(classes)
	if len(probs) != len(labels) {
		return nil, fmt.Errorf("metrics: %d probability rows for %d labels", len(probs), len(labels))
	}
	if len(probs) == 0 {
		return nil, fmt.Errorf("metrics: no images to score")
	}
	r := &Report{Classes: classes, Confusion: make([][]int, k)}
	for i := range r.Confusion {
		r.Confusion[i] = make([]int, k)
	}
	var top1, top5 int
	var loss float64
	for i, row := range probs {
		y := labels[i]
		if len(row) != k {
			return nil, fmt.Errorf("metrics: image %d: %d probabilities for %d classes", i, len(row), k)
		}
		if y < 0 || y >= k {
			return nil, fmt.Errorf("metrics: image %d: label %d outside the %d classes", i, y, k)
		}
		pred := Argmax(row)
		r.Confusion[y][pred]++
		if pred == y {
			top1++
		}
		if rank(row, y) < 5 {
			top5++
		}
		loss -= math.Log(max(row[y], minProb))
	}
	n := float64(len(probs))
	r.Top1, r.Top5, r.Loss = float64(top1)/n, float64(top5)/n, loss/n
	if err := r.Finish(); err != nil {
		return nil, err
	}
	return r, nil
}

// Argmax returns the index of the largest value, the first of equals.
func Argmax(row []float64) int {
	best := 0
	for j, v := range row {
		if v > row[best] {
			best = j
		}
	}
	return best
}

// rank is c's place in row sorted by descending value, ties by index (0:
// the most probable).
func rank(row []float64, c int) int {
	r := 0
	for j, v := range row {
		if v > row[c] || v == row[c] && j < c {
			r++
		}
	}
	return r
}

// Mistake is one misclassified image.
type Mistake struct {
	Index     int     // the image's index in the evaluated set
	True      int     // true class
	Predicted int     // predicted class
	Prob      float64 // probability of the predicted class
	TrueProb  float64 // probability of the true class
	Loss      float64 // -log TrueProb (bounded as in Score)
}

// TopLosses returns the n misclassified images with the highest loss
// (-log of the true class's probability: the most confidently wrong
// first), ties by index, as fastai's top_losses restricted to mistakes.
// n <= 0 returns every mistake.
func TopLosses(probs [][]float64, labels []int, n int) []Mistake {
	var out []Mistake
	for i, row := range probs {
		pred, y := Argmax(row), labels[i]
		if pred == y {
			continue
		}
		out = append(out, Mistake{Index: i, True: y, Predicted: pred, Prob: row[pred], TrueProb: row[y], Loss: -math.Log(max(row[y], minProb))})
	}
	sort.SliceStable(out, func(a, b int) bool { return out[a].Loss > out[b].Loss })
	if n > 0 && len(out) > n {
		out = out[:n]
	}
	return out
}

// Softmax returns the probabilities of a row of logits (computed stably,
// in float64).
func Softmax(logits []float32) []float64 {
	m := math.Inf(-1)
	for _, x := range logits {
		m = math.Max(m, float64(x))
	}
	out := make([]float64, len(logits))
	var s float64
	for i, x := range logits {
		out[i] = math.Exp(float64(x) - m)
		s += out[i]
	}
	for i := range out {
		out[i] /= s
	}
	return out
}
