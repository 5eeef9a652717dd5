package finetune

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"

	"github.com/gtl-dev/gtl/npy"
	"github.com/gtl-dev/gtl/torch"
	"github.com/gtl-dev/gtl/weights"
)

// trainerState is what a resumed run needs: the loop's position and random
// state, and the names (in the same folder) of the files that hold the
// weights, the optimiser's state and, with EMA, the live training weights
// at that position. Those files carry the position in their names and are
// written before the state file, whose atomic replacement is the commit
// point: a process killed anywhere before it leaves the previous state
// and its files intact, and one killed after it leaves the new ones
// complete.
//
// A state is committed at the end of an epoch (Step 0) or, with
// Trainer.CheckpointEvery or a stop requested through the context, after
// step Step of epoch Epoch+1 (mid-epoch): it then also holds what that
// epoch has accumulated (LossSum, Skipped, Seconds), so that the resumed
// epoch reports what the uninterrupted one would.
type trainerState struct {
	Epoch    int    `json:"epoch"`          // epochs completed
	Step     int    `json:"step,omitempty"` // steps of epoch Epoch+1 done (mid-epoch); 0 at an epoch's end
	Epochs   int    `json:"epochs"`
	Seed     uint64 `json:"seed"`
	RNGState []byte `json:"rng_state"` // libtorch's CPU generator
	// Weights, Optimizer and TrainWeights name the committed position's
	// files (TrainWeights only with EMA). States written before these
	// fields existed name none: the optimiser is then optimizer.pt, the
	// training weights train-weights.safetensors, and the weights are the
	// caller's.
	Weights      string `json:"weights,omitempty"`
	Optimizer    string `json:"optimizer,omitempty"`
	TrainWeights string `json:"train_weights,omitempty"`
	// EMASteps is the moving average's step count (0 in states written
	// before it was recorded: epochs × steps per epoch).
	EMASteps int `json:"ema_steps,omitempty"`
	// GradScaler is fp16's dynamic loss scale (nil without fp16).
	GradScaler *scalerState `json:"grad_scaler,omitempty"`
	// LossSum, Skipped and Seconds are the partial epoch's (Step > 0): the
	// sum of its batch losses, the images it left out, its training time.
	LossSum float64  `json:"loss_sum,omitempty"`
	Skipped []string `json:"skipped,omitempty"`
	Seconds float64  `json:"seconds,omitempty"`
	// EarlyStop is early stopping's state after the epochs completed (nil
	// without TrainSpec.Patience, and in states written before it was
	// recorded).
	EarlyStop *earlyStopState `json:"early_stopping,omitempty"`
}

// scalerState is gradScaler's state.
type scalerState struct {
	Scale float64 `json:"scale"`
	Good  int     `json:"good"`
}

const (
	stateFile     = "trainer-state.json"
	optimizerFile = "optimizer.pt" // before position-versioned names
	// stateFilePrefix starts the names of the position-versioned files the
	// state names: state-0003-weights.safetensors after epoch 3,
	// state-0003.0017-optimizer.pt after step 17 of epoch 4.
	stateFilePrefix = "state-"
)

// position is where the loop stands: epochs completed and steps of the
// next one done (0: at an epoch's end).
type position struct{ Epoch, Step int }

func stateFileName(p position, what string) string {
	if p.Step > 0 {
		return fmt.Sprintf("%s%04d.%04d-%s", stateFilePrefix, p.Epoch, p.Step, what)
	}
	return fmt.Sprintf("%s%04d-%s", stateFilePrefix, p.Epoch, what)
}

// partialEpoch is what an unfinished epoch has accumulated (see
// trainerState).
type partialEpoch struct {
	LossSum float64
	Skipped []string
	Seconds float64
}

// checkpointer writes what a run keeps beside the trainer's state (the
// last and best checkpoints, see runWriter). Its methods run on the torch
// thread.
type checkpointer interface {
	// epochEnd follows an epoch's hooks, with the model as they saw it
	// (the average, with EMA). commit says that the trainer commits its
	// state right after: the checkpoints must then agree with the metrics
	// written so far; otherwise they may wait.
	epochEnd(commit bool) error
	// flush writes what epochEnd let wait, before a mid-epoch commit (the
	// model is then mid-epoch: only what was kept aside is written).
	flush() error
	// lastCheckpoint is the checkpoint that epochEnd(true) wrote, which
	// holds the model's tensors (those of the state's weights file).
	lastCheckpoint() string
}

// saveState commits pos: it writes the weights (the average with EMA: at
// an epoch's end the model holds it, swapped says so; mid-epoch the
// average is avg's), the optimiser's state, the loss scale and, with avg,
// the live training weights under names that carry pos, then replaces the
// state file that names them (atomically: the commit), then removes the
// files of older positions. With saveOnly set (a run that trains only the
// head on cached features) only the variables it selects are written: the
// others are the source's, which a resumed run opens again.
func (t *Trainer) saveState(st *Stepper, vs *nn.VarStore, avg *ema, cfg loop, pos position, part partialEpoch, swapped bool) error {
	if err := os.MkdirAll(t.StateDir, 0o755); err != nil {
		return fmt.Errorf("finetune: state: %w", err)
	}
	state := trainerState{Epoch: pos.Epoch, Step: pos.Step, Epochs: cfg.Epochs, Seed: cfg.Seed,
		Weights: stateFileName(pos, "weights.safetensors"), Optimizer: stateFileName(pos, "optimizer.pt")}
	if pos.Step > 0 {
		state.LossSum, state.Skipped, state.Seconds = part.LossSum, part.Skipped, part.Seconds
	}
	if st.scaler != nil {
		state.GradScaler = &scalerState{Scale: st.scaler.scale, Good: st.scaler.good}
	}
	model := map[string]*ts.Tensor{} // the model's tensors now
	for name, v := range vs.Variables() {
		if t.saveOnly == nil || t.saveOnly(name) {
			model[name] = &v
		}
	}
	weightsOf, train := model, map[string]*ts.Tensor(nil)
	if avg != nil {
		state.EMASteps = avg.steps
		shadow := map[string]*ts.Tensor{}
		for i, n := range avg.names {
			if _, ok := model[n]; ok {
				shadow[n] = avg.shadow[i]
			}
		}
		if swapped { // the model holds the average, the shadow the live weights
			train = shadow
		} else {
			weightsOf, train = shadow, model
		}
		state.TrainWeights = stateFileName(pos, emaFile)
	}
	wpath := filepath.Join(t.StateDir, state.Weights)
	// At an epoch's end the run's last checkpoint, just written, holds
	// the same tensors: the weights file is a link to it where it can be.
	if !swapped || t.saveOnly != nil || t.checkpoints == nil || linkAtomic(t.checkpoints.lastCheckpoint(), wpath) != nil {
		if err := weights.WriteSafetensors(wpath, weightsOf, nil); err != nil {
			return fmt.Errorf("finetune: state: %w", err)
		}
	}
	optPath := filepath.Join(t.StateDir, state.Optimizer)
	if err := st.opt.Save(optPath + ".tmp"); err != nil {
		return err
	}
	if err := os.Rename(optPath+".tmp", optPath); err != nil {
		return fmt.Errorf("finetune: state: %w", err)
	}
	if train != nil {
		if err := weights.WriteSafetensors(filepath.Join(t.StateDir, state.TrainWeights), train, nil); err != nil {
			return fmt.Errorf("finetune: state: %w", err)
		}
	}
	if t.early != nil {
		es, err := t.early.commit(t.StateDir, pos, state.Weights, t.saveOnly)
		if err != nil {
			return err
		}
		state.EarlyStop = es
	}
	rng, err := torch.RNGState()
	if err != nil {
		return err
	}
	state.RNGState = rng
	b, err := json.Marshal(state)
	if err != nil {
		return err
	}
	if testHookBeforeCommit != nil {
		testHookBeforeCommit(pos.Epoch)
	}
	if err := npy.WriteFileAtomic(filepath.Join(t.StateDir, stateFile), b); err != nil {
		return fmt.Errorf("finetune: state: %w", err)
	}
	if testHookAfterCommit != nil {
		testHookAfterCommit(pos)
	}
	removeStaleState(t.StateDir, state)
	return nil
}

// removeStaleState removes the state files that st does not name: those
// of older epochs, of an epoch whose commit was interrupted, and the
// unversioned ones of earlier versions. Failures only leave files behind.
func removeStaleState(dir string, st trainerState) {
	keep := map[string]bool{st.Weights: true, st.Optimizer: true, st.TrainWeights: true}
	if st.EarlyStop != nil {
		keep[st.EarlyStop.Weights] = true
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		n := e.Name()
		if keep[n] || e.IsDir() {
			continue
		}
		if strings.HasPrefix(n, stateFilePrefix) || n == optimizerFile || n == emaFile || n == optimizerFile+".tmp" {
			_ = os.Remove(filepath.Join(dir, n))
		}
	}
}

// readState reads the committed state in dir.
func readState(dir string) (trainerState, error) {
	var st trainerState
	p := filepath.Join(dir, stateFile)
	b, err := os.ReadFile(p)
	if err != nil {
		return st, fmt.Errorf("finetune: resume: %w", err)
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("finetune: resume: %s: %w", p, err)
	}
	names := []string{st.Weights, st.Optimizer, st.TrainWeights}
	if st.EarlyStop != nil {
		names = append(names, st.EarlyStop.Weights)
	}
	for _, n := range names {
		if n != "" && (filepath.Base(n) != n || n == "." || n == "..") {
			return st, fmt.Errorf("finetune: resume: %s: file name %q is not in the run's folder", p, n)
		}
	}
	return st, nil
}

// CommittedEpoch returns the number of epochs whose state the run folder
// dir has committed (trainer-state.json), that a resumed run continues
// after. Errors: no state, or an unreadable one.
func CommittedEpoch(dir string) (int, error) {
	st, err := readState(dir)
	return st.Epoch, err
}

// restore loads the state committed by saveState: the weights into vs
// (whatever the caller loaded; with saveOnly, those it selects), the
// optimiser's state, the loss scale and the random state. It returns the
// state (Epoch: the epochs already done; Step: the steps of the next).
func (t *Trainer) restore(stp *Stepper, vs *nn.VarStore, cfg loop) (trainerState, error) {
	opt := stp.opt
	if t.StateDir == "" {
		return trainerState{}, fmt.Errorf("finetune: resume: no state folder")
	}
	st, err := readState(t.StateDir)
	if err != nil {
		return st, err
	}
	p := filepath.Join(t.StateDir, stateFile)
	if st.Seed != cfg.Seed || st.Epoch > cfg.Epochs {
		return st, fmt.Errorf("finetune: resume: %s is from a run with seed %d after %d epochs; this run has seed %d and %d epochs", p, st.Seed, st.Epoch, cfg.Seed, cfg.Epochs)
	}
	if st.Weights != "" {
		if err := loadVars(vs, filepath.Join(t.StateDir, st.Weights), t.saveOnly); err != nil {
			return st, err
		}
	}
	optName := st.Optimizer
	if optName == "" {
		optName = optimizerFile
	}
	if err := opt.Load(filepath.Join(t.StateDir, optName)); err != nil {
		return st, err
	}
	if err := torch.SetRNGState(st.RNGState); err != nil {
		return st, err
	}
	if sc := st.GradScaler; sc != nil && stp.scaler != nil {
		stp.scaler.scale, stp.scaler.good = sc.Scale, sc.Good
	}
	return st, nil
}

// loadVars copies the tensors of a safetensors file into the variables of
// vs of the same names; every variable (that only selects, when set) must
// be there.
func loadVars(vs *nn.VarStore, path string, only func(string) bool) error {
	byName, _, err := weights.ReadSafetensors(path)
	if err != nil {
		return fmt.Errorf("finetune: resume: %w", err)
	}
	defer weights.DropAll(byName)
	vars := vs.Variables()
	return torch.WithoutGrad(func() error {
		for name, v := range vars {
			if only != nil && !only(name) {
				continue
			}
			src, ok := byName[name]
			if !ok {
				return fmt.Errorf("finetune: resume: %s has no tensor %q", path, name)
			}
			if !slices.Equal(src.MustSize(), v.MustSize()) {
				return fmt.Errorf("finetune: resume: %s: tensor %q has shape %v, the model %v", path, name, src.MustSize(), v.MustSize())
			}
			v.Copy_(src)
		}
		return nil
	})
}

// testHookBeforeCommit, when set (by tests), runs after a state's files
// are written and before the state file commits them (with the epochs
// completed); testHookAfterCommit right after the commit.
var (
	testHookBeforeCommit func(epoch int)
	testHookAfterCommit  func(pos position)
)
