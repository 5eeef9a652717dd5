package torch

// #include <stdlib.h>
// #include "gtl_api.h"
import "C"

import (
	"fmt"
	"unsafe"

	lib "github.com/sugarme/gotch/libtch"
	"github.com/sugarme/gotch/ts"
)

// OptimizerKind selects the update rule.
type OptimizerKind int

// The optimisers gtl trains with.
const (
	SGD OptimizerKind = iota
	AdamW
)

// OptimizerOptions are the settings shared by all parameter groups.
type OptimizerOptions struct {
	Kind         OptimizerKind
	Momentum     float64 // SGD
	Nesterov     bool    // SGD
	Beta1, Beta2 float64 // AdamW; zero means 0.9 and 0.999
}

// Optimizer is a libtorch optimiser whose parameter groups each have their
// own learning rate and weight decay, set and read through gtl's own C
// functions (gotch's group API sets a fixed rate and reads out of bounds).
// Parameters without a gradient (frozen ones) get no update and no state.
type Optimizer struct {
	p unsafe.Pointer
}

// NewOptimizer creates an optimiser with no parameters; add groups with Add.
func NewOptimizer(o OptimizerOptions) (*Optimizer, error) {
	if o.Beta1 == 0 {
		o.Beta1 = 0.9
	}
	if o.Beta2 == 0 {
		o.Beta2 = 0.999
	}
	nest := C.int(0)
	if o.Nesterov {
		nest = 1
	}
	p := C.gtl_opt_new(C.int(o.Kind), 0.001, C.double(o.Momentum), nest, C.double(o.Beta1), C.double(o.Beta2))
	if err := lastError(); err != nil || p == nil {
		return nil, fmt.Errorf("torch: new optimizer: %v", err)
	}
	return &Optimizer{p: p}, nil
}

// Add puts tensors into parameter group g (groups are numbered from 0 and
// created in order); lr and weightDecay apply when the group is created.
func (o *Optimizer) Add(g int, lr, weightDecay float64, tensors ...*ts.Tensor) error {
	for _, t := range tensors {
		C.gtl_opt_add(o.p, C.int(g), t.Ctensor(), C.double(lr), C.double(weightDecay))
		if err := lastError(); err != nil {
			return fmt.Errorf("torch: optimizer group %d: %w", g, err)
		}
	}
	return nil
}

// Groups returns the number of parameter groups.
func (o *Optimizer) Groups() int { return int(C.gtl_opt_groups(o.p)) }

// LR returns group g's learning rate.
func (o *Optimizer) LR(g int) (float64, error) {
	v := float64(C.gtl_opt_get_lr(o.p, C.int(g)))
	if err := lastError(); err != nil {
		return 0, fmt.Errorf("torch: optimizer group %d: %w", g, err)
	}
	return v, nil
}

// SetLR sets group g's learning rate.
func (o *Optimizer) SetLR(g int, lr float64) error {
	C.gtl_opt_set_lr(o.p, C.int(g), C.double(lr))
	if err := lastError(); err != nil {
		return fmt.Errorf("torch: optimizer group %d: %w", g, err)
	}
	return nil
}

// WeightDecay returns group g's weight decay.
func (o *Optimizer) WeightDecay(g int) (float64, error) {
	v := float64(C.gtl_opt_get_weight_decay(o.p, C.int(g)))
	if err := lastError(); err != nil {
		return 0, fmt.Errorf("torch: optimizer group %d: %w", g, err)
	}
	return v, nil
}

// ClipGradNorm rescales the gradients so that their global L2 norm is at
// most maxNorm, and returns the norm they had.
func (o *Optimizer) ClipGradNorm(maxNorm float64) (float64, error) {
	n := float64(C.gtl_opt_clip_grad_norm(o.p, C.double(maxNorm)))
	if err := lastError(); err != nil {
		return 0, fmt.Errorf("torch: clip gradients: %w", err)
	}
	return n, nil
}

// UnscaleGrads multiplies every gradient by invScale in place and reports
// whether any gradient holds a NaN or an infinity afterwards (the check
// torch.cuda.amp.GradScaler makes before it lets the optimiser step).
func (o *Optimizer) UnscaleGrads(invScale float64) (nonFinite bool, err error) {
	r := C.gtl_opt_unscale_grads(o.p, C.double(invScale))
	if err := lastError(); err != nil {
		return false, fmt.Errorf("torch: unscale gradients: %w", err)
	}
	return r == 1, nil
}

// ZeroGrad clears the gradients of every parameter.
func (o *Optimizer) ZeroGrad() error {
	C.gtl_opt_zero_grad(o.p)
	return lastError()
}

// Step updates every parameter that has a gradient.
func (o *Optimizer) Step() error {
	C.gtl_opt_step(o.p)
	return lastError()
}

// Close frees the optimiser and its state.
func (o *Optimizer) Close() {
	if o.p != nil {
		C.gtl_opt_free(o.p)
		o.p = nil
	}
}

// Save writes the optimiser's state (momentum buffers, moments, step
// counts) to path, a libtorch archive.
func (o *Optimizer) Save(path string) error {
	cs := C.CString(path)
	defer C.free(unsafe.Pointer(cs))
	C.gtl_opt_save(o.p, cs)
	if err := lastError(); err != nil {
		return fmt.Errorf("torch: save optimizer state %s: %w", path, err)
	}
	return nil
}

// Load reads state written by Save into an optimiser with the same groups
// and parameters.
func (o *Optimizer) Load(path string) error {
	cs := C.CString(path)
	defer C.free(unsafe.Pointer(cs))
	C.gtl_opt_load(o.p, cs)
	if err := lastError(); err != nil {
		return fmt.Errorf("torch: load optimizer state %s: %w", path, err)
	}
	return nil
}

// RNGState returns the state of libtorch's CPU generator (dropout, random
// initialisation), to restore with SetRNGState.
func RNGState() ([]byte, error) {
	p := C.gtl_rng_get_state()
	if err := lastError(); err != nil || p == nil {
		return nil, fmt.Errorf("torch: rng state: %v", err)
	}
	t := ts.New(lib.Ctensor(p))
	defer t.MustDrop()
	return t.Vals().([]uint8), nil
}

// SetRNGState restores a state from RNGState.
func SetRNGState(state []byte) error {
	t, err := ts.OfSlice(state)
	if err != nil {
		return err
	}
	defer t.MustDrop()
	C.gtl_rng_set_state(t.Ctensor())
	if err := lastError(); err != nil {
		return fmt.Errorf("torch: set rng state: %w", err)
	}
	return nil
}
