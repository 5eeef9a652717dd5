package finetune

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/gtl-dev/gtl/internal/outdir"
)

// OutOptions says what a run may do with an output folder that holds an
// earlier run.
type OutOptions struct {
	// Resume continues the earlier run; default false.
	Resume bool
	// Overwrite replaces it: its files (RunFiles) are removed before the
	// run writes anything; other files are left alone. Default false: a
	// folder holding an earlier run is refused.
	Overwrite bool
}

// LockOut claims the folder dir (created when missing) for a training run:
// it takes the folder's exclusive lock, so that no other process writes
// there while the run does, and checks what the folder holds. A folder
// that another process holds is refused with an error that names its PID
// (wrapping an *outdir.InUseError). A folder that holds an earlier run is
// refused unless o.Resume (continue it) or o.Overwrite (its files are
// removed), with an error that says what is there and these choices. The
// errors are *FieldError on Out. It returns the function that releases the
// lock; the kernel also drops it when the process ends, however it ends.
func LockOut(dir string, o OutOptions) (release func(), err error) {
	if o.Resume && o.Overwrite {
		return nil, FieldErrorf("Overwrite", "{Resume} continues the run in {Out} and {Overwrite} replaces it: choose one")
	}
	unlock, err := outdir.Dir(dir, "gtl train")
	if err != nil {
		if iu := (*outdir.InUseError)(nil); errors.As(err, &iu) {
			return nil, FieldErrorf("Out", "{Out} %w: wait for it to end, or choose another {Out}", iu)
		}
		return nil, FieldErrorf("Out", "{Out} %s: %w", dir, err)
	}
	defer func() {
		if err != nil {
			unlock()
		}
	}()
	files, err := RunFiles(dir)
	if err != nil {
		return nil, FieldErrorf("Out", "{Out} %s: %w", dir, err)
	}
	switch {
	case len(files) == 0 || o.Resume: // Resume: Resolve checked there is a run to continue
		return unlock, nil
	case o.Overwrite:
		for _, f := range files {
			if err := os.Remove(filepath.Join(dir, f)); err != nil && !os.IsNotExist(err) {
				return nil, FieldErrorf("Overwrite", "{Overwrite}: remove the earlier run's %w", err)
			}
		}
		return unlock, nil
	}
	choices := "{Overwrite} replaces it (removes " + strings.Join(files, ", ") + "), or choose another {Out}"
	if has(files, stateFile) {
		choices = "{Resume} continues it, " + choices
	}
	return nil, FieldErrorf("Out", "{Out} %s holds an earlier run (%s): %s", dir, describeRun(dir), choices)
}

// RunFiles returns the names of the files in dir that a training run
// writes there (config, metrics, checkpoints, trainer state, plots, and
// the temporary files of an interrupted write), sorted as a person reads
// them: config first, then metrics, checkpoints, state and plots.
func RunFiles(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if !e.IsDir() && runFileRank(e.Name()) >= 0 {
			out = append(out, e.Name())
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		ri, rj := runFileRank(out[i]), runFileRank(out[j])
		if ri != rj {
			return ri < rj
		}
		return out[i] < out[j]
	})
	return out, nil
}

// runFiles are the names a training run writes, in the order RunFiles
// lists them.
var runFiles = []string{"config.json", "metrics.jsonl", "metrics.csv", "last.safetensors", "last.json", "best.safetensors", "best.json",
	stateFile, optimizerFile, optimizerFile + ".tmp", emaFile, "confusion.csv", "confusion.png", "per_class.csv", "curves.png",
	lrFindCSV, lrFindPNG}

// runFileRank returns where a run's file is listed (the epoch-versioned
// state files beside trainer-state.json, temporary files last), -1 for a
// name that is not a run's.
func runFileRank(name string) int {
	for i, n := range runFiles {
		if name == n {
			return 2 * i
		}
	}
	switch {
	case strings.HasPrefix(name, stateFilePrefix):
		return 2*slices.Index(runFiles, stateFile) + 1
	case strings.HasPrefix(name, "."+stateFilePrefix) && strings.Contains(name, ".tmp"): // a state file's temporary
		return 2 * len(runFiles)
	case strings.HasPrefix(name, ".") && strings.Contains(name, ".tmp"): // npy.WriteFileAtomic's
		for _, n := range runFiles {
			if strings.HasPrefix(name, "."+n+".tmp") {
				return 2 * len(runFiles)
			}
		}
	}
	return -1
}

// describeRun says in a few words which run dir holds: the model and
// data of its config.json, and the epochs its state has committed.
func describeRun(dir string) string {
	var parts []string
	var rc struct {
		Model string `json:"model"`
		Data  string `json:"data"`
	}
	if b, err := os.ReadFile(filepath.Join(dir, "config.json")); err == nil && json.Unmarshal(b, &rc) == nil && rc.Model != "" {
		parts = append(parts, fmt.Sprintf("%s on %s", rc.Model, rc.Data))
	}
	if st, err := readState(dir); err == nil {
		parts = append(parts, fmt.Sprintf("%d of %d epochs done", st.Epoch, st.Epochs))
	} else if _, err := os.Stat(filepath.Join(dir, stateFile)); os.IsNotExist(err) {
		parts = append(parts, "not resumable: no trainer-state.json")
	}
	if len(parts) == 0 {
		return "gtl train's files"
	}
	return strings.Join(parts, ", ")
}

func has(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
