package finetune

import (
	"encoding/csv"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/gtl-dev/gtl/npy"
	"github.com/gtl-dev/gtl/vision"
	"github.com/gtl-dev/gtl/vision/datasets"

	"github.com/gtl-dev/gtl/metrics"

	"github.com/sugarme/gotch/ts"
)

// resolveMultiLabel checks a spec's MultiLabel and LabelDelim and fills
// in the delimiter's default (" ", fastai's usual label_delim).
func (d *DataSpec) resolveMultiLabel() error {
	if !d.MultiLabel {
		if d.LabelDelim != "" {
			return FieldErrorf("Data.LabelDelim", "{Data.LabelDelim} %q needs {Data.MultiLabel}: without it a row holds one label", d.LabelDelim)
		}
		return nil
	}
	if d.Labels == "" {
		return FieldErrorf("Data.MultiLabel", "{Data.MultiLabel} needs {Data.Labels}: a CSV file whose label column holds each image's labels separated by {Data.LabelDelim}")
	}
	if d.LabelDelim == "" {
		d.LabelDelim = " "
	}
	return nil
}

// MultiHot returns the [len(tags), classes] multi-hot targets of images
// whose class indices are tags[i] (row i holds 1 at each of image i's
// classes, 0 elsewhere), row-major, as BCEWithLogitsLoss takes them. It
// returns an error naming the image whose index is outside [0, classes).
func MultiHot(tags [][]int, classes int) ([]float32, error) {
	out := make([]float32, len(tags)*classes)
	for i, row := range tags {
		for _, c := range row {
			if c < 0 || c >= classes {
				return nil, fmt.Errorf("finetune: multi-hot: class %d of image %d outside [0, %d)", c, i, classes)
			}
			out[i*classes+c] = 1
		}
	}
	return out, nil
}

// bceWithLogits is the mean over every element of the binary
// cross-entropy of sigmoid(logits) against targets in [0, 1] of the same
// shape [n, K] (multi-hot, or mixed by Mixup/CutMix): PyTorch's
// nn.BCEWithLogitsLoss() with reduction "mean". The caller owns the
// returned scalar.
func bceWithLogits(logits, targets *ts.Tensor) (*ts.Tensor, error) {
	t, err := targets.Totype(logits.DType(), false)
	if err != nil {
		return nil, err
	}
	defer t.MustDrop()
	return logits.BinaryCrossEntropyWithLogits(t, ts.NewTensor(), ts.NewTensor(), 1, false)
}

// multiLabelLoss is a multi-label step's loss: bceWithLogits of logits
// [N, K] against the targets [N, K] (multi-hot, mixed by Mixup/CutMix),
// which a multi-label batch must carry.
func multiLabelLoss(logits, targets *ts.Tensor) (*ts.Tensor, error) {
	if targets == nil {
		return nil, fmt.Errorf("finetune: multi-label loss: the batch has no multi-hot targets")
	}
	return bceWithLogits(logits, targets)
}

// reportMultiLabel evaluates a multi-label classifier on data (whose
// tags are set) in eval mode under inference mode: the sigmoid of each
// logit is the class's probability, scored by metrics.ScoreMultiLabel
// (mAP, micro/macro F1, per-class precision, recall and AP) at the
// thresholds of Train.Threshold (tune: tuned on data by
// metrics.TuneThresholds). The report's Top1 is the mAP and its Loss the
// mean binary cross-entropy over every image and class
// (BCEWithLogitsLoss).
func (t *Trainer) reportMultiLabel(m Model, data evalSet, batchSize int) (*Report, error) {
	if t.Dist != nil {
		return nil, fmt.Errorf("finetune: multi-label evaluation in a data-parallel run is not supported")
	}
	logits, err := t.logitRows(m, data, batchSize)
	if err != nil {
		return nil, err
	}
	k := len(data.classes)
	truth := make([][]bool, len(logits))
	probs := make([][]float64, len(logits))
	var loss float64
	for i, row := range logits {
		probs[i] = make([]float64, k)
		truth[i] = make([]bool, k)
		for _, c := range data.tags[i] {
			if c < 0 || c >= k {
				return nil, fmt.Errorf("finetune: evaluate: class %d of image %d outside the model's %d classes", c, i, k)
			}
			truth[i][c] = true
		}
		for c, x := range row {
			probs[i][c] = sigmoid(x)
			loss += bceLogit(x, truth[i][c])
		}
	}
	th, tune, err := t.Train.thresholds(k)
	if err != nil {
		return nil, err
	}
	if tune {
		if th, err = metrics.TuneThresholds(probs, truth); err != nil {
			return nil, fmt.Errorf("finetune: evaluate: %w", err)
		}
	}
	ml, err := metrics.ScoreMultiLabel(probs, truth, data.classes, th)
	if err != nil {
		return nil, fmt.Errorf("finetune: evaluate: %w", err)
	}
	// Balanced accuracy keeps its definition, the mean recall over the
	// classes some image carries (at the thresholds).
	var sumRecall float64
	nRecall := 0
	for c, n := range ml.Support {
		if n > 0 {
			sumRecall += ml.Recall[c]
			nRecall++
		}
	}
	bal := 0.0
	if nRecall > 0 {
		bal = sumRecall / float64(nRecall)
	}
	return &Report{Classes: data.classes, Top1: ml.MAP, Top5: math.NaN(), PerClass: ml.Recall, Loss: loss / float64(len(probs)*k),
		N: ml.N, Support: ml.Support, Predicted: ml.Predicted, Precision: ml.Precision, Recall: ml.Recall, F1: ml.F1,
		BalancedAccuracy: bal, MacroF1: ml.MacroF1, MultiLabel: ml}, nil
}

// logitRows returns m's logits for every item of data ([n][K]).
func (t *Trainer) logitRows(m Model, data evalSet, batchSize int) ([][]float64, error) {
	k := len(data.classes)
	probs := make([][]float64, 0, data.n)
	err := t.worker().Inference(func() error {
		for start := 0; start < data.n; start += batchSize {
			idx := make([]int, 0, batchSize)
			for i := start; i < min(start+batchSize, data.n); i++ {
				idx = append(idx, i)
			}
			x, y, err := data.batches(idx)
			if err != nil {
				return fmt.Errorf("finetune: evaluate images %d-%d: %w", start, start+len(idx)-1, err)
			}
			y.MustDrop()
			logits, err := m.Forward(x, false)
			x.MustDrop()
			if err != nil {
				return fmt.Errorf("finetune: evaluate images %d-%d: %w", start, start+len(idx)-1, err)
			}
			vals := logits.Float64Values(true)
			if len(vals) != len(idx)*k {
				return fmt.Errorf("finetune: evaluate: %d logits for %d images of %d classes", len(vals), len(idx), k)
			}
			for b := range idx {
				probs = append(probs, vals[b*k:(b+1)*k:(b+1)*k])
			}
		}
		return nil
	})
	return probs, err
}

// sigmoid is 1/(1+e^−x), computed without overflow.
func sigmoid(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x)
	return e / (1 + e)
}

// bceLogit is the binary cross-entropy of sigmoid(x) against a 0/1
// truth, in the stable form max(x, 0) − x·y + log(1 + e^−|x|) that
// PyTorch's binary_cross_entropy_with_logits uses.
func bceLogit(x float64, truth bool) float64 {
	y := 0.0
	if truth {
		y = 1
	}
	return max(x, 0) - x*y + math.Log1p(math.Exp(-math.Abs(x)))
}

// WriteMultiLabelCSV writes a multi-label evaluation per class: support,
// predicted, precision, recall, F1, AP and the threshold (exact: the file
// can be given back as gtl's --threshold).
func WriteMultiLabelCSV(path string, ml *metrics.MultiLabel) error {
	var b strings.Builder
	cw := csv.NewWriter(&b)
	_ = cw.Write([]string{"class", "support", "predicted", "precision", "recall", "f1", "ap", "threshold"})
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', 6, 64) }
	for c, name := range ml.Classes {
		_ = cw.Write([]string{datasets.EscapeName(name), strconv.Itoa(ml.Support[c]), strconv.Itoa(ml.Predicted[c]),
			f(ml.Precision[c]), f(ml.Recall[c]), f(ml.F1[c]), f(ml.AP[c]), strconv.FormatFloat(ml.Thresholds[c], 'g', -1, 64)})
	}
	cw.Flush()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return npy.WriteFileAtomic(path, []byte(b.String()))
}

// checkMultiLabel refuses the settings a multi-label run does not have:
// class weights and the balanced sampler (defined over one class per
// image), label smoothing, and data-parallel training.
func checkMultiLabel(s RunSpec, env RunEnv) error {
	if !s.Data.MultiLabel {
		return nil
	}
	switch {
	case s.Train.ClassWeights != "":
		return FieldErrorf("Train.ClassWeights", "{Train.ClassWeights} applies to single-label runs (one class per image); not with {Data.MultiLabel}")
	case s.Train.Sampler != "" && s.Train.Sampler != "random":
		return FieldErrorf("Train.Sampler", "{Train.Sampler} %s applies to single-label runs (one class per image); not with {Data.MultiLabel}", s.Train.Sampler)
	case s.Train.LabelSmoothing != 0:
		return FieldErrorf("Train.LabelSmoothing", "{Train.LabelSmoothing} applies to single-label runs (softmax targets); not with {Data.MultiLabel}")
	case env.Dist != nil:
		return FieldErrorf("Data.MultiLabel", "{Data.MultiLabel}: data-parallel multi-label training is not supported")
	}
	return nil
}

// thresholds reads Threshold for k classes: the threshold of every class,
// or tune (then nil). A value that is neither a probability in [0, 1] nor
// tune is a FieldError.
func (t TrainSpec) thresholds(k int) (th []float64, tune bool, err error) {
	v := metrics.DefaultThreshold
	switch t.Threshold {
	case "":
	case "tune":
		return nil, true, nil
	default:
		if v, err = strconv.ParseFloat(t.Threshold, 64); err != nil || !(v >= 0 && v <= 1) {
			return nil, false, FieldErrorf("Train.Threshold", "{Train.Threshold} %s: want a probability in [0, 1], or tune", t.Threshold)
		}
	}
	th = make([]float64, k)
	for c := range th {
		th[c] = v
	}
	return th, false, nil
}

// CheckThreshold refuses a Train.Threshold where it has no meaning: in a
// run that is not multi-label, and tune without validation images
// (valImages; negative when not known yet, as before the data is read).
// It does not check the value (Resolve does).
func CheckThreshold(t TrainSpec, multiLabel bool, valImages int) error {
	switch {
	case t.Threshold == "":
		return nil
	case !multiLabel:
		return FieldErrorf("Train.Threshold", "{Train.Threshold} %s applies to multi-label runs ({Data.MultiLabel}: sigmoid probabilities); a single-label run predicts the most probable class", t.Threshold)
	case t.Threshold == "tune" && valImages == 0:
		return FieldErrorf("Train.Threshold", "{Train.Threshold} tune: the run has no validation images to tune the thresholds on")
	}
	return nil
}

// checkpointThresholds are the thresholds the checkpoints of the run
// described by rc carry until a validation sets them (see
// useThresholds): Train.Threshold's (tune: metrics.DefaultThreshold), or,
// when resuming in dir, those of its last checkpoint (its last
// validation's), so that a resumed run writes the uninterrupted run's
// checkpoints.
func checkpointThresholds(dir string, resume bool, rc RunConfig) []float64 {
	k := len(rc.Classes)
	th, tune, err := rc.Spec.Train.thresholds(k)
	if tune || err != nil {
		th, _, _ = TrainSpec{}.thresholds(k)
	}
	if resume {
		if m, err := vision.ReadMeta(filepath.Join(dir, "last.safetensors")); err == nil && m != nil && len(m.Thresholds) == k {
			th = m.Thresholds
		}
	}
	return th
}

// useThresholds makes the thresholds epoch e's validation scored at (with
// Train.Threshold tune, those tuned with the epoch's weights) the
// thresholds of the checkpoints written next, and records them as the
// epoch's (see metaAt). An epoch not validated leaves them as they are:
// the last validation's.
func (w *runWriter) useThresholds(e Epoch) {
	if e.ValMultiLabel == nil || !w.meta.MultiLabel {
		return
	}
	w.meta.Thresholds = slices.Clone(e.ValMultiLabel.Thresholds)
	if w.thresholdsAt == nil {
		w.thresholdsAt = map[int][]float64{}
	}
	w.thresholdsAt[e.Epoch] = w.meta.Thresholds
}

// metaAt is the checkpoint description of epoch's weights: the run's,
// with the thresholds of that epoch's validation when this process ran it
// (else the latest ones; a resumed run with early stopping gets its best
// epoch's from the committed state, see earlyStopState).
func (w *runWriter) metaAt(epoch int) vision.CheckpointMeta {
	meta := w.meta
	if th, ok := w.thresholdsAt[epoch]; ok {
		meta.Thresholds = th
	}
	return meta
}
