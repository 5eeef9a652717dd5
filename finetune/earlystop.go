package finetune

import (
	"math"
	"path/filepath"

	"github.com/sugarme/gotch/nn"

	"github.com/gtl-dev/gtl/torch"
	"github.com/gtl-dev/gtl/vision"
	"github.com/gtl-dev/gtl/vision/datasets"
)

// EarlyStop is what early stopping (TrainSpec.Patience) did in a run:
// recorded in config.json ("early_stopping") and RunResult.
type EarlyStop struct {
	Monitor  string  `json:"monitor"`
	Patience int     `json:"patience"`
	MinDelta float64 `json:"min_delta"`
	// BestEpoch is the epoch whose weights are the final model (the last
	// improvement of Monitor), Best its value of Monitor.
	BestEpoch int     `json:"best_epoch"`
	Best      float64 `json:"best"`
	// StoppedEpoch is the epoch after which training stopped; 0 when it
	// ran every epoch.
	StoppedEpoch int `json:"stopped_epoch"`
}

// checkEarlyStop checks Patience, Monitor and MinDelta (zero values pass).
func (t TrainSpec) checkEarlyStop() error {
	switch {
	case t.Patience < 0:
		return FieldErrorf("Train.Patience", "{Train.Patience} %d: want 0 (off) or a number of epochs", t.Patience)
	case t.Monitor != "" && t.Monitor != "val_loss" && t.Monitor != "val_acc":
		return FieldErrorf("Train.Monitor", "{Train.Monitor} %s: want val_loss or val_acc", t.Monitor)
	case t.MinDelta < 0 || math.IsNaN(t.MinDelta) || math.IsInf(t.MinDelta, 0):
		return FieldErrorf("Train.MinDelta", "{Train.MinDelta} %g: want 0 or more", t.MinDelta)
	}
	return nil
}

// earlyStopper follows the monitored value over the epochs (Keras'
// EarlyStopping with restore_best_weights, fastai's EarlyStoppingCallback
// with SaveModelCallback): an epoch improves when its value beats the best
// by more than MinDelta (val_loss: below best-MinDelta; val_acc: above
// best+MinDelta); after Patience validated epochs in a row without an
// improvement, training stops. It keeps a copy of the best epoch's tensors
// (weights and batch-norm statistics), which become the final model.
type earlyStopper struct {
	es   EarlyStop
	wait int
	best *varSnapshot // the best epoch's tensors; nil before one
}

func newEarlyStopper(t TrainSpec) *earlyStopper {
	if t.Patience <= 0 {
		return nil
	}
	worst := math.Inf(1)
	if t.Monitor == "val_acc" {
		worst = math.Inf(-1)
	}
	return &earlyStopper{es: EarlyStop{Monitor: t.Monitor, Patience: t.Patience, MinDelta: t.MinDelta, Best: worst}}
}

// improves reports whether v beats the best so far by more than MinDelta.
func (s *earlyStopper) improves(v float64) bool {
	if s.es.Monitor == "val_acc" {
		return v-s.es.MinDelta > s.es.Best
	}
	return v+s.es.MinDelta < s.es.Best
}

// epoch takes a finished epoch (the model vs holds its weights, on the
// torch thread) and reports whether training stops after it. Epochs
// without validation do not count.
func (s *earlyStopper) epoch(e Epoch, vs *nn.VarStore) (stop bool, err error) {
	v := e.ValLoss
	if s.es.Monitor == "val_acc" {
		v = e.ValAccuracy
	}
	if math.IsNaN(v) {
		return false, nil
	}
	if s.improves(v) {
		s.es.Best, s.es.BestEpoch, s.wait = v, e.Epoch, 0
		if s.best == nil {
			s.best, err = snapshotVars(vs)
			return false, err
		}
		return false, s.best.save()
	}
	s.wait++
	if s.wait >= s.es.Patience {
		s.es.StoppedEpoch = e.Epoch
		return true, nil
	}
	return false, nil
}

// restoreBest puts the best epoch's tensors back into the model (on the
// torch thread) and reports whether it did (false before any validated
// epoch, or when the best epoch is the last).
func (s *earlyStopper) restoreBest(last int) (bool, error) {
	if s.best == nil || s.es.BestEpoch == last {
		return false, nil
	}
	return true, s.best.restore()
}

func (s *earlyStopper) close() {
	if s.best != nil {
		s.best.close()
	}
}

// save copies the store's current values into the snapshot.
func (s *varSnapshot) save() error {
	return torch.WithoutGrad(func() error {
		for i, c := range s.saved {
			c.Copy_(s.live[i])
		}
		return nil
	})
}

// finishEarlyStop makes the best epoch's weights the final model of a
// run with early stopping: it restores them (on the torch worker), saves
// them as the run's best checkpoint (best.safetensors: the final model;
// last.safetensors stays the last epoch trained) and records the outcome
// in out and in config.json. It reports whether the model changed.
func finishEarlyStop(s *earlyStopper, m *vision.Model, w *runWriter, out *RunResult, last int) (bool, error) {
	es := s.es
	out.Config.EarlyStop = &es
	restored := false
	err := torch.Do(func() error {
		var err error
		if restored, err = s.restoreBest(last); err != nil || !restored || w == nil {
			return err
		}
		return m.SaveCheckpoint(filepath.Join(w.dir, "best.safetensors"), w.metaAt(s.es.BestEpoch))
	})
	if err != nil {
		return false, err
	}
	if w != nil {
		written := out.Config
		written.Classes = datasets.EscapeNames(written.Classes)
		if err := WriteJSON(filepath.Join(w.dir, "config.json"), written); err != nil {
			return false, err
		}
	}
	return restored, nil
}

// hooks returns h with the stopper after its OnEpochEnd: an epoch that
// ends the patience stops the run (ErrStop), which is then complete, not
// interrupted (RunResult.Stopped stays false).
func (s *earlyStopper) hooks(h Hooks, vs *nn.VarStore) Hooks {
	inner := h.OnEpochEnd
	h.OnEpochEnd = func(e Epoch) error {
		if inner != nil {
			if err := inner(e); err != nil {
				return err
			}
		}
		stop, err := s.epoch(e, vs)
		if err != nil {
			return err
		}
		if stop {
			return ErrStop
		}
		return nil
	}
	return h
}
