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

	"github.com/gtl-dev/gtl/chart"
	"github.com/gtl-dev/gtl/npy"
	"github.com/gtl-dev/gtl/vision"
	"github.com/gtl-dev/gtl/vision/datasets"
)

// runWriter writes a run's outputs to its folder: config.json at the
// start, metrics and checkpoints after every epoch, the final model's
// confusion matrix and the curves at the end.
type runWriter struct {
	dir     string
	jf, cf  *os.File
	cw      *csv.Writer
	meta    vision.CheckpointMeta
	release func() // the folder's lock (LockOut)
}

// newRunWriter claims dir (LockOut: refused when another process writes
// there, or when it holds an earlier run and resume is not set) and starts
// the outputs: config.json, metrics.jsonl and metrics.csv, or, when
// resuming, appends to the metrics and returns the best validation
// accuracy so far (-1: none). close releases the folder.
func newRunWriter(dir string, resume bool, rc RunConfig) (w *runWriter, best float64, err error) {
	release, err := LockOut(dir, OutOptions{Resume: resume})
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
	if !resume {
		_ = w.cw.Write([]string{"epoch", "train_loss", "val_loss", "val_accuracy", "seconds"})
	}
	return w, best, nil
}

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

// epoch appends e to the metrics and saves the last checkpoint, and the
// best one when e beats *best.
func (w *runWriter) epoch(m *vision.Model, e Epoch, best *float64) error {
	num := func(v float64) any {
		if math.IsNaN(v) {
			return nil
		}
		return v
	}
	b, _ := json.Marshal(map[string]any{"epoch": e.Epoch, "train_loss": e.TrainLoss, "val_loss": num(e.ValLoss), "val_accuracy": num(e.ValAccuracy),
		"val_balanced_accuracy": num(e.ValBalancedAccuracy), "val_macro_f1": num(e.ValMacroF1), "seconds": e.Duration.Seconds()})
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
	if err := m.SaveCheckpoint(filepath.Join(w.dir, "last.safetensors"), w.meta); err != nil {
		return err
	}
	if testHookAfterLast != nil {
		testHookAfterLast(e.Epoch)
	}
	if e.ValAccuracy > *best {
		*best = e.ValAccuracy
		if err := m.SaveCheckpoint(filepath.Join(w.dir, "best.safetensors"), w.meta); err != nil {
			return err
		}
	}
	return nil
}

// finish writes the final model's confusion matrix (CSV and PNG) and the
// training curves.
func (w *runWriter) finish(arch string, r *Report, res *Result) error {
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
