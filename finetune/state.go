package finetune

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/gtl-dev/gtl/vision/npy"
	"github.com/gtl-dev/gtl/vision/torch"
)

// trainerState is what a resumed run needs besides the weights.
type trainerState struct {
	Epoch    int    `json:"epoch"` // epochs completed
	Epochs   int    `json:"epochs"`
	Seed     uint64 `json:"seed"`
	RNGState []byte `json:"rng_state"` // libtorch's CPU generator
}

const (
	stateFile     = "trainer-state.json"
	optimizerFile = "optimizer.pt"
)

// saveState writes the optimiser state and the loop's position, each
// through a temporary file and a rename, optimiser first: a state file
// always describes an optimiser file at least as new.
func (t *Trainer) saveState(opt *torch.Optimizer, cfg Config, epoch int) error {
	if err := os.MkdirAll(t.StateDir, 0o755); err != nil {
		return fmt.Errorf("finetune: state: %w", err)
	}
	optPath := filepath.Join(t.StateDir, optimizerFile)
	if err := opt.Save(optPath + ".tmp"); err != nil {
		return err
	}
	if err := os.Rename(optPath+".tmp", optPath); err != nil {
		return fmt.Errorf("finetune: state: %w", err)
	}
	rng, err := torch.RNGState()
	if err != nil {
		return err
	}
	b, err := json.Marshal(trainerState{Epoch: epoch, Epochs: cfg.Epochs, Seed: cfg.Seed, RNGState: rng})
	if err != nil {
		return err
	}
	if err := npy.WriteFileAtomic(filepath.Join(t.StateDir, stateFile), b); err != nil {
		return fmt.Errorf("finetune: state: %w", err)
	}
	return nil
}

// restore loads the state saved by saveState and returns the number of
// epochs already done.
func (t *Trainer) restore(opt *torch.Optimizer, cfg Config) (int, error) {
	if t.StateDir == "" {
		return 0, fmt.Errorf("finetune: resume: no state folder")
	}
	p := filepath.Join(t.StateDir, stateFile)
	b, err := os.ReadFile(p)
	if err != nil {
		return 0, fmt.Errorf("finetune: resume: %w", err)
	}
	var st trainerState
	if err := json.Unmarshal(b, &st); err != nil {
		return 0, fmt.Errorf("finetune: resume: %s: %w", p, err)
	}
	if st.Seed != cfg.Seed || st.Epoch > cfg.Epochs {
		return 0, fmt.Errorf("finetune: resume: %s is from a run with seed %d after %d epochs; this run has seed %d and %d epochs", p, st.Seed, st.Epoch, cfg.Seed, cfg.Epochs)
	}
	if err := opt.Load(filepath.Join(t.StateDir, optimizerFile)); err != nil {
		return 0, err
	}
	if err := torch.SetRNGState(st.RNGState); err != nil {
		return 0, err
	}
	return st.Epoch, nil
}
