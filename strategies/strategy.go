package strategies

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/gtl-dev/gtl/finetune"
)

// Strategy is a named way to train on the target data. Parse turns a name
// into one; Resolve turns it into concrete settings for one model and data
// size.
type Strategy struct {
	// Name is scratch, linear, freeze-N (N ≥ 1), full or gradual.
	Name string
	// Transfer is true when the strategy starts from the source weights
	// (every strategy but scratch).
	Transfer bool
	// Freeze is the number of stages frozen from the stem; -1 for linear
	// (every stage but the head, features computed once).
	Freeze int
}

// Names lists the strategy names Parse accepts (freeze-N for any N ≥ 1).
var Names = []string{"scratch", "linear", "freeze-N", "full", "gradual"}

// Parse reads a strategy name.
func Parse(name string) (Strategy, error) {
	switch name {
	case "scratch":
		return Strategy{Name: name}, nil
	case "linear":
		return Strategy{Name: name, Transfer: true, Freeze: -1}, nil
	case "full", "gradual":
		return Strategy{Name: name, Transfer: true}, nil
	}
	if n, ok := strings.CutPrefix(name, "freeze-"); ok {
		k, err := strconv.Atoi(n)
		if err == nil && k >= 1 {
			return Strategy{Name: name, Transfer: true, Freeze: k}, nil
		}
	}
	return Strategy{}, fmt.Errorf("strategies: unknown strategy %q: want one of %s", name, strings.Join(Names, ", "))
}

// ParseList reads a comma-separated list of strategy names.
func ParseList(s string) ([]Strategy, error) {
	var out []Strategy
	seen := map[string]bool{}
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		st, err := Parse(f)
		if err != nil {
			return nil, err
		}
		if seen[f] {
			return nil, fmt.Errorf("strategies: %q listed twice", f)
		}
		seen[f] = true
		out = append(out, st)
	}
	return out, nil
}

// Plan is a strategy resolved for one model and training-set size: the
// training settings it decides, in the one settings type
// (finetune.TrainSpec: Strategy names the strategy; Freeze is "all" for the
// linear probe on features computed once), and how they were chosen. It is
// saved with the run's results, as one flat JSON object.
type Plan struct {
	finetune.TrainSpec
	Transfer bool   `json:"transfer"`       // start from the source weights
	Steps    int    `json:"steps"`          // optimisation steps in all
	Budget   string `json:"budget"`         // "own" or "equal:<steps>"
	Note     string `json:"note,omitempty"` // why the settings are what they are
}

// Cached reports whether the plan trains the head on features computed
// once (the linear probe).
func (p Plan) Cached() bool { return p.Freeze == "all" }

// StepsPerEpoch returns the optimisation steps of one epoch of the plan
// (Steps / Epochs; 0 for a plan without epochs).
func (p Plan) StepsPerEpoch() int {
	if p.Epochs < 1 {
		return 0
	}
	return p.Steps / p.Epochs
}

// Defaults from the transfer-learning playbook, per strategy: the head's
// learning rate, the layer-wise decay and the minimum number of epochs and
// optimisation steps. Fine-tuning uses 1/5 of the scratch rate and fewer
// steps (timm: about 1/10 of the scratch rate for fine-tuning; fastai's
// fine_tune: one frozen epoch, then a few at a lower rate); a linear probe
// is cheap on cached features and gets many epochs; scratch gets twice
// the steps of fine-tuning.
type Defaults struct {
	LR       float64
	LRDecay  float64
	Epochs   int
	MinSteps int
}

// DefaultsFor returns the defaults of a strategy.
func DefaultsFor(s Strategy) Defaults {
	switch {
	case s.Name == "scratch":
		return Defaults{LR: 0.05, LRDecay: 1, Epochs: 8, MinSteps: 200}
	case s.Name == "linear":
		return Defaults{LR: 0.05, LRDecay: 1, Epochs: 30, MinSteps: 300}
	case s.Name == "full", s.Name == "gradual":
		return Defaults{LR: 0.01, LRDecay: 0.5, Epochs: 4, MinSteps: 100}
	default: // freeze-N
		return Defaults{LR: 0.01, LRDecay: 1, Epochs: 4, MinSteps: 100}
	}
}

// Size describes the training set a plan is resolved for.
type Size struct {
	Images int // training images
	Stages int // the model's stages, head included
}

// BatchFor returns the batch size for n training images: 32, or fewer so
// that a tiny set still gets at least 4 steps an epoch.
func BatchFor(n int) int {
	return max(1, min(32, n/4))
}

// Resolve turns s into a plan for a training set of the given size.
// equalSteps > 0 gives the run exactly that many optimisation steps (rounded
// up to whole epochs) instead of the strategy's own budget.
func (s Strategy) Resolve(sz Size, equalSteps int) (Plan, error) {
	if sz.Images < 1 {
		return Plan{}, fmt.Errorf("strategies: %s: no training images", s.Name)
	}
	if s.Freeze >= sz.Stages {
		return Plan{}, fmt.Errorf("strategies: %s: the model has %d stages (the last is the head); freeze at most %d", s.Name, sz.Stages, sz.Stages-1)
	}
	d := DefaultsFor(s)
	p := Plan{Transfer: s.Transfer, Budget: "own"}
	t := &p.TrainSpec
	*t = finetune.TrainSpec{Strategy: s.Name, Freeze: strconv.Itoa(s.Freeze), LR: d.LR, LRDecay: d.LRDecay,
		Batch: BatchFor(sz.Images), Schedule: "cosine", BNPolicy: "eval", Augment: "none"}
	perEpoch := finetune.StepsPerEpoch(sz.Images, t.Batch)
	t.Epochs = max(d.Epochs, (d.MinSteps+perEpoch-1)/perEpoch)
	if equalSteps > 0 {
		t.Epochs = max(1, (equalSteps+perEpoch-1)/perEpoch)
		p.Budget = "equal:" + strconv.Itoa(equalSteps)
	}
	p.Steps = t.Epochs * perEpoch
	switch s.Name {
	case "linear":
		t.Freeze = "all"
		p.Note = "frozen backbone, head trained on features computed once"
	case "gradual":
		// fastai/ULMFiT: train the head first, then unfreeze one stage at a
		// time from the top, spread evenly over the run.
		t.Freeze = strconv.Itoa(sz.Stages - 1)
		k := min(sz.Stages-1, t.Epochs-1)
		for i := 1; i <= k; i++ {
			e := i * t.Epochs / (k + 1)
			if e >= 1 && (len(t.UnfreezeAt) == 0 || e > t.UnfreezeAt[len(t.UnfreezeAt)-1]) {
				t.UnfreezeAt = append(t.UnfreezeAt, e)
			}
		}
		p.Note = "head first, then one more stage from the top at each listed epoch"
	case "scratch":
		p.Note = "same architecture, torchvision initialisation, scratch learning rate"
	case "full":
		p.Note = "every stage trains, lower rates for lower stages"
	default:
		p.Note = fmt.Sprintf("first %d stages frozen (weights and batch-norm statistics)", s.Freeze)
	}
	p.EvalEvery = max(1, p.Epochs/10)
	return p, nil
}
