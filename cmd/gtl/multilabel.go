package main

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/gtl-dev/gtl/finetune"
	"github.com/gtl-dev/gtl/metrics"
	"github.com/gtl-dev/gtl/vision"
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

// multiLabelOf says whether predict and eval treat the model as
// multi-label (--multi-label, or its checkpoint's multi_label) and with
// which thresholds: --threshold for every class, else the checkpoint's,
// else 0.5.
func multiLabelOf(c *cli.Context, o *vision.Opened) (bool, []float64, error) {
	multi := c.Bool("multi-label") || o.Meta != nil && o.Meta.MultiLabel
	if !multi {
		if c.IsSet("threshold") {
			return false, nil, cli.Exit("--threshold applies to a multi-label model (trained with --multi-label, or --multi-label here)", 2)
		}
		return false, nil, nil
	}
	if c.Bool("tta") {
		return false, nil, cli.Exit("--tta: test-time augmentation averages softmax probabilities; not with a multi-label model", 2)
	}
	k := len(o.Classes)
	th := make([]float64, k)
	for i := range th {
		th[i] = 0.5
	}
	if o.Meta != nil && len(o.Meta.Thresholds) == k {
		copy(th, o.Meta.Thresholds)
	}
	if c.IsSet("threshold") {
		t := c.Float64("threshold")
		if !(t >= 0 && t <= 1) {
			return false, nil, cli.Exit(fmt.Sprintf("--threshold %g: want a probability in [0, 1]", t), 2)
		}
		for i := range th {
			th[i] = t
		}
	}
	return true, th, nil
}

// multiLabelLine lists the classes whose sigmoid probability is above its
// threshold, most probable first, as "name 97.1% | name 64.0%"; "(none)"
// when no class is.
func multiLabelLine(logits []float32, classes []string, thresholds []float64) string {
	type hit struct {
		c int
		p float64
	}
	var hits []hit
	for c, x := range logits {
		if p := 1 / (1 + math.Exp(-float64(x))); p > thresholds[c] {
			hits = append(hits, hit{c, p})
		}
	}
	if len(hits) == 0 {
		return "(none)"
	}
	sort.SliceStable(hits, func(a, b int) bool { return hits[a].p > hits[b].p })
	parts := make([]string, len(hits))
	for i, h := range hits {
		parts[i] = fmt.Sprintf("%s %.1f%%", classes[h.c], 100*h.p)
	}
	return strings.Join(parts, " | ")
}
