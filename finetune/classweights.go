package finetune

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/gtl-dev/gtl/torch"
)

// BalancedClassWeights returns the weight of each of k classes for the
// training labels: w_c = N / (k · n_c), N the images and n_c those of
// class c — inverse frequency normalised so that a balanced set has every
// weight 1 (scikit-learn's compute_class_weight("balanced"), the heuristic
// of King and Zeng, 2001). A class without images is an error (its weight
// would be infinite), naming it by names[c] when names is given.
func BalancedClassWeights(labels []int, k int, names []string) ([]float64, error) {
	count := make([]int, k)
	for i, l := range labels {
		if l < 0 || l >= k {
			return nil, fmt.Errorf("finetune: class weights: label %d of image %d outside the %d classes", l, i, k)
		}
		count[l]++
	}
	w := make([]float64, k)
	for c, n := range count {
		if n == 0 {
			return nil, fmt.Errorf("finetune: class weights: class %s has no training images", className(names, c))
		}
		w[c] = float64(len(labels)) / (float64(k) * float64(n))
	}
	return w, nil
}

func className(names []string, c int) string {
	if c < len(names) {
		return strconv.Quote(names[c])
	}
	return strconv.Itoa(c)
}

// ReadClassWeights reads a class-weights file: CSV rows "class,weight",
// one for every class of names (any order; an optional first row
// "class,weight" is a header), or one weight per row in the order of the
// classes. Weights must be finite and non-negative, and not all zero.
// Errors name the file and the row.
func ReadClassWeights(path string, names []string) ([]float64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("finetune: class weights: %w", err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	r.TrimLeadingSpace = true
	index := map[string]int{}
	for i, n := range names {
		index[n] = i
	}
	w := make([]float64, len(names))
	seen := make([]bool, len(names))
	byName, rows := false, 0
	for line := 1; ; line++ {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("finetune: class weights %s: %w", path, err)
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue
		}
		if line == 1 && len(rec) == 2 && strings.EqualFold(rec[0], "class") {
			continue // header
		}
		var c int
		var value string
		switch len(rec) {
		case 1:
			if byName {
				return nil, fmt.Errorf("finetune: class weights %s row %d: one field, want class,weight as the rows before", path, line)
			}
			c, value = rows, rec[0]
			if c >= len(names) {
				return nil, fmt.Errorf("finetune: class weights %s: more than the %d weights of the data's classes", path, len(names))
			}
		case 2:
			if rows > 0 && !byName {
				return nil, fmt.Errorf("finetune: class weights %s row %d: two fields, want one weight as the rows before", path, line)
			}
			byName = true
			var ok bool
			if c, ok = index[rec[0]]; !ok {
				return nil, fmt.Errorf("finetune: class weights %s row %d: class %q is not one of the data's %d classes", path, line, rec[0], len(names))
			}
			if seen[c] {
				return nil, fmt.Errorf("finetune: class weights %s row %d: class %q given twice", path, line, rec[0])
			}
			value = rec[1]
		default:
			return nil, fmt.Errorf("finetune: class weights %s row %d: %d fields, want class,weight or a weight", path, line, len(rec))
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) {
			return nil, fmt.Errorf("finetune: class weights %s row %d: weight %q: want a finite number, 0 or more", path, line, value)
		}
		w[c], seen[c] = v, true
		rows++
	}
	var missing []string
	sum := 0.0
	for c, ok := range seen {
		if !ok {
			missing = append(missing, className(names, c))
		}
		sum += w[c]
	}
	if len(missing) > 0 {
		if len(missing) > 3 {
			missing = append(missing[:3], fmt.Sprintf("and %d more", len(missing)-3))
		}
		return nil, fmt.Errorf("finetune: class weights %s: %d of the %d classes have no weight (%s)", path, len(seen)-rows, len(names), strings.Join(missing, ", "))
	}
	if sum == 0 {
		return nil, fmt.Errorf("finetune: class weights %s: every weight is 0", path)
	}
	return w, nil
}

// resolveClassWeights returns the loss's class weights of spec (see
// TrainSpec.ClassWeights) for the training labels over names: nil for
// none, the balanced weights for auto, a file's otherwise.
func resolveClassWeights(spec string, labels []int, names []string) ([]float64, error) {
	switch spec {
	case "", "none":
		return nil, nil
	case "auto":
		w, err := BalancedClassWeights(labels, len(names), names)
		if err != nil {
			return nil, FieldErrorf("Train.ClassWeights", "{Train.ClassWeights} auto: %w", err)
		}
		return w, nil
	}
	w, err := ReadClassWeights(spec, names)
	if err != nil {
		return nil, FieldErrorf("Train.ClassWeights", "{Train.ClassWeights}: %w", err)
	}
	return w, nil
}

// weightTensor returns w as a float32 tensor [K] on dev; the caller owns
// it.
func weightTensor(w []float64, dev gotch.Device) (*ts.Tensor, error) {
	f := make([]float32, len(w))
	for i, v := range w {
		f[i] = float32(v)
	}
	t, err := torch.FromSlice(f, []int64{int64(len(f))})
	if err != nil {
		return nil, fmt.Errorf("finetune: class weights: %w", err)
	}
	if !dev.IsCuda() {
		return t, nil
	}
	d, err := t.To(dev, true)
	if err != nil {
		return nil, fmt.Errorf("finetune: class weights to %v: %w", dev, err)
	}
	return d, nil
}

// setClassWeights gives the step's cross-entropy the class weights w (nil:
// none), on the step's device; Close frees them.
func (s *Stepper) setClassWeights(w []float64) error {
	if s.weight != nil {
		s.weight.MustDrop()
		s.weight = nil
	}
	if w == nil {
		return nil
	}
	t, err := weightTensor(w, s.dev)
	if err != nil {
		return err
	}
	s.weight = t
	return nil
}

// loss is the step's cross-entropy of logits [N, K]: against the labels y
// [N] with label smoothing, or against soft targets [N, K] (Mixup/CutMix,
// smoothing included), each weighted by the class weights when set, as
// PyTorch's nn.CrossEntropyLoss(weight=w, label_smoothing=s): with labels
// the weighted mean Σ w_y·l / Σ w_y, with soft targets the mean over the
// batch of -Σ_c w_c·soft_c·log_softmax_c. A multi-label step takes binary
// cross-entropy against the multi-hot targets in soft instead (see
// multiLabelLoss).
func (s *Stepper) loss(logits, y, soft *ts.Tensor) (*ts.Tensor, error) {
	if s.multiLabel {
		return multiLabelLoss(logits, soft)
	}
	if soft == nil {
		w := s.weight
		if w == nil {
			w = ts.NewTensor() // undefined: no weights
		}
		// Autocast's op lists decide the loss's precision, as in PyTorch.
		return logits.CrossEntropyLoss(y, w, 1, -100, s.smoothing, false)
	}
	if s.weight == nil {
		return softCrossEntropy(logits, soft)
	}
	ws, err := soft.Mul(s.weight, false)
	if err != nil {
		return nil, err
	}
	defer ws.MustDrop()
	return softCrossEntropy(logits, ws)
}
