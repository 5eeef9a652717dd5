package finetune

import (
	"fmt"
	"strings"

	"github.com/sugarme/gotch/ts"

	"github.com/gtl-dev/gtl/torch"
	"github.com/gtl-dev/gtl/vision"
	"github.com/gtl-dev/gtl/vision/datasets"
)

// fitCached trains only m's head, as a feature extractor: the backbone's
// features of every image are computed once (eval mode, no gradients) and
// the head is trained on them, instead of running the frozen backbone
// every epoch. Without augmentation this gives the results of Fit with
// every stage but the head frozen (batch norms in eval mode), much faster.
// Dropout in the head behaves as in Fit.
func (t *Trainer) fitCached(m *vision.Model, train, val *datasets.Images) (*Result, error) {
	cfg, err := t.loop()
	if err != nil {
		return nil, err
	}
	if train == nil || train.Len() == 0 {
		return nil, fmt.Errorf("finetune: empty training set")
	}
	if cfg.Augment.Active() {
		return nil, fmt.Errorf("finetune: cached features are computed once: no augmentation (train with Fit and the backbone frozen instead)")
	}
	c, err := t.cacheActivations(m.Backbone, train, val, cfg)
	if err != nil {
		return nil, err
	}
	defer t.release(c)
	t.useLabels(train.Labels, train.Classes)
	head := Func(m.Head.Forward)
	tc := *t // only the head trains: the state holds only its tensors
	if tc.saveOnly == nil {
		tc.saveOnly = headVars(m)
	}
	return tc.run(head, m.VS, cfg, func() (*torch.Optimizer, []Group, error) { return headOptimizer(m, cfg) },
		train.Len(), fromBatcher(c.train, cfg.Batch), c.val)
}

// cached holds the outputs of a module for the training and validation
// images (activations), as training batches and an evaluation set.
type cached struct {
	train   batcher
	val     evalSet
	tensors []*ts.Tensor
}

// cacheActivations computes mod's outputs for train and val (nil or
// empty: no evaluation set) on the trainer's worker; release frees them.
func (t *Trainer) cacheActivations(mod vision.Module, train, val *datasets.Images, cfg loop) (*cached, error) {
	c := &cached{}
	err := t.worker().Do(func() error {
		x, y, err := activations(mod, train, cfg)
		if err != nil {
			return err
		}
		c.tensors = append(c.tensors, x, y)
		c.train = rows(x, y)
		if val != nil && val.Len() > 0 {
			if x, y, err = activations(mod, val, cfg); err != nil {
				return err
			}
			c.tensors = append(c.tensors, x, y)
			c.val = evalSet{n: val.Len(), batches: rows(x, y), classes: val.Classes}
		}
		return nil
	})
	if err != nil {
		t.release(c)
		return nil, err
	}
	return c, nil
}

// release frees the cached activations.
func (t *Trainer) release(c *cached) {
	_ = t.worker().Do(func() error {
		for _, x := range c.tensors {
			x.MustDrop()
		}
		return nil
	})
}

// Func adapts a forward function to Model.
type Func func(x *ts.Tensor, train bool) (*ts.Tensor, error)

// Forward calls f.
func (f Func) Forward(x *ts.Tensor, train bool) (*ts.Tensor, error) { return f(x, train) }

// activations returns mod's outputs [N, ...] (the backbone's features
// [N, D], or a frozen prefix's activations) and the labels [N] of every
// image, computed in eval mode under inference mode. The concatenation runs
// outside it, so x is a normal, contiguous tensor that training can index
// and save.
func activations(mod vision.Module, data *datasets.Images, cfg loop) (x, y *ts.Tensor, err error) {
	var parts []*ts.Tensor
	defer func() {
		for _, p := range parts {
			p.MustDrop()
		}
	}()
	labels := make([]int64, 0, data.Len())
	err = torch.Inference(func() error {
		for start := 0; start < data.Len(); start += cfg.Batch {
			idx := make([]int, 0, cfg.Batch)
			for i := start; i < min(start+cfg.Batch, data.Len()); i++ {
				idx = append(idx, i)
				labels = append(labels, int64(data.Labels[i]))
			}
			bx, by, err := imageBatches(data, cfg)(idx)
			if err != nil {
				return err
			}
			by.MustDrop()
			f, err := mod.Forward(bx, false)
			bx.MustDrop()
			if err != nil {
				return fmt.Errorf("finetune: features of images %d-%d: %w", start, start+len(idx)-1, err)
			}
			parts = append(parts, f)
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	if x, err = ts.Cat(parts, 0); err != nil {
		return nil, nil, err
	}
	if x, err = x.Contiguous(true); err != nil { // folded layers may leave channels-last activations
		return nil, nil, err
	}
	if y, err = torch.FromSlice(labels, []int64{int64(len(labels))}); err != nil {
		x.MustDrop()
		return nil, nil, err
	}
	if cfg.Device.IsCuda() {
		if y, err = y.To(cfg.Device, true); err != nil {
			x.MustDrop()
			return nil, nil, fmt.Errorf("finetune: labels to %v: %w", cfg.Device, err)
		}
	}
	return x, y, nil
}

// rows serves batches of cached features.
func rows(x, y *ts.Tensor) batcher {
	return func(idx []int) (*ts.Tensor, *ts.Tensor, error) {
		ids := make([]int64, len(idx))
		for i, v := range idx {
			ids[i] = int64(v)
		}
		index, err := torch.FromSlice(ids, []int64{int64(len(ids))})
		if err != nil {
			return nil, nil, err
		}
		defer index.MustDrop()
		bx, err := x.IndexSelect(0, index, false)
		if err != nil {
			return nil, nil, err
		}
		by, err := y.IndexSelect(0, index, false)
		if err != nil {
			bx.MustDrop()
			return nil, nil, err
		}
		return bx, by, nil
	}
}

// headOptimizer is SGD over the head's parameters (those under its
// HeadPrefixes) at the head's rate, weights and biases in separate groups.
func headOptimizer(m *vision.Model, cfg loop) (*torch.Optimizer, []Group, error) {
	opt, err := torch.NewOptimizer(optimizerOptions(cfg))
	if err != nil {
		return nil, nil, err
	}
	groups, err := addStageGroups(opt, nil, m.VS.Variables(), func(n string) bool { return hasPrefix(n, m.HeadPrefixes) },
		Group{Stage: "head", LR: cfg.LR, WeightDecay: cfg.WeightDecay, Trainable: true})
	if err != nil {
		opt.Close()
		return nil, nil, err
	}
	return opt, groups, nil
}

// headVars selects the variables of m's head (under its HeadPrefixes).
func headVars(m *vision.Model) func(name string) bool {
	return func(name string) bool { return hasPrefix(name, m.HeadPrefixes) }
}

func hasPrefix(name string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}
