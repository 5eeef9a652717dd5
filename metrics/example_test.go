package metrics_test

import (
	"fmt"

	"github.com/gtl-dev/gtl/metrics"
)

// Score three images of two classes, one of them misclassified.
func ExampleScore() {
	probs := [][]float64{{0.9, 0.1}, {0.3, 0.7}, {0.8, 0.2}}
	labels := []int{0, 1, 1}
	r, err := metrics.Score(probs, labels, []string{"cat", "dog"})
	if err != nil {
		panic(err)
	}
	fmt.Printf("top-1 %.3f, balanced accuracy %.3f, macro F1 %.3f\n", r.Top1, r.BalancedAccuracy, r.MacroF1)
	fmt.Printf("precision %.3f recall %.3f\n", r.Precision, r.Recall)
	for _, m := range metrics.TopLosses(probs, labels, 1) {
		fmt.Printf("image %d: true %d, predicted %d at %.0f%%\n", m.Index, m.True, m.Predicted, 100*m.Prob)
	}
	// Output:
	// top-1 0.667, balanced accuracy 0.750, macro F1 0.667
	// precision [0.500 1.000] recall [1.000 0.500]
	// image 2: true 1, predicted 0 at 80%
}
