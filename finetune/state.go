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
// of the committed epoch. Those files carry the epoch in their names and
// are written before the state file, whose atomic replacement is the
// commit point of an epoch: a process killed anywhere before it leaves the
// previous epoch's state and files intact, and one killed after it leaves
// the new ones complete.
type trainerState struct {
	Epoch    int    `json:"epoch"` // epochs completed
	Epochs   int    `json:"epochs"`
	Seed     uint64 `json:"seed"`
	RNGState []byte `json:"rng_state"` // libtorch's CPU generator
	// Weights, Optimizer and TrainWeights name the committed epoch's files
	// (TrainWeights only with EMA). States written before these fields
	// existed name none: the optimiser is then optimizer.pt, the training
	// weights train-weights.safetensors, and the weights are the caller's.
	Weights      string `json:"weights,omitempty"`
	Optimizer    string `json:"optimizer,omitempty"`
	TrainWeights string `json:"train_weights,omitempty"`
}

const (
	stateFile     = "trainer-state.json"
	optimizerFile = "optimizer.pt" // before epoch-versioned names
	// stateFilePrefix starts the names of the epoch-versioned files the
	// state names: state-0003-weights.safetensors, state-0003-optimizer.pt,
	// state-0003-train-weights.safetensors.
	stateFilePrefix = "state-"
)

func stateFileName(epoch int, what string) string {
	return fmt.Sprintf("%s%04d-%s", stateFilePrefix, epoch, what)
}

// saveState commits epoch: it writes the weights of vs (as the hooks saw
// them: the average with EMA), the optimiser's state and, with avg, the
// live training weights under names that carry the epoch, then replaces
// the state file that names them (atomically: the commit), then removes
// the files of older epochs. Call it while avg is swapped (the model holds
// the average).
func (t *Trainer) saveState(opt *torch.Optimizer, vs *nn.VarStore, avg *ema, cfg loop, epoch int) error {
	if err := os.MkdirAll(t.StateDir, 0o755); err != nil {
		return fmt.Errorf("finetune: state: %w", err)
	}
	st := trainerState{Epoch: epoch, Epochs: cfg.Epochs, Seed: cfg.Seed,
		Weights: stateFileName(epoch, "weights.safetensors"), Optimizer: stateFileName(epoch, "optimizer.pt")}
	vars := vs.Variables()
	named := make(map[string]*ts.Tensor, len(vars))
	for name, v := range vars {
		named[name] = &v
	}
	if err := weights.WriteSafetensors(filepath.Join(t.StateDir, st.Weights), named, nil); err != nil {
		return fmt.Errorf("finetune: state: %w", err)
	}
	optPath := filepath.Join(t.StateDir, st.Optimizer)
	if err := opt.Save(optPath + ".tmp"); err != nil {
		return err
	}
	if err := os.Rename(optPath+".tmp", optPath); err != nil {
		return fmt.Errorf("finetune: state: %w", err)
	}
	if avg != nil {
		st.TrainWeights = stateFileName(epoch, emaFile)
		if err := avg.saveSwapped(filepath.Join(t.StateDir, st.TrainWeights)); err != nil {
			return err
		}
	}
	rng, err := torch.RNGState()
	if err != nil {
		return err
	}
	st.RNGState = rng
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	if testHookBeforeCommit != nil {
		testHookBeforeCommit(epoch)
	}
	if err := npy.WriteFileAtomic(filepath.Join(t.StateDir, stateFile), b); err != nil {
		return fmt.Errorf("finetune: state: %w", err)
	}
	removeStaleState(t.StateDir, st)
	return nil
}

// removeStaleState removes the state files that st does not name: those
// of older epochs, of an epoch whose commit was interrupted, and the
// unversioned ones of earlier versions. Failures only leave files behind.
func removeStaleState(dir string, st trainerState) {
	keep := map[string]bool{st.Weights: true, st.Optimizer: true, st.TrainWeights: true}
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
	for _, n := range []string{st.Weights, st.Optimizer, st.TrainWeights} {
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
// (whatever the caller loaded), the optimiser's state and the random
// state. It returns the state (Epoch: the epochs already done).
func (t *Trainer) restore(opt *torch.Optimizer, vs *nn.VarStore, cfg loop) (trainerState, error) {
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
		if err := loadVars(vs, filepath.Join(t.StateDir, st.Weights)); err != nil {
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
	return st, nil
}

// loadVars copies the tensors of a safetensors file into the variables of
// vs of the same names; every variable must be there.
func loadVars(vs *nn.VarStore, path string) error {
	byName, _, err := weights.ReadSafetensors(path)
	if err != nil {
		return fmt.Errorf("finetune: resume: %w", err)
	}
	defer weights.DropAll(byName)
	vars := vs.Variables()
	return torch.WithoutGrad(func() error {
		for name, v := range vars {
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

// testHookBeforeCommit, when set (by tests), runs after the epoch's state
// files are written and before the state file commits them.
var testHookBeforeCommit func(epoch int)
