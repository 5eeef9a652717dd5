package metrics

import (
	"fmt"
	"math"
	"sort"
)

// MultiLabel is an evaluation of a multi-label classifier: each image may
// carry any number of the classes, the model gives each class a
// probability (a sigmoid), and a class is predicted when its probability
// is above its threshold (as fastai's accuracy_multi: p > threshold).
type MultiLabel struct {
	Classes    []string
	Thresholds []float64 // of each class
	N          int       // images

	Support   []int     // images carrying each class
	Predicted []int     // images predicted to carry it
	Precision []float64 // of each class; 0 when nothing was predicted as it
	Recall    []float64 // of each class; 0 when no image carries it
	F1        []float64 // of each class; 0 when precision and recall are 0
	// AP is each class's average precision over the ranking of its
	// probabilities (scikit-learn's average_precision_score); NaN for a
	// class no image carries.
	AP []float64
	// MAP is the mean of AP over the classes some image carries (the
	// score a multi-label run selects its best checkpoint by).
	MAP float64
	// MicroF1 is F1 of the counts summed over the classes; MacroF1 the mean
	// of F1 over every class (scikit-learn's f1_score average="micro" and
	// "macro", zero_division=0); SampleF1 the mean over the images of each
	// image's F1 (an image with no true and no predicted class counts 0, as
	// scikit-learn's zero_division=0).
	MicroF1, MacroF1, SampleF1 float64
}

// ScoreMultiLabel evaluates probabilities (probs[i][c]: image i's
// probability of class c) against the true classes (truth[i][c]) at the
// given thresholds (nil: 0.5 for every class). It returns an error when the
// shapes disagree or a threshold is outside [0, 1].
func ScoreMultiLabel(probs [][]float64, truth [][]bool, classes []string, thresholds []float64) (*MultiLabel, error) {
	k := len(classes)
	if len(probs) != len(truth) {
		return nil, fmt.Errorf("metrics: %d rows of probabilities, %d of true classes", len(probs), len(truth))
	}
	if len(probs) == 0 {
		return nil, fmt.Errorf("metrics: no images")
	}
	if thresholds == nil {
		thresholds = make([]float64, k)
		for c := range thresholds {
			thresholds[c] = 0.5
		}
	}
	if len(thresholds) != k {
		return nil, fmt.Errorf("metrics: %d thresholds for %d classes", len(thresholds), k)
	}
	for c, t := range thresholds {
		if !(t >= 0 && t <= 1) {
			return nil, fmt.Errorf("metrics: threshold of class %s: %g, want a value in [0, 1]", classes[c], t)
		}
	}
	r := &MultiLabel{Classes: classes, Thresholds: thresholds, N: len(probs),
		Support: make([]int, k), Predicted: make([]int, k), Precision: make([]float64, k), Recall: make([]float64, k),
		F1: make([]float64, k), AP: make([]float64, k)}
	tp := make([]int, k)
	var sampleF1 float64
	for i, row := range probs {
		if len(row) != k || len(truth[i]) != k {
			return nil, fmt.Errorf("metrics: image %d has %d probabilities and %d true flags for %d classes", i, len(row), len(truth[i]), k)
		}
		var itp, ipred, itrue int
		for c, p := range row {
			pred := p > thresholds[c]
			if pred {
				r.Predicted[c]++
				ipred++
			}
			if truth[i][c] {
				r.Support[c]++
				itrue++
				if pred {
					tp[c]++
					itp++
				}
			}
		}
		if ipred+itrue > 0 {
			sampleF1 += 2 * float64(itp) / float64(ipred+itrue)
		}
	}
	r.SampleF1 = sampleF1 / float64(len(probs))
	var sumTP, sumPred, sumTrue int
	var sumF1, sumAP float64
	nAP := 0
	scores := make([]float64, len(probs))
	pos := make([]bool, len(probs))
	for c := range k {
		sumTP, sumPred, sumTrue = sumTP+tp[c], sumPred+r.Predicted[c], sumTrue+r.Support[c]
		if r.Predicted[c] > 0 {
			r.Precision[c] = float64(tp[c]) / float64(r.Predicted[c])
		}
		if r.Support[c] > 0 {
			r.Recall[c] = float64(tp[c]) / float64(r.Support[c])
		}
		if tp[c] > 0 {
			r.F1[c] = 2 * float64(tp[c]) / float64(r.Predicted[c]+r.Support[c])
		}
		sumF1 += r.F1[c]
		for i := range probs {
			scores[i], pos[i] = probs[i][c], truth[i][c]
		}
		r.AP[c] = AveragePrecision(scores, pos)
		if !math.IsNaN(r.AP[c]) {
			sumAP += r.AP[c]
			nAP++
		}
	}
	if sumPred+sumTrue > 0 {
		r.MicroF1 = 2 * float64(sumTP) / float64(sumPred+sumTrue)
	}
	if k > 0 {
		r.MacroF1 = sumF1 / float64(k)
	}
	r.MAP = math.NaN()
	if nAP > 0 {
		r.MAP = sumAP / float64(nAP)
	}
	return r, nil
}

// AveragePrecision returns the average precision of scores against the
// positives: Σ_n (R_n − R_{n−1})·P_n over the distinct scores from the
// highest down (tied scores form one threshold), with P_n and R_n the
// precision and recall of the items scored at least the n-th — scikit-
// learn's average_precision_score. NaN when nothing is positive.
func AveragePrecision(scores []float64, positive []bool) float64 {
	order := make([]int, len(scores))
	total := 0
	for i := range order {
		order[i] = i
		if positive[i] {
			total++
		}
	}
	if total == 0 {
		return math.NaN()
	}
	sort.SliceStable(order, func(a, b int) bool { return scores[order[a]] > scores[order[b]] })
	var ap, prevRecall float64
	tp := 0
	for n := 0; n < len(order); {
		s := scores[order[n]]
		for ; n < len(order) && scores[order[n]] == s; n++ {
			if positive[order[n]] {
				tp++
			}
		}
		recall := float64(tp) / float64(total)
		ap += (recall - prevRecall) * float64(tp) / float64(n)
		prevRecall = recall
	}
	return ap
}
