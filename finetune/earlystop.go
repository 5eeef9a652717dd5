package finetune

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"

	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"

	"github.com/gtl-dev/gtl/torch"
	"github.com/gtl-dev/gtl/vision"
	"github.com/gtl-dev/gtl/vision/datasets"
	"github.com/gtl-dev/gtl/weights"
)

// EarlyStop is what early stopping (TrainSpec.Patience) did in a run:
// recorded in config.json ("early_stopping"), on the metrics.jsonl line of
// the run's last epoch (the same key) and in RunResult.
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
	case t.Patience == 0 && t.Monitor != "":
		return FieldErrorf("Train.Monitor", "{Train.Monitor} %s: early stopping is off; set {Train.Patience} to stop after that many epochs without improvement", t.Monitor)
	case t.Patience == 0 && t.MinDelta != 0:
		return FieldErrorf("Train.MinDelta", "{Train.MinDelta} %g: early stopping is off; set {Train.Patience} to stop after that many epochs without improvement", t.MinDelta)
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
//
// Its state is part of the trainer's committed state (earlyStopState): a
// resumed run continues the same count, from the same best epoch, whose
// tensors it reads back, and stops where the uninterrupted run stops.
type earlyStopper struct {
	es     EarlyStop
	wait   int
	best   *varSnapshot // the best epoch's tensors; nil before one
	epochs int          // the run's epochs (its last is final)
	seen   int          // the last epoch taken (by this process or, resumed, an earlier one)
	// written is the file of the best epoch's tensors that the last
	// committed state names ("": none yet).
	written string
	// w writes the run's checkpoints (nil: none); bestSaved says that its
	// best.safetensors already holds the best epoch's tensors (written at
	// the run's last commit, see commit).
	w         *runWriter
	bestSaved bool
}

// earlyStopState is early stopping's part of a committed state (see
// trainerState): the monitored best so far, its epoch, the validated
// epochs since (Wait), the epoch training stopped after (0: none yet), and
// the file in the state's folder that holds the best epoch's tensors —
// state-BBBB-earlystop-best.safetensors for best epoch BBBB, written at the
// first commit after the best changed and named by every later state until
// the best changes again. It is a hard link where the same tensors are in
// a file already: the state's weights at the best epoch's own commit, and
// at the run's last commit best.safetensors, which then receives the final
// model (see finishEarlyStop) before the commit instead of after it.
type earlyStopState struct {
	Monitor      string  `json:"monitor"`
	BestEpoch    int     `json:"best_epoch"` // 0: no validated epoch yet
	Best         float64 `json:"best"`       // 0 while BestEpoch is 0
	Wait         int     `json:"wait"`
	StoppedEpoch int     `json:"stopped_epoch,omitempty"`
	Weights      string  `json:"weights,omitempty"`
	// Thresholds are a multi-label run's thresholds of the best epoch
	// (tuned with its weights under Train.Threshold tune), which its
	// best.safetensors carries when a resumed process writes it.
	Thresholds []float64 `json:"thresholds,omitempty"`
}

// earlyStopFile ends the name of the state file holding the best epoch's
// tensors (see earlyStopState).
const earlyStopFile = "earlystop-best.safetensors"

func newEarlyStopper(t TrainSpec) *earlyStopper {
	if t.Patience <= 0 {
		return nil
	}
	worst := math.Inf(1)
	if t.Monitor == "val_acc" {
		worst = math.Inf(-1)
	}
	return &earlyStopper{es: EarlyStop{Monitor: t.Monitor, Patience: t.Patience, MinDelta: t.MinDelta, Best: worst}, epochs: t.Epochs}
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
	s.seen = e.Epoch
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
// run with early stopping whose last epoch taken is last: it restores them
// (on the torch worker), makes them the run's best checkpoint
// (best.safetensors: the final model, a hard link to last.safetensors when
// the best epoch is the last; last.safetensors stays the last epoch
// trained) and records the outcome in out and in config.json. It reports
// whether the model changed.
func finishEarlyStop(s *earlyStopper, m *vision.Model, w *runWriter, out *RunResult, last int) (bool, error) {
	es := s.es
	out.Config.EarlyStop = &es
	restored := false
	err := torch.Do(func() error {
		var err error
		if restored, err = s.restoreBest(last); err != nil || w == nil {
			return err
		}
		best := filepath.Join(w.dir, "best.safetensors")
		switch {
		case !restored: // the last epoch's weights (best.safetensors holds the best accuracy's)
			return linkCheckpoint(w.lastCheckpoint(), best, func(p string) error { return m.SaveCheckpoint(p, w.metaAt(last)) })
		case s.bestSaved: // at the last commit
			return nil
		}
		return m.SaveCheckpoint(best, w.metaAt(s.es.BestEpoch))
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

// hooks returns h with the stopper before its OnEpochEnd, so that the
// epoch's metrics line knows the outcome (see final), and the stop after
// it: an epoch that ends the patience stops the run (ErrStop), which is
// then complete, not interrupted (RunResult.Stopped stays false). An epoch
// that another hook stops is taken too: its state is committed.
func (s *earlyStopper) hooks(h Hooks, vs *nn.VarStore) Hooks {
	inner := h.OnEpochEnd
	h.OnEpochEnd = func(e Epoch) error {
		stop, err := s.epoch(e, vs)
		if err != nil {
			return err
		}
		if inner != nil {
			if err := inner(e); err != nil {
				return err
			}
		}
		if stop {
			return ErrStop
		}
		return nil
	}
	return h
}

// final returns what early stopping did when epoch is the run's last — the
// one it stopped after, or the last of the epochs — and nil otherwise (or
// before any validated epoch, or without early stopping: s nil). Call it
// after the stopper has taken the epoch.
func (s *earlyStopper) final(epoch int) *EarlyStop {
	if s == nil || s.es.BestEpoch == 0 || (epoch != s.es.StoppedEpoch && epoch != s.epochs) {
		return nil
	}
	es := s.es
	return &es
}

// stopped reports whether early stopping has ended the run (false for a
// nil s): a run resumed after its stop trains no further epoch.
func (s *earlyStopper) stopped() bool { return s != nil && s.es.StoppedEpoch > 0 }

// commit returns the stopper's state for the trainer's state at pos (on
// the torch thread, before the state file is written): it writes the best
// epoch's tensors to the state folder dir when no committed state names
// them yet — a hard link to the state's weights file (weights, in dir)
// when pos is the end of the best epoch; at the run's last commit (the
// end of the epoch it stops after, or of its last) a link to
// best.safetensors, written then with the best epoch's tensors; else the
// kept copy (the variables only selects; nil: all).
func (s *earlyStopper) commit(dir string, pos position, weightsFile string, only func(string) bool) (*earlyStopState, error) {
	st := &earlyStopState{Monitor: s.es.Monitor, BestEpoch: s.es.BestEpoch, Wait: s.wait, StoppedEpoch: s.es.StoppedEpoch}
	if s.es.BestEpoch == 0 || s.best == nil {
		return st, nil
	}
	st.Best, st.Weights = s.es.Best, stateFileName(position{Epoch: s.es.BestEpoch}, earlyStopFile)
	if s.w != nil && s.w.meta.MultiLabel {
		st.Thresholds = s.w.metaAt(s.es.BestEpoch).Thresholds
	}
	if st.Weights == s.written {
		return st, nil
	}
	path := filepath.Join(dir, st.Weights)
	last := pos.Step == 0 && (pos.Epoch == s.es.StoppedEpoch || pos.Epoch == s.epochs)
	src := ""
	switch {
	case pos == (position{Epoch: s.es.BestEpoch}):
		src = filepath.Join(dir, weightsFile)
	case last && s.w != nil && filepath.Clean(s.w.dir) == filepath.Clean(dir):
		if err := s.saveBest(); err != nil {
			return nil, err
		}
		src = filepath.Join(dir, "best.safetensors")
	}
	if src == "" || linkAtomic(src, path) != nil {
		if err := weights.WriteSafetensors(path, s.best.tensors(only), nil); err != nil {
			return nil, fmt.Errorf("finetune: state: early stopping's best epoch: %w", err)
		}
	}
	s.written = st.Weights
	return st, nil
}

// saveBest writes the best epoch's tensors as the run's best.safetensors
// (on the torch thread): the model holds them while it is written, and its
// own afterwards.
func (s *earlyStopper) saveBest() error {
	cur, err := s.best.swap()
	if err != nil {
		return err
	}
	err = s.w.m.SaveCheckpoint(filepath.Join(s.w.dir, "best.safetensors"), s.w.metaAt(s.es.BestEpoch))
	if rerr := cur.restore(); rerr != nil && err == nil {
		err = rerr
	}
	cur.close()
	if err == nil {
		s.bestSaved = true
	}
	return err
}

// swap copies the saved values into the store's tensors and returns a
// snapshot of what they held (whose restore puts it back).
func (s *varSnapshot) swap() (*varSnapshot, error) {
	cur := &varSnapshot{names: s.names, live: s.live}
	err := torch.WithoutGrad(func() error {
		for i, v := range s.live {
			c, err := v.ZerosLike(false)
			if err != nil {
				return fmt.Errorf("finetune: copy %s: %w", s.names[i], err)
			}
			c.Copy_(v)
			cur.saved = append(cur.saved, c)
		}
		return nil
	})
	if err != nil {
		cur.close()
		return nil, err
	}
	return cur, s.restore()
}

// resume continues from a committed state (on the torch thread, after
// its weights were loaded into vs): done epochs were taken, st is the
// stopper's state then (nil in a state written without early stopping:
// the count starts again here), whose best epoch's tensors it reads from
// the state folder dir (the variables only selects; the others are vs's).
// A state that monitored another value is refused.
func (s *earlyStopper) resume(st *earlyStopState, done int, dir string, vs *nn.VarStore, only func(string) bool) error {
	s.seen = done
	if st == nil {
		return nil
	}
	p := filepath.Join(dir, stateFile)
	if st.Monitor != s.es.Monitor {
		return fmt.Errorf("finetune: resume: %s: early stopping monitored %s; this run monitors %s", p, st.Monitor, s.es.Monitor)
	}
	s.wait, s.es.StoppedEpoch = st.Wait, st.StoppedEpoch
	if st.BestEpoch == 0 {
		return nil
	}
	if st.Weights == "" {
		return fmt.Errorf("finetune: resume: %s: early stopping's best epoch %d names no weights file", p, st.BestEpoch)
	}
	s.es.Best, s.es.BestEpoch = st.Best, st.BestEpoch
	if s.w != nil && st.Thresholds != nil {
		if s.w.thresholdsAt == nil {
			s.w.thresholdsAt = map[int][]float64{}
		}
		if _, ok := s.w.thresholdsAt[st.BestEpoch]; !ok {
			s.w.thresholdsAt[st.BestEpoch] = st.Thresholds
		}
	}
	if s.best == nil {
		var err error
		if s.best, err = snapshotVars(vs); err != nil {
			return err
		}
	}
	path := filepath.Join(dir, st.Weights)
	if err := s.best.load(path, only); err != nil {
		return err
	}
	s.written = st.Weights
	// Committed at the run's last commit: best.safetensors holds them.
	a, aerr := os.Stat(path)
	b, berr := os.Stat(filepath.Join(dir, "best.safetensors"))
	s.bestSaved = aerr == nil && berr == nil && os.SameFile(a, b)
	return nil
}

// tensors returns the saved tensors (still the snapshot's) by name, those
// only selects (nil: all).
func (s *varSnapshot) tensors(only func(string) bool) map[string]*ts.Tensor {
	out := map[string]*ts.Tensor{}
	for i, n := range s.names {
		if only == nil || only(n) {
			out[n] = s.saved[i]
		}
	}
	return out
}

// load copies the tensors of a safetensors file into the saved copies of
// the same names; every variable only selects (nil: all) must be there,
// of the same shape.
func (s *varSnapshot) load(path string, only func(string) bool) error {
	byName, _, err := weights.ReadSafetensors(path)
	if err != nil {
		return fmt.Errorf("finetune: resume: %w", err)
	}
	defer weights.DropAll(byName)
	return torch.WithoutGrad(func() error {
		for i, n := range s.names {
			if only != nil && !only(n) {
				continue
			}
			src, ok := byName[n]
			if !ok {
				return fmt.Errorf("finetune: resume: %s has no tensor %q", path, n)
			}
			if !slices.Equal(src.MustSize(), s.saved[i].MustSize()) {
				return fmt.Errorf("finetune: resume: %s: tensor %q has shape %v, the model %v", path, n, src.MustSize(), s.saved[i].MustSize())
			}
			s.saved[i].Copy_(src)
		}
		return nil
	})
}
