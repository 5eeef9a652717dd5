package vision

import (
	"errors"
	"fmt"
	"sync"

	"github.com/sugarme/gotch/ts"

	"github.com/gtl-dev/gtl/torch"
	"github.com/gtl-dev/gtl/weights"
)

// foldBN turns batch-norm folding on (tests switch it off to compare).
var foldBN = true

// foldLayout is the memory format of folded weights: "channels-last"
// (default) or "contiguous". A channels-last weight makes libtorch run the
// convolution, and so every later layer, channels-last (oneDNN), which
// measured faster on the CPU for mobilenet_v2 evaluation (about 2×; on
// par for resnet18; see scripts/bench/README.md). In inference mode the
// oneDNN path (infer.go: MKLDNN activations, weights prepacked in oneDNN's
// blocked layout) replaces it where the backbone supports it. Evaluation only: with
// grad mode on (frozen stages in training) folded weights keep the
// model's layout. A string so that benchmarks can set it at link
// time (-ldflags -X).
var foldLayout = "channels-last"

// A convolution followed by a batch norm that normalises with its running
// statistics (evaluation, or a frozen stage in training) is one affine map
// per output channel after the convolution, so it can run as a single
// convolution with folded parameters, as PyTorch's frozen inference path
// does (torch.nn.utils.fusion.fuse_conv_bn_weights):
//
//	s  = γ / √(running_var + ε)
//	w' = w · s            (per output channel)
//	b' = (b − running_mean) · s + β
//
// The folded tensors are a cached view for evaluation: the model's own
// parameters never change. The cache lives on the batch norm and is
// rebuilt when any input of the fold changed (libtorch's version counters
// see optimiser steps and loaded weights, read for a layer's six inputs in
// one call; a Go counter sees running statistics updated by training-mode
// batch norm, which bumps no counter).
type bnFold struct {
	mu   sync.Mutex
	conv *Conv2d
	key  foldKey
	w, b *ts.Tensor
}

type foldKey struct {
	versions  [6]int64
	updates   uint64
	eps       float64
	inference bool // built in inference mode: inference tensors
	// channelsLast: weight in channels-last format, for evaluation only
	// (grad mode off); training keeps the model's own layout.
	channelsLast bool
	// mkldnn: weight prepacked in oneDNN's blocked layout for an MKLDNN
	// input (the inference path of mkldnn.go); the bias stays dense.
	mkldnn bool
}

// sameFold reports whether a fold made under key k serves a forward under
// key now: same inputs, and no inference tensors outside inference mode
// (where they could not be saved for backward).
func (k foldKey) sameFold(now foldKey) bool {
	inf := k.inference
	k.inference = now.inference
	return k == now && (!inf || now.inference)
}

// canFold reports whether conv c followed by bn may run folded: bn must
// use its running statistics, and no parameter of either may need a
// gradient (the fold is computed without autograd).
func canFold(c *Conv2d, bn *BatchNorm2d, train bool) bool {
	if !foldBN || (train && !bn.Frozen) {
		return false
	}
	if !torch.GradEnabled() {
		return true
	}
	for _, t := range []*ts.Tensor{c.W, c.B, bn.W, bn.B} {
		if t == nil {
			continue
		}
		if rg, err := t.RequiresGrad(); err != nil || rg {
			return false
		}
	}
	return true
}

// forwardFolded returns bn(c(x)) computed as one convolution with folded
// parameters. The caller owns the result.
func (bn *BatchNorm2d) forwardFolded(c *Conv2d, x *ts.Tensor) (*ts.Tensor, error) {
	mk := torch.IsMkldnn(x)
	w, b, err := bn.folded(c, mk)
	if err != nil {
		return nil, err
	}
	if mk {
		return torch.MkldnnConv2d(x, w, b, c.padding, c.stride, c.dilation, c.groups)
	}
	return ts.Conv2d(x, w, b, c.stride, c.padding, c.dilation, c.groups)
}

// folded returns the cached folded weight and bias, rebuilding them when
// stale; with mkldnn the weight is prepacked for MkldnnConv2d. They stay
// owned by the cache.
func (bn *BatchNorm2d) folded(c *Conv2d, mkldnn bool) (w, b *ts.Tensor, err error) {
	f := &bn.fold
	f.mu.Lock()
	defer f.mu.Unlock()
	key := foldKey{updates: bn.updates, eps: bn.Eps, inference: torch.InInference(), mkldnn: mkldnn,
		channelsLast: !mkldnn && foldLayout == "channels-last" && !torch.GradEnabled()}
	// One cgo call reads the six version counters.
	if err = torch.Versions(key.versions[:], c.W, c.B, bn.W, bn.B, bn.RunningMean, bn.RunningVar); err != nil {
		return nil, nil, fmt.Errorf("vision: fold %s: %w", bn.name, err)
	}
	if f.w != nil && f.conv == c && f.key.sameFold(key) {
		return f.w, f.b, nil
	}
	f.drop()
	err = torch.WithoutGrad(func() error {
		var err error
		w, b, err = foldConvBN(c, bn)
		return err
	})
	if err == nil && mkldnn {
		// oneDNN's ReLU and max pooling turn NaN into numbers (PyTorch's
		// propagate it): non-finite folded parameters must take the dense
		// path, where the NaN reaches the logits as in PyTorch.
		if err = checkFiniteFold(w, b); err != nil {
			w.MustDrop()
			b.MustDrop()
		}
	}
	if err == nil && key.channelsLast && w.Dim() == 4 {
		var cl *ts.Tensor
		if cl, err = torch.ChannelsLast(w); err == nil {
			w.MustDrop()
			w = cl
		} else {
			w.MustDrop()
			b.MustDrop()
		}
	}
	if err == nil && mkldnn {
		var pw *ts.Tensor
		if pw, err = torch.MkldnnPrepackConv2d(w, c.padding, c.stride, c.dilation, c.groups); err == nil {
			w.MustDrop()
			w = pw
		} else {
			w.MustDrop()
			b.MustDrop()
		}
	}
	if err != nil {
		return nil, nil, fmt.Errorf("vision: fold %s into its convolution: %w", bn.name, err)
	}
	f.conv, f.key, f.w, f.b = c, key, w, b
	return w, b, nil
}

// errNonFiniteFold stops the oneDNN path (infer.go) for a model whose
// folded parameters hold NaN or Inf.
var errNonFiniteFold = errors.New("folded parameters hold NaN or Inf, which oneDNN's ReLU and max pooling would turn into numbers")

// checkFiniteFold returns errNonFiniteFold when w or b holds NaN or Inf.
func checkFiniteFold(w, b *ts.Tensor) error {
	for _, t := range []*ts.Tensor{w, b} {
		ok, err := weights.AllFinite(t)
		if err != nil {
			return err
		}
		if !ok {
			return errNonFiniteFold
		}
	}
	return nil
}

// drop frees the cached tensors. The caller holds mu.
func (f *bnFold) drop() {
	if f.w != nil {
		f.w.MustDrop()
		f.b.MustDrop()
		f.w, f.b, f.conv = nil, nil, nil
	}
}

// dropFold frees the batch norm's folded copy, if any.
func (bn *BatchNorm2d) dropFold() {
	bn.fold.mu.Lock()
	bn.fold.drop()
	bn.fold.mu.Unlock()
}

// foldConvBN computes the folded weight and bias (see bnFold), in the
// order of PyTorch's fuse_conv_bn_weights. The caller owns both.
func foldConvBN(c *Conv2d, bn *BatchNorm2d) (w, b *ts.Tensor, err error) {
	v, err := bn.RunningVar.AddScalar(ts.FloatScalar(bn.Eps), false)
	if err != nil {
		return nil, nil, err
	}
	rs, err := v.Rsqrt(true) // 1/√(var+ε)
	if err != nil {
		return nil, nil, err
	}
	defer rs.MustDrop()
	s, err := bn.W.Mul(rs, false) // γ/√(var+ε)
	if err != nil {
		return nil, nil, err
	}
	defer s.MustDrop()
	s4, err := s.View([]int64{-1, 1, 1, 1}, false)
	if err != nil {
		return nil, nil, err
	}
	defer s4.MustDrop()
	if w, err = c.W.Mul(s4, false); err != nil {
		return nil, nil, err
	}
	var t *ts.Tensor
	if c.B != nil {
		t, err = c.B.Sub(bn.RunningMean, false)
	} else {
		t, err = bn.RunningMean.Neg(false)
	}
	if err == nil {
		t, err = t.Mul(rs, true)
	}
	if err == nil {
		t, err = t.Mul(bn.W, true)
	}
	if err == nil {
		b, err = t.Add(bn.B, true)
	}
	if err != nil {
		w.MustDrop()
		return nil, nil, err
	}
	return w, b, nil
}
