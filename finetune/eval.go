package finetune

import (
	"fmt"
	"math"
	"sort"

	"github.com/gtl-dev/gtl/vision/datasets"
	"github.com/gtl-dev/gtl/vision/torch"
)

// Report is an evaluation: top-1 and top-5 accuracy, accuracy per class,
// and the confusion matrix (rows: true class, columns: predicted class).
type Report struct {
	Classes    []string
	Top1, Top5 float64
	PerClass   []float64
	Confusion  [][]int
	Loss       float64
}

// Report evaluates m on data in eval mode without gradients.
func (t *Trainer) Report(m Model, data *datasets.Images) (*Report, error) {
	cfg, err := t.loop()
	if err != nil {
		return nil, err
	}
	if data == nil || data.Len() == 0 {
		return nil, fmt.Errorf("finetune: evaluate: empty data set")
	}
	return t.report(m, evalSet{n: data.Len(), batches: imageBatches(data, cfg), classes: data.Classes}, cfg.Batch)
}

// evalSet is a validation set: n items served by batches, labelled with
// classes.
type evalSet struct {
	n       int
	batches batcher
	classes []string
}

// report evaluates m on every item of data, in batches, in eval mode
// under inference mode (no autograd; batch norms folded).
func (t *Trainer) report(m Model, data evalSet, batchSize int) (*Report, error) {
	k := len(data.classes)
	r := &Report{Classes: data.classes, Confusion: make([][]int, k), PerClass: make([]float64, k)}
	for i := range r.Confusion {
		r.Confusion[i] = make([]int, k)
	}
	var top5, n int
	var loss float64
	order := make([]int, k)
	idx := make([]int, 0, batchSize)
	// In a data-parallel run each rank evaluates every world-th item (no
	// padding: no item counts twice) and the counts are summed.
	rank, world := t.world()
	err := t.worker().Inference(func() error {
		for start := rank; start < data.n; start += batchSize * world {
			idx = idx[:0]
			for i := start; i < min(start+batchSize*world, data.n); i += world {
				idx = append(idx, i)
			}
			x, y, err := data.batches(idx)
			if err != nil {
				return fmt.Errorf("finetune: evaluate images %d-%d: %w", start, start+len(idx)-1, err)
			}
			labels := y.Int64Values(true)
			logits, err := m.Forward(x, false)
			x.MustDrop()
			if err != nil {
				return fmt.Errorf("finetune: evaluate images %d-%d: %w", start, start+len(idx)-1, err)
			}
			vals := logits.Float64Values(true)
			for b := range idx {
				row := vals[b*k : (b+1)*k]
				for j := range order {
					order[j] = j
				}
				sort.SliceStable(order, func(a, c int) bool { return row[order[a]] > row[order[c]] })
				truth := int(labels[b])
				r.Confusion[truth][order[0]]++
				for _, j := range order[:min(5, k)] {
					if j == truth {
						top5++
					}
				}
				loss += crossEntropy(row, truth)
				n++
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if t.Dist != nil {
		if err := t.reduceReport(r, &top5, &n, &loss); err != nil {
			return nil, err
		}
	}
	correct := 0
	for c := range r.Confusion {
		total := 0
		for _, v := range r.Confusion[c] {
			total += v
		}
		correct += r.Confusion[c][c]
		if total > 0 {
			r.PerClass[c] = float64(r.Confusion[c][c]) / float64(total)
		}
	}
	r.Top1, r.Top5, r.Loss = float64(correct)/float64(n), float64(top5)/float64(n), loss/float64(n)
	return r, nil
}

// crossEntropy of one row of logits against the true class.
func crossEntropy(row []float64, truth int) float64 {
	m := row[0]
	for _, v := range row {
		m = max(m, v)
	}
	var s float64
	for _, v := range row {
		s += math.Exp(v - m)
	}
	return m + math.Log(s) - row[truth]
}

// reduceReport sums the confusion matrices, top-5 hits, item counts and
// losses of every rank's share of an evaluation.
func (t *Trainer) reduceReport(r *Report, top5, n *int, loss *float64) error {
	k := len(r.Confusion)
	vals := make([]float64, 0, k*k+3)
	for _, row := range r.Confusion {
		for _, v := range row {
			vals = append(vals, float64(v))
		}
	}
	vals = append(vals, float64(*top5), float64(*n), *loss)
	if err := t.Dist.AllReduceFloat64(vals, torch.ReduceSum); err != nil {
		return fmt.Errorf("finetune: evaluate: %w", err)
	}
	for i, row := range r.Confusion {
		for j := range row {
			row[j] = int(vals[i*k+j])
		}
	}
	*top5, *n, *loss = int(vals[k*k]), int(vals[k*k+1]), vals[k*k+2]
	return nil
}
