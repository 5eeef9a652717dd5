package finetune

import (
	"errors"
	"testing"

	"github.com/gtl-dev/gtl/torch"
	"github.com/gtl-dev/gtl/vision"
	"github.com/gtl-dev/gtl/weights"
)

// TestNonFiniteWeightsStop: a model whose weights or batch-norm statistics
// hold NaN or Inf after an epoch (with a finite loss) stops the run as a
// non-finite loss does: a DivergedError naming the tensors, before that
// epoch is validated or committed, so the resumable state is the last good
// epoch's.
func TestNonFiniteWeightsStop(t *testing.T) {
	w := torch.NewWorker()
	defer w.Close()
	m := newModel(t, w, "resnet18", 1)
	defer w.Do(func() error { m.Close(); return nil })
	dir := t.TempDir()
	checks, validated := 0, 0
	bad := []weights.NonFinite{{Name: "layer1.0.bn1.running_var"}}
	tr := Trainer{Train: TrainSpec{Epochs: 3, Batch: 8, LR: 0.01}, Seed: 1, Worker: w, StateDir: dir, SaveEvery: 1,
		Hooks: Hooks{OnEpochEnd: func(e Epoch) error { validated++; return nil }},
		finite: func() error {
			if checks++; checks == 2 {
				return &vision.NonFiniteError{Arch: "resnet18", Tensors: bad}
			}
			return m.CheckFinite()
		}}
	_, err := tr.Fit(m, m.VS, randomImages(16, 32, 1), randomImages(6, 32, 2))
	var div *DivergedError
	if !errors.As(err, &div) || div.Epoch != 2 || len(div.NonFinite) != 1 || div.NonFinite[0].Name != "layer1.0.bn1.running_var" {
		t.Fatalf("error %v, want a DivergedError in epoch 2 naming the batch-norm statistic", err)
	}
	if done, err := CommittedEpoch(dir); err != nil || done != 1 || validated != 1 {
		t.Errorf("committed epoch %d (%v), epochs seen by the hooks %d; want 1 and 1", done, err, validated)
	}
}
