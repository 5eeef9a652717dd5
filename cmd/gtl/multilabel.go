package main

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/gtl-dev/gtl/finetune"
	"github.com/gtl-dev/gtl/metrics"
	"github.com/gtl-dev/gtl/vision"
	"github.com/gtl-dev/gtl/vision/datasets"
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
		fmt.Fprintf(w, "%-14s %8d %10.4f %10.3f %8.3f %8.3f %8s\n", truncate(name, 14), ml.Support[c], ml.Thresholds[c],
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
	fmt.Fprintf(w, "%-6d %-11s %-9s %-8.4f %-9.3f %-9.3f %s\n", e.Epoch, lossCell(e.TrainLoss), lossCell(e.ValLoss), e.ValAccuracy, micro, e.ValMacroF1,
		e.Duration.Round(10*time.Millisecond))
}

// thresholdFlag is gtl train's and gtl compare's --threshold
// (finetune.TrainSpec.Threshold).
func thresholdFlag() cli.Flag {
	return &cli.StringFlag{Name: "threshold", Usage: "with --multi-label, the probability a class must exceed to be predicted, for every class (default 0.5), " +
		"or tune: each validation picks every class's threshold maximising its F1 on the validation images, written into the checkpoints"}
}

// evalThresholdUsage and predictThresholdUsage are the usage of gtl
// eval's and gtl predict's --threshold.
const (
	evalThresholdUsage = "with a multi-label model, the probability a class must exceed to count as predicted: one for every class, " +
		"or a CSV file with columns class and threshold (gtl eval's per_class.csv is one), " +
		"or tune: each class's F1-maximising threshold on these images (optimistic), written to --out's per_class.csv (default: the checkpoint's, else 0.5)"
	predictThresholdUsage = "with a multi-label model, the probability a class must exceed to be printed: one for every class, " +
		"or a CSV file with columns class and threshold (gtl eval's per_class.csv is one) (default: the checkpoint's, else 0.5)"
)

// multiLabelOf says whether predict and eval treat the model as
// multi-label (--multi-label, or its checkpoint's multi_label) and with
// which thresholds: --threshold's (see parseThresholds), else the
// checkpoint's, else 0.5. With --threshold tune it returns nil
// thresholds: the caller tunes them.
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
		th[i] = metrics.DefaultThreshold
	}
	if o.Meta != nil && len(o.Meta.Thresholds) == k {
		copy(th, o.Meta.Thresholds)
	}
	if !c.IsSet("threshold") {
		return true, th, nil
	}
	th, err := parseThresholds(c.String("threshold"), o.Classes)
	if err != nil {
		return false, nil, cli.Exit(err.Error(), 2)
	}
	return true, th, nil
}

// parseThresholds reads --threshold for a model of the given classes: a
// probability in [0, 1] for every class; tune (nil: the caller tunes);
// or a CSV file whose header names the columns class and threshold (other
// columns are ignored, so that gtl eval's per_class.csv is one), with one
// row for each of the model's classes, matched by name. Its errors are
// one line naming the flag, the file and the row or class.
func parseThresholds(v string, classes []string) ([]float64, error) {
	if v == "tune" {
		return nil, nil
	}
	if t, err := strconv.ParseFloat(v, 64); err == nil {
		if !(t >= 0 && t <= 1) {
			return nil, fmt.Errorf("--threshold %s: want a probability in [0, 1], tune, or a CSV file of class,threshold rows", v)
		}
		th := make([]float64, len(classes))
		for i := range th {
			th[i] = t
		}
		return th, nil
	}
	f, err := os.Open(v)
	if err != nil {
		return nil, fmt.Errorf("--threshold %s: not a probability, tune, or a readable CSV file: %w", v, errors.Unwrap(err))
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	header, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("--threshold %s: no header row: %v", v, err)
	}
	col := map[string]int{}
	for i, h := range header {
		col[strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))] = i
	}
	ci, okC := col["class"]
	ti, okT := col["threshold"]
	if !okC || !okT {
		return nil, fmt.Errorf("--threshold %s: the header row %q has no class and threshold columns", v, strings.Join(header, ","))
	}
	index := map[string]int{}
	for i, name := range classes {
		index[name] = i
	}
	th := make([]float64, len(classes))
	seen := make([]bool, len(classes))
	for row := 2; ; row++ {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("--threshold %s: %v", v, err)
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue // a blank line
		}
		if len(rec) <= max(ci, ti) {
			return nil, fmt.Errorf("--threshold %s: row %d has %d fields, want the class and threshold columns", v, row, len(rec))
		}
		name := datasets.UnescapeName(rec[ci])
		c, ok := index[name]
		if !ok {
			return nil, fmt.Errorf("--threshold %s: row %d: class %q is not one of the model's %d (%s)", v, row, rec[ci], len(classes), strings.Join(classes, ", "))
		}
		if seen[c] {
			return nil, fmt.Errorf("--threshold %s: row %d: class %q has a threshold already", v, row, rec[ci])
		}
		t, err := strconv.ParseFloat(strings.TrimSpace(rec[ti]), 64)
		if err != nil || !(t >= 0 && t <= 1) {
			return nil, fmt.Errorf("--threshold %s: row %d: class %q: threshold %q, want a probability in [0, 1]", v, row, rec[ci], rec[ti])
		}
		th[c], seen[c] = t, true
	}
	for c, ok := range seen {
		if !ok {
			return nil, fmt.Errorf("--threshold %s: no threshold for class %q", v, classes[c])
		}
	}
	return th, nil
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
