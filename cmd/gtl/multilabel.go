package main

import (
	"fmt"
	"io"
	"math"
	"time"

	"github.com/gtl-dev/gtl/finetune"
	"github.com/gtl-dev/gtl/metrics"
)

// printMultiLabel writes a multi-label evaluation: mAP, micro, macro and
// sample F1, then each class's support, precision, recall, F1 and AP at
// its threshold.
func printMultiLabel(w io.Writer, ml *metrics.MultiLabel, loss float64) {
	fmt.Fprintf(w, "mAP %.4f  micro F1 %.3f  macro F1 %.3f  sample F1 %.3f  loss %.4f  (%d images, %d classes)\n",
		ml.MAP, ml.MicroF1, ml.MacroF1, ml.SampleF1, loss, ml.N, len(ml.Classes))
	fmt.Fprintf(w, "%-14s %8s %10s %10s %8s %8s %8s\n", "class", "support", "threshold", "precision", "recall", "F1", "AP")
	for c, name := range ml.Classes {
		ap := fmt.Sprintf("%.4f", ml.AP[c])
		if math.IsNaN(ml.AP[c]) {
			ap = "-" // no image carries it
		}
		fmt.Fprintf(w, "%-14s %8d %10.2f %10.3f %8.3f %8.3f %8s\n", truncate(name, 14), ml.Support[c], ml.Thresholds[c],
			ml.Precision[c], ml.Recall[c], ml.F1[c], ap)
	}
}

// multiLabelEpochHeader and multiLabelEpoch are gtl train's epoch table
// for a multi-label run: val mAP, micro and macro F1 at the thresholds.
const multiLabelEpochHeader = "epoch  train loss  val loss  val mAP  micro F1  macro F1  time"

func printMultiLabelEpoch(w io.Writer, e finetune.Epoch) {
	micro := math.NaN()
	if e.ValMultiLabel != nil {
		micro = e.ValMultiLabel.MicroF1
	}
	fmt.Fprintf(w, "%-6d %-11.4f %-9.4f %-8.4f %-9.3f %-9.3f %s\n", e.Epoch, e.TrainLoss, e.ValLoss, e.ValAccuracy, micro, e.ValMacroF1,
		e.Duration.Round(10*time.Millisecond))
}
