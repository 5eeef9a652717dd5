package finetune

import (
	"fmt"
	"reflect"
	"sort"

	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"

	"github.com/gtl-dev/gtl/torch"
	"github.com/gtl-dev/gtl/weights"
)

// ema keeps an exponential moving average of a model's tensors (weights
// and batch-norm statistics, as timm's ModelEmaV2): after every step
// shadow ← shadow + (1-d)·(live - shadow), with the decay warmed up as
// d = min(decay, (1+t)/(10+t)) so that short runs are not dominated by the
// initial weights. Validation and the checkpoints of an epoch use the
// averaged weights (swap), training continues on the live ones.
type ema struct {
	decay  float64
	steps  int
	names  []string
	live   []*ts.Tensor // the model's own tensors (not owned)
	shadow []*ts.Tensor // owned
}

// emaFile ends the name of the file that holds, in a trainer's StateDir,
// the live (training) weights of a run with EMA (its checkpoints hold the
// averaged ones); see trainerState.
const emaFile = "train-weights.safetensors"

func newEMA(vs *nn.VarStore, decay float64) (*ema, error) {
	e := &ema{decay: decay}
	vars := vs.Variables()
	for name := range vars {
		e.names = append(e.names, name)
	}
	sort.Strings(e.names)
	err := torch.WithoutGrad(func() error {
		for _, name := range e.names {
			v := vars[name]
			s, err := v.ZerosLike(false)
			if err != nil {
				return fmt.Errorf("finetune: ema of %s: %w", name, err)
			}
			s.Copy_(&v)
			e.live = append(e.live, &v)
			e.shadow = append(e.shadow, s)
		}
		return nil
	})
	if err != nil {
		e.close()
		return nil, err
	}
	return e, nil
}

// update moves the average one step towards the live tensors.
func (e *ema) update() error {
	e.steps++
	d := min(e.decay, float64(1+e.steps)/float64(10+e.steps))
	w := ts.FloatScalar(1 - d)
	defer w.MustDrop()
	return torch.WithoutGrad(func() error {
		for i, s := range e.shadow {
			if k := s.DType().GoKind(); k != reflect.Float32 && k != reflect.Float64 {
				s.Copy_(e.live[i]) // counters such as num_batches_tracked
				continue
			}
			n, err := s.Lerp(e.live[i], w, false)
			if err != nil {
				return fmt.Errorf("finetune: ema of %s: %w", e.names[i], err)
			}
			s.MustDrop() // the new average replaces the old: no second full copy per step
			e.shadow[i] = n
		}
		return nil
	})
}

// swap exchanges the live and the averaged values; calling it twice
// restores both.
func (e *ema) swap() error {
	return torch.WithoutGrad(func() error {
		for i, s := range e.shadow {
			tmp, err := s.ZerosLike(false)
			if err != nil {
				return err
			}
			tmp.Copy_(e.live[i])
			e.live[i].Copy_(s)
			s.Copy_(tmp)
			tmp.MustDrop()
		}
		return nil
	})
}

// resume sets the live tensors to the training weights saved in path by
// saveState (the model holds the committed averaged ones, which newEMA
// copied into the shadow) and the step count. With only set, the tensors
// it does not select are left as they are (not trained: the file lacks
// them).
func (e *ema) resume(path string, steps int, only func(string) bool) error {
	byName, _, err := weights.ReadSafetensors(path)
	if err != nil {
		return fmt.Errorf("finetune: resume: %w", err)
	}
	defer weights.DropAll(byName)
	return torch.WithoutGrad(func() error {
		for i, n := range e.names {
			if only != nil && !only(n) {
				continue
			}
			t, ok := byName[n]
			if !ok {
				return fmt.Errorf("finetune: resume: %s has no tensor %q", path, n)
			}
			e.live[i].Copy_(t)
		}
		e.steps = steps
		return nil
	})
}

func (e *ema) close() {
	for _, s := range e.shadow {
		s.MustDrop()
	}
	e.shadow = nil
}
