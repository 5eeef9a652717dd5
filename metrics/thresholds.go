package metrics

import (
	"fmt"
	"sort"
)

// DefaultThreshold is the probability a class must exceed to be predicted
// when no threshold is given or tuned (fastai's accuracy_multi thresh).
const DefaultThreshold = 0.5

// TuneThresholds returns, for each class, the threshold t that maximises
// the class's F1 on the given images when a class is predicted for
// p > t (as ScoreMultiLabel scores it). probs[i][c] is image i's
// probability of class c, in [0, 1]; truth[i][c] whether image i carries
// it.
//
// Method: the images are ranked by their probability of the class; each
// cut between two consecutive distinct probabilities u_j > u_{j+1}
// predicts the class for exactly the images scored u_j or more, and is
// scored by F1 = 2·TP / (predicted + support). The threshold of the best
// cut is the midpoint (u_j + u_{j+1})/2 (for the cut below the lowest
// probability u_m, u_m/2; a cut that p > t cannot make, below a
// probability of 0, is skipped). These are the points of scikit-learn's
// precision_recall_curve, so the F1 reached is its maximum. Ties in F1
// go to the highest threshold (the fewest images predicted). A class no
// image carries, or whose best F1 is 0, keeps DefaultThreshold.
//
// Thresholds tuned on images and scored on the same images are
// optimistic: tune them on validation images and report test images
// scored at them.
//
// It returns an error when the shapes disagree or a probability is
// outside [0, 1] (NaN included).
func TuneThresholds(probs [][]float64, truth [][]bool) ([]float64, error) {
	if len(probs) != len(truth) {
		return nil, fmt.Errorf("metrics: %d rows of probabilities, %d of true classes", len(probs), len(truth))
	}
	if len(probs) == 0 {
		return nil, fmt.Errorf("metrics: no images")
	}
	k := len(probs[0])
	for i, row := range probs {
		if len(row) != k || len(truth[i]) != k {
			return nil, fmt.Errorf("metrics: image %d has %d probabilities and %d true flags for %d classes", i, len(row), len(truth[i]), k)
		}
		for c, p := range row {
			if !(p >= 0 && p <= 1) {
				return nil, fmt.Errorf("metrics: image %d: probability of class %d is %g, want a value in [0, 1]", i, c, p)
			}
		}
	}
	out := make([]float64, k)
	order := make([]int, len(probs))
	for c := range k {
		out[c] = DefaultThreshold
		support := 0
		for i := range order {
			order[i] = i
			if truth[i][c] {
				support++
			}
		}
		if support == 0 {
			continue
		}
		sort.SliceStable(order, func(a, b int) bool { return probs[order[a]][c] > probs[order[b]][c] })
		best, tp := 0.0, 0
		for n := 0; n < len(order); {
			u := probs[order[n]][c]
			for ; n < len(order) && probs[order[n]][c] == u; n++ {
				if truth[order[n]][c] {
					tp++
				}
			}
			// The cut below u: the n images scored u or more are predicted.
			below := 0.0 // the next lower probability, or 0 under the lowest
			if n < len(order) {
				below = probs[order[n]][c]
			} else if u == 0 {
				break // p > t with t ≥ 0 cannot predict a probability of 0
			}
			f1 := 2 * float64(tp) / float64(n+support)
			if f1 > best {
				best = f1
				t := below + (u-below)/2
				if !(t < u) { // u and below adjacent floats: the midpoint rounds up to u
					t = below
				}
				out[c] = min(max(t, 0), 1)
			}
		}
	}
	return out, nil
}
