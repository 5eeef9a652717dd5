package finetune

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/sugarme/gotch/ts"

	"github.com/gtl-dev/gtl/torch"
	"github.com/gtl-dev/gtl/vision"
)

// StageLRs returns discriminative learning rates for n stages (stem first,
// head last): the head gets lr and the stage k places below it lr·decay^k,
// as fastai's slice(lo, hi) and timm's layer decay do. decay 0 or 1 gives
// every stage lr.
func StageLRs(n int, lr, decay float64) []float64 {
	if decay == 0 {
		decay = 1
	}
	out := make([]float64, n)
	for i := range out {
		out[i] = lr * math.Pow(decay, float64(n-1-i))
	}
	return out
}

// Group describes one optimiser parameter group.
type Group struct {
	Stage       string
	NoDecay     bool // biases and normalisation weights: no weight decay
	Tensors     int
	Params      int64
	Trainable   bool // false when the stage is frozen
	LR          float64
	WeightDecay float64
}

// isBuffer reports whether a state-dict entry is a buffer, not a parameter.
var isBuffer = vision.IsBuffer

// noDecay reports whether weight decay should skip a parameter: biases,
// 1-D normalisation weights, and ViT/ConvNeXt's tokens, embeddings and
// layer scales (timm's rule).
func noDecay(name string, t *ts.Tensor) bool {
	if t.Dim() <= 1 || strings.HasSuffix(name, ".bias") {
		return true
	}
	for _, s := range []string{"class_token", "pos_embedding", "layer_scale"} {
		if strings.HasSuffix(name, s) {
			return true
		}
	}
	return false
}

// NewStageOptimizer builds an optimiser with two parameter groups per stage
// of m (weights with weightDecay, and biases and normalisation weights
// without), with learning rate lrs[i] for stage i. Frozen stages are
// included, so that unfreezing them later needs no new optimiser; they get
// no gradient, hence no update and no optimiser state. It must run on a
// torch worker thread.
func NewStageOptimizer(m *vision.Model, o torch.OptimizerOptions, lrs []float64, weightDecay float64) (*torch.Optimizer, []Group, error) {
	if len(lrs) != len(m.Stages) {
		return nil, nil, fmt.Errorf("finetune: %d learning rates for the %d stages of %s", len(lrs), len(m.Stages), m.Arch)
	}
	opt, err := torch.NewOptimizer(o)
	if err != nil {
		return nil, nil, err
	}
	vars := m.VS.Variables()
	var groups []Group
	for i, st := range m.Stages {
		groups, err = addStageGroups(opt, groups, vars, st.Covers, Group{Stage: st.Name, LR: lrs[i], WeightDecay: weightDecay, Trainable: !m.StageFrozen(i)})
		if err != nil {
			opt.Close()
			return nil, nil, err
		}
	}
	return opt, groups, nil
}

// addStageGroups adds the parameters that in selects (buffers excluded) to
// opt as two new groups numbered after groups: weights with g's weight
// decay, then biases and normalisation weights without. Empty groups are
// not created.
func addStageGroups(opt *torch.Optimizer, groups []Group, vars map[string]ts.Tensor, in func(string) bool, g Group) ([]Group, error) {
	for _, nd := range []bool{false, true} {
		gg := g
		gg.NoDecay = nd
		if nd {
			gg.WeightDecay = 0
		}
		for _, n := range sortedKeys(vars) {
			v := vars[n]
			if isBuffer(n) || !in(n) || noDecay(n, &v) != nd {
				continue
			}
			if err := opt.Add(len(groups), gg.LR, gg.WeightDecay, &v); err != nil {
				return nil, fmt.Errorf("finetune: %s: %w", n, err)
			}
			gg.Tensors++
			gg.Params += int64(v.Numel())
		}
		if gg.Tensors > 0 {
			groups = append(groups, gg)
		}
	}
	return groups, nil
}

func sortedKeys(m map[string]ts.Tensor) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// UnfreezeNext lets the frozen stage nearest the head of m train again
// (gradual unfreezing, top-down) and returns its index, or -1 when no stage
// is frozen. Call it on the torch worker thread (hooks run there); the
// optimiser already holds every stage's parameters, so the stage trains from
// the next step at its own group's rate.
func UnfreezeNext(m *vision.Model) (int, error) {
	for i := len(m.Stages) - 1; i >= 0; i-- {
		if m.StageFrozen(i) {
			return i, m.SetStageFrozen(i, false, false)
		}
	}
	return -1, nil
}
