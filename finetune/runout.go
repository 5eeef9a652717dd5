package finetune

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/sugarme/gotch/ts"

	"github.com/gtl-dev/gtl/chart"
	"github.com/gtl-dev/gtl/npy"
	"github.com/gtl-dev/gtl/torch"
	"github.com/gtl-dev/gtl/vision"
	"github.com/gtl-dev/gtl/vision/datasets"
)

// runWriter writes a run's outputs to its folder: config.json at the
// start, metrics after every epoch, the last and best checkpoints when the
// trainer commits its state (see checkpointer), the final model's
// confusion matrix and the curves at the end.
//
// Writes follow what changed: best.safetensors only when the validation
// accuracy improved, and only at a commit (an improvement in an epoch that
// does not commit is kept in memory until the next one: the tensors only
// (saveOnly) selects, with cached features the head's); last.safetensors
// at epoch-end commits; a file that would hold the same bytes as one just
// written is a hard link to it.
type runWriter struct {
	dir     string
	jf, cf  *os.File
	cw      *csv.Writer
	meta    vision.CheckpointMeta
	release func() // the folder's lock (LockOut)

	m        *vision.Model
	epochNum int                    // the epoch just ended
	only     func(name string) bool // the variables that change (nil: all)
	improved bool                   // the epoch just ended has the best accuracy so far
	kept     map[string]*ts.Tensor  // an earlier epoch's best, not written yet (owned)
	keptTh   []float64              // the multi-label thresholds of the kept weights
	early    *earlyStopper          // the run's early stopping (nil: none): the final epoch's line records it
	// thresholdsAt holds each validated epoch's multi-label thresholds.
	thresholdsAt map[int][]float64
}

// newRunWriter claims dir (LockOut: refused when another process writes
// there, or when it holds an earlier run and neither o.Resume nor
// o.Overwrite is set; Overwrite removes that run's files) and starts
// the outputs: config.json, metrics.jsonl and metrics.csv, or, when
// resuming, appends to the metrics and returns the best validation
// accuracy so far (-1: none). close releases the folder.
func newRunWriter(dir string, o OutOptions, rc RunConfig) (w *runWriter, best float64, err error) {
	resume := o.Resume
	release, err := LockOut(dir, o)
	if err != nil {
		return nil, 0, err
	}
	defer func() {
		if err != nil {
			release()
		}
	}()
	// Class names that are not valid UTF-8 are written escaped, as the
	// checkpoints' own list (datasets.EscapeName), not replaced by U+FFFD.
	written := rc
	written.Classes = datasets.EscapeNames(rc.Classes)
	train := map[string]any{}
	b, err := json.Marshal(written)
	if err == nil {
		err = json.Unmarshal(b, &train)
	}
	if err != nil {
		return nil, 0, err
	}
	if !resume {
		if err := WriteJSON(filepath.Join(dir, "config.json"), written); err != nil {
			return nil, 0, err
		}
	}
	best = -1.0
	flags := os.O_CREATE | os.O_WRONLY | os.O_TRUNC
	if resume {
		flags = os.O_CREATE | os.O_WRONLY | os.O_APPEND
		if best, err = trimMetrics(dir); err != nil {
			return nil, 0, err
		}
	}
	jf, err := os.OpenFile(filepath.Join(dir, "metrics.jsonl"), flags, 0o644)
	if err != nil {
		return nil, 0, err
	}
	cf, err := os.OpenFile(filepath.Join(dir, "metrics.csv"), flags, 0o644)
	if err != nil {
		jf.Close()
		return nil, 0, err
	}
	w = &runWriter{dir: dir, jf: jf, cf: cf, cw: csv.NewWriter(cf), release: release, meta: vision.CheckpointMeta{Classes: rc.Classes, Train: train,
		Preprocess: vision.Preprocess{CropSize: rc.Spec.Data.ImageSize, ResizeSize: rc.Spec.Data.ImageSize, Filter: "bilinear", Mean: [3]float32{0.485, 0.456, 0.406}, Std: [3]float32{0.229, 0.224, 0.225}}}}
	if rc.Spec.Data.MultiLabel {
		w.meta.MultiLabel, w.meta.Thresholds = true, checkpointThresholds(dir, resume, rc)
	}
	if !resume {
		// Written now: a run killed before its first epoch ends may have
		// committed a state inside it, and its resumption appends.
		_ = w.cw.Write(metricsHeader)
		w.cw.Flush()
	}
	return w, best, nil
}

// metricsHeader is metrics.csv's first line.
var metricsHeader = []string{"epoch", "train_loss", "val_loss", "val_accuracy", "seconds"}

// trimMetrics drops from the metrics of the run in dir the epochs after
// the committed one (a process killed between an epoch's checkpoint and
// its commit wrote them; the resumed run redoes that epoch) and returns
// the best validation accuracy of those kept (-1: none).
func trimMetrics(dir string) (float64, error) {
	done, err := CommittedEpoch(dir)
	if err != nil {
		return 0, err
	}
	best := -1.0
	jp := filepath.Join(dir, "metrics.jsonl")
	if b, err := os.ReadFile(jp); err == nil {
		var kept strings.Builder
		for _, line := range strings.Split(string(b), "\n") {
			var r struct {
				Epoch       int      `json:"epoch"`
				ValAccuracy *float64 `json:"val_accuracy"`
			}
			if json.Unmarshal([]byte(line), &r) != nil || r.Epoch > done {
				continue // a torn last line, or an epoch not committed
			}
			if r.ValAccuracy != nil {
				best = max(best, *r.ValAccuracy)
			}
			kept.WriteString(line + "\n")
		}
		if kept.Len() != len(b) {
			if err := npy.WriteFileAtomic(jp, []byte(kept.String())); err != nil {
				return 0, err
			}
		}
	}
	cp := filepath.Join(dir, "metrics.csv")
	if b, err := os.ReadFile(cp); err == nil {
		var kept strings.Builder
		if !strings.HasPrefix(string(b), "epoch,") { // killed before the header reached the file
			kept.WriteString(strings.Join(metricsHeader, ",") + "\n")
		}
		for i, line := range strings.Split(string(b), "\n") {
			head, _, _ := strings.Cut(line, ",")
			e, err := strconv.Atoi(head)
			if (i == 0 && head == "epoch") || (err == nil && e <= done && strings.Count(line, ",") == 4) {
				kept.WriteString(line + "\n")
			}
		}
		if kept.Len() != len(b) {
			if err := npy.WriteFileAtomic(cp, []byte(kept.String())); err != nil {
				return 0, err
			}
		}
	}
	return best, nil
}

// testHookAfterLast, when set (by tests), runs right after an epoch's
// last.safetensors is written.
var testHookAfterLast func(epoch int)

// epoch appends e to the metrics and notes whether e beats *best (which
// it then updates); the checkpoints follow in epochEnd.
func (w *runWriter) epoch(e Epoch, best *float64) error {
	num := func(v float64) any {
		if math.IsNaN(v) {
			return nil
		}
		return v
	}
	rec := map[string]any{"epoch": e.Epoch, "train_loss": e.TrainLoss, "val_loss": num(e.ValLoss), "val_accuracy": num(e.ValAccuracy),
		"val_balanced_accuracy": num(e.ValBalancedAccuracy), "val_macro_f1": num(e.ValMacroF1), "seconds": e.Duration.Seconds()}
	if ml := e.ValMultiLabel; ml != nil { // val_accuracy is the mAP
		rec["val_map"], rec["val_micro_f1"], rec["val_sample_f1"] = num(ml.MAP), ml.MicroF1, ml.SampleF1
	}
	if es := w.early.final(e.Epoch); es != nil {
		rec["early_stopping"] = es
	}
	b, _ := json.Marshal(rec)
	if _, err := w.jf.Write(append(b, '\n')); err != nil {
		return err
	}
	if err := w.cw.Write([]string{strconv.Itoa(e.Epoch), fmt.Sprint(e.TrainLoss), fmt.Sprint(e.ValLoss), fmt.Sprint(e.ValAccuracy), fmt.Sprint(e.Duration.Seconds())}); err != nil {
		return err
	}
	w.cw.Flush()
	if err := w.cw.Error(); err != nil {
		return err
	}
	w.improved = e.ValAccuracy > *best
	if w.improved {
		*best = e.ValAccuracy
	}
	w.epochNum = e.Epoch
	return nil
}

// epochEnd writes the checkpoints of the epoch just ended (see
// checkpointer): with commit, the last checkpoint and, when the epoch
// improved, the best one (a link to the last); without, it only keeps an
// improved epoch's tensors for the next commit.
func (w *runWriter) epochEnd(commit bool) error {
	if !commit {
		if w.improved {
			return w.keep()
		}
		return nil
	}
	last := filepath.Join(w.dir, "last.safetensors")
	if err := w.m.SaveCheckpoint(last, w.meta); err != nil {
		return err
	}
	if testHookAfterLast != nil {
		testHookAfterLast(w.epochNum)
	}
	if w.improved {
		w.drop() // superseded
		w.improved = false
		return linkCheckpoint(last, filepath.Join(w.dir, "best.safetensors"), func(p string) error { return w.m.SaveCheckpoint(p, w.meta) })
	}
	return w.flush()
}

// keep copies the tensors that change (only) of the model, which holds an
// improved epoch's weights, replacing an earlier copy.
func (w *runWriter) keep() error {
	w.drop()
	w.kept, w.keptTh = map[string]*ts.Tensor{}, w.meta.Thresholds
	return torch.WithoutGrad(func() error {
		for name, v := range w.m.VS.Variables() {
			if w.only != nil && !w.only(name) {
				continue
			}
			c, err := v.ZerosLike(false)
			if err != nil {
				return fmt.Errorf("finetune: keep the best weights: %s: %w", name, err)
			}
			c.Copy_(&v)
			w.kept[name] = c
		}
		return nil
	})
}

// flush writes the kept best weights as best.safetensors: the model's
// other tensors are the same as then (only selects all that change).
func (w *runWriter) flush() error {
	if w.kept == nil {
		return nil
	}
	defer w.drop()
	vars := w.m.VS.Variables()
	live := map[string]*ts.Tensor{}
	swap := func() error { // exchanges the model's tensors and the kept ones
		return torch.WithoutGrad(func() error {
			for name, k := range w.kept {
				v := vars[name]
				if live[name] == nil {
					c, err := v.ZerosLike(false)
					if err != nil {
						return err
					}
					live[name] = c
				}
				live[name].Copy_(&v)
				v.Copy_(k)
				k.Copy_(live[name])
			}
			return nil
		})
	}
	defer func() {
		for _, c := range live {
			c.MustDrop()
		}
	}()
	if err := swap(); err != nil {
		return fmt.Errorf("finetune: best weights: %w", err)
	}
	meta := w.meta
	meta.Thresholds = w.keptTh
	err := w.m.SaveCheckpoint(filepath.Join(w.dir, "best.safetensors"), meta)
	if serr := swap(); serr != nil && err == nil {
		err = fmt.Errorf("finetune: best weights: %w", serr)
	}
	return err
}

func (w *runWriter) drop() {
	for _, k := range w.kept {
		k.MustDrop()
	}
	w.kept = nil
}

// lastCheckpoint is the checkpoint epochEnd wrote at a commit, whose
// tensors are the model's: the trainer's state links its weights to it.
func (w *runWriter) lastCheckpoint() string { return filepath.Join(w.dir, "last.safetensors") }

// linkCheckpoint makes dst (and its description, MetaPath) a copy of the
// checkpoint src: a hard link, replacing dst atomically, or, where the
// file system has none, write(dst).
func linkCheckpoint(src, dst string, write func(dst string) error) error {
	if err := linkAtomic(src, dst); err != nil {
		return write(dst)
	}
	if err := linkAtomic(vision.MetaPath(src), vision.MetaPath(dst)); err != nil {
		return write(dst)
	}
	return nil
}

// linkAtomic replaces dst with a hard link to src (through a temporary
// name and a rename, so that dst is never missing or partial).
func linkAtomic(src, dst string) error {
	tmp := filepath.Join(filepath.Dir(dst), "."+filepath.Base(dst)+".tmp-link") // a temporary name RunFiles knows
	_ = os.Remove(tmp)
	if err := os.Link(src, tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, dst); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	return nil
}

// finish writes the final model's confusion matrix (CSV and PNG) and the
// training curves.
func (w *runWriter) finish(arch string, r *Report, res *Result) error {
	if r.MultiLabel != nil { // no confusion matrix: per-class numbers instead
		if err := WriteMultiLabelCSV(filepath.Join(w.dir, "per_class.csv"), r.MultiLabel); err != nil {
			return err
		}
		return plotCurves(filepath.Join(w.dir, "curves.png"), res)
	}
	if err := WriteConfusionCSV(filepath.Join(w.dir, "confusion.csv"), r); err != nil {
		return err
	}
	n := 0
	for _, row := range r.Confusion {
		for _, v := range row {
			n += v
		}
	}
	if err := chart.Confusion(filepath.Join(w.dir, "confusion.png"), r.Confusion, datasets.EscapeNames(r.Classes), fmt.Sprintf("%s on %d validation images", arch, n)); err != nil {
		return err
	}
	return plotCurves(filepath.Join(w.dir, "curves.png"), res)
}

func (w *runWriter) close() {
	if w.kept != nil {
		_ = torch.Do(func() error { w.drop(); return nil })
	}
	w.cw.Flush()
	w.jf.Close()
	w.cf.Close()
	w.release()
}

// WriteJSON writes v as indented JSON to path, atomically.
func WriteJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return npy.WriteFileAtomic(path, append(b, '\n'))
}

// WriteConfusionCSV writes a report's confusion matrix (rows: true class,
// columns: predicted, with the class names, escaped as datasets.EscapeName
// does) to path, atomically.
func WriteConfusionCSV(path string, r *Report) error {
	var b strings.Builder
	cw := csv.NewWriter(&b)
	_ = cw.Write(append([]string{"true\\predicted"}, datasets.EscapeNames(r.Classes)...))
	for i, row := range r.Confusion {
		rec := []string{datasets.EscapeName(r.Classes[i])}
		for _, v := range row {
			rec = append(rec, strconv.Itoa(v))
		}
		_ = cw.Write(rec)
	}
	cw.Flush()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return npy.WriteFileAtomic(path, []byte(b.String()))
}
