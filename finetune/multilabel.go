package finetune

import (
	"fmt"

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
