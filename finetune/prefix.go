package finetune

import (
	"fmt"

	"github.com/sugarme/gotch/ts"

	"github.com/gtl-dev/gtl/torch"
	"github.com/gtl-dev/gtl/vision"
	"github.com/gtl-dev/gtl/vision/datasets"
)

// DefaultCacheLimit is Config.CacheLimit's default: 2 GiB of cached
// frozen-stage activations (resnet18 with stem and layer1 frozen keeps
// 64×56×56 floats, 784 KiB, per 224-pixel image: about 2,700 images).
const DefaultCacheLimit = 2 << 30

// reasonAugment is why augmented runs train through their frozen stages.
const reasonAugment = "augmentation varies the images every epoch"

// PrefixCache says whether a run computed its frozen stages once per
// image (fitPrefixCached) or ran them every step (Fit), and why not.
type PrefixCache struct {
	Used bool `json:"used"`
	// Modules is the number of leading backbone modules cached (see
	// vision.Model.FrozenPrefix); Bytes what their activations of the
	// training and validation images take (or would take: over the cap).
	Modules int    `json:"modules,omitempty"`
	Bytes   int64  `json:"bytes,omitempty"`
	Reason  string `json:"reason,omitempty"` // why not, when not used
}

// PlanPrefixCache decides whether fitPrefixCached can train m on train
// and val, with m's stages frozen as they are now: not with augmentation
// (each epoch's images differ), not in a data-parallel run, not with
// Config.CacheLimit negative, and only when m has a frozen prefix
// (vision.Model.FrozenPrefix) whose activations of all the images fit
// under Config.CacheLimit. It runs the prefix on one training image to
// measure them.
func (t *Trainer) PlanPrefixCache(m *vision.Model, train, val *datasets.Images) (PrefixCache, error) {
	cfg, err := t.loop()
	if err != nil {
		return PrefixCache{}, err
	}
	switch {
	case train == nil || train.Len() == 0:
		return PrefixCache{}, fmt.Errorf("finetune: empty training set")
	case t.Dist != nil:
		return PrefixCache{Reason: "data-parallel run"}, nil
	case cfg.Augment.Active():
		return PrefixCache{Reason: reasonAugment}, nil
	case cfg.CacheLimit < 0:
		return PrefixCache{Reason: "turned off (cache limit 0: GTL_FROZEN_CACHE_MB=0)"}, nil
	}
	var p PrefixCache
	err = t.worker().Do(func() error {
		n, why := m.FrozenPrefix()
		if n == 0 {
			p.Reason = why
			return nil
		}
		p.Modules = n
		x, y, err := imageBatches(train, cfg)([]int{0})
		if err != nil {
			return err
		}
		defer x.MustDrop()
		y.MustDrop()
		return torch.Inference(func() error {
			a, err := m.Backbone.(vision.Seq)[:n].Forward(x, false)
			if err != nil {
				return fmt.Errorf("finetune: frozen prefix of %s: %w", m.Arch, err)
			}
			defer a.MustDrop()
			images := int64(train.Len())
			if val != nil {
				images += int64(val.Len())
			}
			p.Bytes = images * int64(a.Numel()) * int64(a.DType().Size())
			return nil
		})
	})
	if err != nil {
		return PrefixCache{}, err
	}
	switch {
	case p.Reason != "":
	case p.Bytes > cfg.CacheLimit:
		p.Reason = fmt.Sprintf("activations %.2f MiB over the cache limit %.2f MiB", float64(p.Bytes)/(1<<20), float64(cfg.CacheLimit)/(1<<20))
	default:
		p.Used = true
	}
	return p, nil
}

// fitPrefixCached is Fit for a model whose leading stages are frozen: the
// frozen prefix of the backbone (vision.Model.FrozenPrefix) runs once per
// image, in eval mode under inference mode, and the rest of the backbone
// and the head train on its stored activations, with Fit's optimiser,
// schedule, batches (the same seed gives the same order), EMA,
// checkpoints and resumption. Without augmentation this gives Fit's
// results (to float rounding: the cached prefix folds its batch norms in
// evaluation's memory layout) without running the frozen stages every
// epoch. It fails, saying why, where PlanPrefixCache says no; the result's
// PrefixCache records the plan.
func (t *Trainer) fitPrefixCached(m *vision.Model, train, val *datasets.Images) (*Result, error) {
	plan, err := t.PlanPrefixCache(m, train, val)
	if err != nil {
		return nil, err
	}
	return t.fitPrefix(m, plan, train, val)
}

// fitPrefix is fitPrefixCached with the plan PlanPrefixCache made for m,
// train and val (Run makes it first, to record it).
func (t *Trainer) fitPrefix(m *vision.Model, plan PrefixCache, train, val *datasets.Images) (*Result, error) {
	if !plan.Used {
		return nil, fmt.Errorf("finetune: frozen stages cannot be cached: %s", plan.Reason)
	}
	cfg, err := t.loop()
	if err != nil {
		return nil, err
	}
	c, err := t.cacheActivations(m.Backbone.(vision.Seq)[:plan.Modules], train, val, cfg)
	if err != nil {
		return nil, err
	}
	defer t.release(c)
	t.useLabels(train.Labels, train.Classes)
	rest := Func(func(a *ts.Tensor, train bool) (*ts.Tensor, error) { return m.ForwardAfter(plan.Modules, a, train) })
	res, err := t.run(rest, m.VS, cfg, func() (*torch.Optimizer, []Group, error) { return newOptimizer(m, m.VS, cfg) },
		train.Len(), fromBatcher(c.train, cfg.Batch), c.val)
	if err != nil {
		return nil, err
	}
	res.PrefixCache = &plan
	return res, nil
}
