package strategies

import (
	"fmt"

	"github.com/gtl-dev/gtl/finetune"
	"github.com/gtl-dev/gtl/vision"
)

// Choice is what Apply put into a spec: the strategy, why (for auto: the
// advisor's reason), and its plan.
type Choice struct {
	Strategy string
	Reason   string
	Plan     Plan
}

// Apply resolves the strategy spec.Train.Strategy names (scratch, linear,
// freeze-N, full, gradual, or auto: the advisor's choice, see Measure and
// Place) for the spec's model and training set, and fills the training
// fields it decides (Freeze, UnfreezeAt, LR, LRDecay, Epochs, Batch,
// Schedule) where they are unset (zero); set fields win. It reads the
// data once and leaves it in spec.Data.Loaded, at the resolution it pins
// in spec.Data.ImageSize. Auto choosing scratch drops the source weights
// (spec.Model.Arch then names the architecture). Without a strategy Apply
// does nothing and returns nil.
func Apply(spec *finetune.RunSpec) (*Choice, error) {
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
	r, err := spec.Resolve()
	if err != nil {
		return nil, err
	}
	data := r.Data.Loaded
	if data == nil {
		aug := r.Train.Augment != "none" || r.Train.Mixup != 0 || r.Train.CutMix != 0 || r.Train.Erase != 0
		if data, err = finetune.LoadData(r.Data, r.Seed, aug); err != nil {
			return nil, err
		}
		if len(data.Unsupported) > 0 && spec.Hooks.OnUnsupported != nil {
			spec.Hooks.OnUnsupported(data.Unsupported)
		}
		if len(data.Skipped) > 0 && spec.Hooks.OnSkipped != nil {
			spec.Hooks.OnSkipped(data.Skipped)
		}
		spec.Data.Loaded = data
	}
	spec.Data.ImageSize = data.Size
	train, err := data.Shots(r.Data.Shots, r.Seed)
	if err != nil {
		return nil, err
	}
	arch, err := archOf(r.Model)
	if err != nil {
		return nil, err
	}
	stages, err := StageCount(arch)
	if err != nil {
		return nil, finetune.FieldErrorf("Model.Arch", "{Model.Arch}: %w", err)
	}
	c := &Choice{Strategy: name}
	if name == "auto" {
		im, err := train.Images()
		if err != nil {
			return nil, err
		}
		m, err := Measure(im, ProbeOptions{Arch: arch, Weights: r.Model.Weights, WeightsKey: r.Model.WeightsKey, Normalize: finetune.ImageNetNorm, PerClass: 100, Seed: r.Seed})
		if err != nil {
			return nil, err
		}
		p := Place(m, stages)
		c.Strategy, c.Reason = p.Strategy, p.Reason
		if s, err = Parse(p.Strategy); err != nil {
			return nil, err
		}
		if !s.Transfer { // nothing to transfer: the same architecture from scratch
			spec.Model.Arch, spec.Model.Weights, spec.Model.WeightsKey, spec.Model.Pretrained = arch, "", "", false
		}
	}
	if c.Plan, err = s.Resolve(Size{Images: train.Len(), Stages: stages}, 0); err != nil {
		return nil, finetune.FieldErrorf("Train.Strategy", "{Train.Strategy}: %w", err)
	}
	spec.Train.Strategy = c.Strategy
	c.Plan.Fill(&spec.Train)
	return c, nil
}

// Fill sets the training fields the plan decides (Freeze, UnfreezeAt, LR,
// LRDecay, Epochs, Batch, Schedule) where t leaves them unset.
func (p Plan) Fill(t *finetune.TrainSpec) {
	if t.Freeze == "" {
		t.Freeze = fmt.Sprint(p.Freeze)
		if p.Cached {
			t.Freeze = "all"
		}
	}
	if t.UnfreezeAt == nil {
		t.UnfreezeAt = p.Unfreeze
	}
	if t.LR == 0 {
		t.LR = p.LR
	}
	if t.LRDecay == 0 {
		t.LRDecay = p.LRDecay
	}
	if t.Epochs == 0 {
		t.Epochs = p.Epochs
	}
	if t.Batch == 0 {
		t.Batch = p.Batch
	}
	if t.Schedule == "" {
		t.Schedule = p.Schedule
	}
}

// archOf returns the architecture of a model spec: its Arch, or the one
// its gtl checkpoint names.
func archOf(m finetune.ModelSpec) (string, error) {
	if m.Arch != "" {
		return m.Arch, nil
	}
	meta, err := vision.ReadMeta(m.Weights)
	if err != nil {
		return "", finetune.FieldErrorf("Model.Weights", "{Model.Weights}: %w", err)
	}
	if meta == nil || meta.Arch == "" {
		return "", finetune.FieldErrorf("Model.Arch", "{Model.Arch} is required (or {Model.Weights} with a gtl checkpoint)")
	}
	return meta.Arch, nil
}

// StageCount returns the number of stages of an architecture, head
// included (see finetune.StageCount).
func StageCount(arch string) (int, error) { return finetune.StageCount(arch) }
