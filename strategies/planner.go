package strategies

import (
	"reflect"

	"github.com/gtl-dev/gtl/finetune"
)

// NewPlanner returns the finetune.Planner of the strategy spec.Train.Strategy
// names (scratch, linear, freeze-N, full, gradual, or auto: the advisor's
// choice, see Measure and Place), for finetune.RunEnv.Plan; nil without a
// strategy. It checks the name against the spec's weights now, before any
// data is read or model opened. The planner sets the training fields the
// plan decides (see Plan.Fill) where the user left them unset; auto
// measures the training images against the opened model's weights first,
// and its choosing scratch drops the source weights.
func NewPlanner(spec finetune.RunSpec) (finetune.Planner, error) {
	name := spec.Train.Strategy
	if name == "" {
		return nil, nil
	}
	transfer := spec.FineTune()
	if name == "auto" && !transfer {
		return nil, finetune.FieldErrorf("Train.Strategy", "{Train.Strategy} auto: needs source weights ({Model.Weights} or {Model.Pretrained}) to measure the target against")
	}
	s, err := Parse(name)
	if name != "auto" {
		if err != nil {
			return nil, finetune.FieldErrorf("Train.Strategy", "{Train.Strategy}: %w", err)
		}
		switch {
		case s.Transfer && !transfer:
			return nil, finetune.FieldErrorf("Train.Strategy", "{Train.Strategy} %s starts from source weights: give {Model.Weights} or {Model.Pretrained}", name)
		case !s.Transfer && transfer:
			return nil, finetune.FieldErrorf("Train.Strategy", "{Train.Strategy} scratch trains from a random initialisation: drop {Model.Weights}/{Model.Pretrained}")
		}
	}
	return func(req finetune.PlanRequest) (finetune.PlanChoice, error) {
		c := finetune.PlanChoice{Strategy: name, Transfer: s.Transfer}
		st := s
		if name == "auto" {
			im, err := req.Data.Images()
			if err != nil {
				return c, err
			}
			m, err := Measure(im, ProbeOptions{Arch: req.Arch, Weights: req.Weights, WeightsKey: req.Spec.Model.WeightsKey,
				WeightsPrefix: req.Spec.Model.WeightsPrefix, AllowNonFinite: req.Spec.Model.AllowNonFinite, PerClass: 100, Seed: req.Spec.Seed})
			if err != nil {
				return c, err
			}
			p := Place(m, req.Stages)
			c.Strategy, c.Reason = p.Strategy, p.Reason
			if st, err = Parse(p.Strategy); err != nil {
				return c, err
			}
			c.Transfer = st.Transfer
		}
		p, err := st.Resolve(Size{Images: req.Data.Len(), Stages: req.Stages}, 0)
		if err != nil {
			return c, finetune.FieldErrorf("Train.Strategy", "{Train.Strategy}: %w", err)
		}
		req.Spec.Train.Strategy = c.Strategy
		p.Fill(&req.Spec.Train, req.Given)
		return c, nil
	}, nil
}

// Decides lists the TrainSpec fields a strategy decides for `gtl train
// --strategy` (see Plan.Fill); the rest keep the run's own settings and
// defaults (a plain run validates every epoch, for instance, where a
// comparison's cell validates about ten times).
var Decides = []string{"Freeze", "UnfreezeAt", "LR", "LRDecay", "Epochs", "Batch", "Schedule"}

// Fill sets the fields of t listed in Decides to the plan's where given
// (the settings as the user gave them, before defaults) leaves them unset
// (zero): given fields win.
func (p Plan) Fill(t *finetune.TrainSpec, given finetune.TrainSpec) {
	dst, src, set := reflect.ValueOf(t).Elem(), reflect.ValueOf(p.TrainSpec), reflect.ValueOf(given)
	for _, name := range Decides {
		if set.FieldByName(name).IsZero() {
			dst.FieldByName(name).Set(src.FieldByName(name))
		}
	}
}
