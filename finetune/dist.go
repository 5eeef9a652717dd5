package finetune

import (
	"errors"
	"fmt"
	"slices"
	"sort"

	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"

	"github.com/gtl-dev/gtl/torch"
)

// Data-parallel training follows PyTorch's DistributedDataParallel with its
// defaults: rank 0's weights and buffers are broadcast at the start; after
// each backward pass the gradients of the trainable parameters are averaged
// over the ranks in flattened buckets (DDP's bucket_cap_mb, 25 MiB), so
// every rank takes the same optimiser step; each rank reads a disjoint
// shard of every epoch's order (DistributedSampler). BatchNorm normalises
// with each rank's own batch statistics (DDP without SyncBatchNorm); the
// running statistics of rank 0 are broadcast after every epoch, before
// validation and checkpoints (DDP's broadcast_buffers does so before every
// forward pass).

// ddp holds a model's variables in a fixed (name) order, so that every rank
// issues the same collectives over the same tensors.
type ddp struct {
	g       *torch.Group
	vs      *nn.VarStore // keeps alive the tensors behind params and buffers
	params  []*ts.Tensor // every variable that is not a buffer, by name
	buffers []*ts.Tensor // BatchNorm running statistics and counters, by name

	// The trainable subset of params, kept between steps: each step reads
	// every parameter's requires_grad in one call (into now) and rebuilds
	// trainable only when the flags changed (a stage frozen or unfrozen).
	list      *torch.TensorList
	rg, now   []bool
	trainable []*ts.Tensor
	known     bool
}

func newDDP(g *torch.Group, vs *nn.VarStore) *ddp {
	d := &ddp{g: g, vs: vs}
	vars := vs.Variables() // copies of the tensors' handles; d.vs keeps them valid
	names := make([]string, 0, len(vars))
	for n := range vars {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		t := vars[n]
		if isBuffer(n) {
			d.buffers = append(d.buffers, &t)
		} else {
			d.params = append(d.params, &t)
		}
	}
	return d
}

// broadcastAll makes every rank start from rank 0's weights and buffers.
func (d *ddp) broadcastAll() error {
	all := append(append([]*ts.Tensor{}, d.params...), d.buffers...)
	if err := d.g.Broadcast(all, 0); err != nil {
		return fmt.Errorf("finetune: broadcast the weights of rank 0: %w", err)
	}
	return nil
}

// broadcastBuffers gives every rank rank 0's BatchNorm running statistics.
func (d *ddp) broadcastBuffers() error {
	if err := d.g.Broadcast(d.buffers, 0); err != nil {
		return fmt.Errorf("finetune: broadcast the batch-norm statistics of rank 0: %w", err)
	}
	return nil
}

// averageGrads averages the gradients of the parameters that are trainable
// now (an unfreezing schedule may change which).
func (d *ddp) averageGrads() error {
	ps, err := d.trainableParams()
	if err != nil {
		return err
	}
	return d.g.AverageGrads(ps)
}

// trainableParams returns the parameters that need a gradient now, in
// name order. The slice is reused from step to step: one cgo call and no
// allocation while the set stays the same.
func (d *ddp) trainableParams() ([]*ts.Tensor, error) {
	if d.list == nil {
		d.list = torch.NewTensorList(d.params)
		d.rg, d.now = make([]bool, len(d.params)), make([]bool, len(d.params))
	}
	if err := d.list.RequiresGrad(d.now); err != nil {
		return nil, fmt.Errorf("finetune: which parameters train: %w", err)
	}
	if d.known && slices.Equal(d.now, d.rg) {
		return d.trainable, nil
	}
	d.trainable = d.trainable[:0]
	for i, p := range d.params {
		if d.now[i] {
			d.trainable = append(d.trainable, p)
		}
	}
	copy(d.rg, d.now)
	d.known = true
	return d.trainable, nil
}

// shardOrder is DistributedSampler's split of an epoch's order: the order
// is padded by repeating its start until its length divides by world, and
// rank takes every world-th item from position rank. The shards are
// disjoint (but for the padding), the same size on every rank, and their
// union is the order: with batches of b per rank, global batch k is the
// order's items k·b·world … (k+1)·b·world-1, as one process with batches
// of b·world would take them.
func shardOrder(order []int, rank, world int) []int {
	if world <= 1 {
		return order
	}
	n := len(order)
	total := (n + world - 1) / world * world
	out := make([]int, 0, total/world)
	for i := rank; i < total; i += world {
		out = append(out, order[i%n])
	}
	return out
}

// shardLen is the length of every rank's shard of n items.
func shardLen(n, world int) int {
	if world <= 1 {
		return n
	}
	return (n + world - 1) / world
}

// idleStep is a rank's step on a batch of which no image loaded: it adds
// zero gradients to the average and takes the common update.
func idleStep(opt *torch.Optimizer, d *ddp) error {
	if err := opt.ZeroGrad(); err != nil {
		return err
	}
	if err := d.averageGrads(); err != nil {
		return err
	}
	return opt.Step()
}

// shareStop makes every rank stop when any rank's OnEpochEnd asked to
// (ErrStop) or failed: it returns this rank's own hook error, else ErrStop
// or an error saying another rank failed, else nil; err is a failed
// collective.
func (t *Trainer) shareStop(hookErr error, e int) (stop, err error) {
	flag := []float64{0}
	switch {
	case hookErr == nil:
	case errors.Is(hookErr, ErrStop):
		flag[0] = 1
	default:
		flag[0] = 2
	}
	if err := t.Dist.AllReduceFloat64(flag, torch.ReduceMax); err != nil {
		return nil, fmt.Errorf("finetune: epoch %d: share the decision to go on: %w", e, err)
	}
	switch {
	case hookErr != nil:
		return hookErr, nil
	case flag[0] == 1:
		return ErrStop, nil
	case flag[0] == 2:
		return fmt.Errorf("finetune: epoch %d: another rank stopped the run with an error (see its log)", e), nil
	}
	return nil, nil
}
