package finetune

import (
	"context"
	"errors"
	"fmt"
	"github.com/gtl-dev/gtl/metrics"
	"math"
	"math/rand/v2"
	"path/filepath"
	"time"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"

	"github.com/gtl-dev/gtl/torch"
	"github.com/gtl-dev/gtl/vision"
	"github.com/gtl-dev/gtl/vision/datasets"
	"github.com/gtl-dev/gtl/vision/loader"
)

// Model is a network that maps a batch of images to logits. The caller of
// Forward owns the returned tensor.
type Model interface {
	Forward(x *ts.Tensor, train bool) (*ts.Tensor, error)
}

// loop is what the training loop reads: the resolved training section of
// the run's RunSpec and the trainer's seed, device, normalisation and
// augmentation (built from that section by Run).
type loop struct {
	TrainSpec
	Seed       uint64
	Device     gotch.Device
	Normalize  vision.Normalize
	Augment    Augmentation
	MultiLabel bool
}

// loop resolves the trainer's settings: zero fields of Train take the
// table's fine-tuning defaults (see TrainSpec.withDefaults), a zero
// CacheLimit DefaultCacheLimit, a zero Device the CPU.
func (t *Trainer) loop() (loop, error) {
	tr, err := t.Train.withDefaults(true)
	if err != nil {
		return loop{}, err
	}
	if tr.CacheLimit == 0 {
		tr.CacheLimit = DefaultCacheLimit
	}
	dev := t.Device
	if dev.Name == "" {
		dev = gotch.CPU
	}
	if err := tr.checkDevice(dev); err != nil {
		return loop{}, err
	}
	return loop{TrainSpec: tr, Seed: t.Seed, Device: dev, Normalize: t.Normalize, Augment: t.Augment, MultiLabel: t.MultiLabel}, nil
}

// Plan is what OnStart learns about the run.
type Plan struct {
	MultiLabel                                    bool // Step.Correct counts exact label-set matches
	Epochs, StepsPerEpoch, TrainImages, ValImages int
	Groups                                        []Group // the optimiser's parameter groups
	// Done is the steps a resumed run's earlier processes trained (0 for a
	// fresh run): the first step this one takes is Done+1 of
	// Epochs·StepsPerEpoch.
	Done int
}

// Step reports one optimisation step.
type Step struct {
	Epoch, Step int     // 1-based epoch, 1-based step within it
	Loss        float64 // this batch's mean loss
	Images      int     // images in this batch
	// Correct is how many of them were classified right before the
	// update: the label at the largest logit; for a multi-label run
	// (Plan.MultiLabel) the whole label set at 0.5 (exact match: every
	// class's sigmoid above 0.5 exactly where its target is above 0.5).
	Correct int
	Skipped []string // images of this batch that did not load (OnBadImage "skip")
	LR      float64  // the head's learning rate for this step
}

// Epoch reports one finished epoch.
type Epoch struct {
	Epoch                int
	TrainLoss            float64 // mean over the epoch's batches
	ValLoss, ValAccuracy float64 // NaN when there is no validation set
	Duration             time.Duration
	Skipped              []string // images that did not load this epoch (OnBadImage "skip")

	// ValBalancedAccuracy (mean recall over the classes) and ValMacroF1
	// (mean F1), see metrics.Report; NaN when there is no validation set.
	ValBalancedAccuracy, ValMacroF1 float64
	// ValMultiLabel is a multi-label run's validation (ValAccuracy then
	// holds its mAP, ValMacroF1 its macro F1); nil otherwise.
	ValMultiLabel *metrics.MultiLabel
}

// Hooks are called on the torch worker thread at the named points of the
// loop. Any may be nil. An error from OnEpochEnd stops training (use
// ErrStop to stop without failing).
type Hooks struct {
	OnStart    func(Plan)
	OnStep     func(Step)
	OnEpochEnd func(Epoch) error
}

// ErrStop, returned by a hook, ends training early without an error.
var ErrStop = errors.New("finetune: stop")

// Result summarises a finished run.
type Result struct {
	Epochs   []Epoch
	Duration time.Duration
	// Stopped is where a run that stopped early stopped (a hook's ErrStop,
	// or the trainer's context: see Trainer.Stop), nil otherwise. With a
	// StateDir, a resumable state was committed there.
	Stopped *StopPoint
	// Report is the last validation's (with a validation set): after the
	// last epoch, of the model as the run leaves it.
	Report *Report
	// PrefixCache is set by fitPrefixCached: the frozen prefix it cached.
	PrefixCache *PrefixCache
}

// StopPoint is where a run stopped: after step Step of epoch Epoch
// (Step is the epoch's step count when it stopped at the epoch's end;
// epoch 1 step 0 when it stopped before its first step, with nothing to
// resume).
type StopPoint struct{ Epoch, Step, StepsPerEpoch int }

// MidEpoch reports whether the run stopped inside an epoch.
func (p StopPoint) MidEpoch() bool { return p.Step < p.StepsPerEpoch }

// Trainer is the training loop of one model: Fit picks how its data is
// served (in memory, streamed, cached features, cached frozen prefix) and
// every way runs the same epochs and the same step (see Stepper). Worker
// defaults to the process-wide torch worker.
type Trainer struct {
	// Train is the run's training settings (RunSpec.Train, resolved); zero
	// fields take the defaults of TrainSpec's table for fine-tuning.
	Train     TrainSpec
	Seed      uint64           // seeds the shuffling and libtorch's generator
	Device    gotch.Device     // holds the model; batches are moved there (default CPU)
	Normalize vision.Normalize // applied to every batch; default none
	// Augment varies the training images (built from Train by Run); the
	// zero value trains on them as they are.
	Augment Augmentation
	// MultiLabel trains a multi-label classifier (DataSpec.MultiLabel):
	// the training and validation images must carry Tags; every batch
	// goes through the loader with multi-hot targets, the loss is binary
	// cross-entropy, and validation reports mAP as its accuracy (see
	// reportMultiLabel). Default false.
	MultiLabel bool
	Hooks      Hooks
	Worker     *torch.Worker
	// StateDir, when set, receives at the epochs SaveEvery selects, the
	// last one and a stop (once OnEpochEnd has succeeded), and at the steps
	// CheckpointEvery selects, what a resumed run needs, committed as one
	// unit (see trainerState): the weights, the optimiser's state, the
	// loop's position and random state.
	StateDir string
	// Resume continues the run committed in StateDir: Fit loads its
	// weights into the model (the caller's are replaced; the model must be
	// of the same architecture) and runs the remaining epochs — from the
	// committed step, when a state was committed mid-epoch — with the same
	// batches, augmentation and rates as an uninterrupted run.
	Resume bool
	// SaveEvery commits the state (and the run's checkpoints) after every
	// SaveEvery-th epoch; default 0: after every epoch once the run's pace
	// projects it over a minute (AutoSaveAfter), else only at the last
	// epoch. A stop always commits. Negative: as 0.
	SaveEvery int
	// CheckpointEvery, when above 0, also commits the state after every
	// CheckpointEvery-th optimisation step (counted over the run) that
	// ends inside an epoch, so that a long epoch can be resumed where it
	// was. Not in a data-parallel run.
	CheckpointEvery int
	// Stop, when set, is checked after every step: once it is done, the
	// run stops at that step boundary, commits a resumable state (with a
	// StateDir) and returns with Result.Stopped set. A data-parallel run
	// checks it at epoch ends only (the ranks must stop together).
	Stop context.Context
	// saveOnly, when set, selects the variables the state holds (a run on
	// cached features trains only the head); checkpoints writes the last
	// and best checkpoints at the trainer's commits (Run's runWriter).
	saveOnly    func(name string) bool
	checkpoints checkpointer
	// early, when set, is the run's early stopping (Fit's): its state is
	// committed with the trainer's and resumed with it, and a run resumed
	// after its stop trains no further epoch.
	early *earlyStopper
	// finite, when set, names the model's tensors holding NaN or Inf
	// (vision.Model.CheckFinite): run after every epoch, before validation
	// and the checkpoints, so that a non-finite weight or batch-norm
	// statistic stops the run as a non-finite loss does.
	finite func() error
	// finder, when set, makes run sweep the learning rate (LR finder)
	// instead of training, and leave the weights as they were.
	finder *lrFinder
	// Dist, when set, makes this process one rank of a data-parallel run
	// (PyTorch DDP semantics, see dist.go): Config.BatchSize is per rank
	// (the global batch is BatchSize × world size; the learning rate is
	// not rescaled), each rank trains on its shard of every epoch, and
	// validation is sharded and reduced, so every rank returns the same
	// Result. OnStart and OnStep (reporting) run on rank 0 only;
	// OnEpochEnd runs on every rank with the same Epoch, since it may change
	// the model (unfreezing): it should write files on rank 0 only. A stop
	// or an error from it on any rank stops every rank. StateDir is written
	// by rank 0; a resumed run needs it on every rank. The caller owns the
	// group.
	Dist *torch.Group
	// The training labels and class names (set by Fit, or by the fit
	// entry points from their data), the loss's class weights when Fit
	// resolved them, and the balanced sampler's labels during a run (see
	// sampler.go).
	labels       []int
	classNames   []string
	classWeights []float64
	sample       []int
}

// useLabels records the training labels for class weights and the
// balanced sampler, unless Fit did.
func (t *Trainer) useLabels(labels []int, names []string) {
	if t.labels == nil {
		t.labels, t.classNames = labels, names
	}
}

// rank0 reports whether this process reports and writes for the run.
func (t *Trainer) rank0() bool { return t.Dist == nil || t.Dist.Rank() == 0 }

func (t *Trainer) world() (rank, world int) {
	if t.Dist == nil {
		return 0, 1
	}
	return t.Dist.Rank(), t.Dist.World()
}

func (t *Trainer) worker() *torch.Worker {
	if t.Worker != nil {
		return t.Worker
	}
	return torch.Default()
}

// Fit trains m, whose trainable parameters live in vs, on train with
// cross-entropy, and evaluates on val (which may be nil) after every
// epoch. With augmentation the loader's workers prepare the batches.
func (t *Trainer) Fit(m Model, vs *nn.VarStore, train, val *datasets.Images) (*Result, error) {
	cfg, err := t.loop()
	if err != nil {
		return nil, err
	}
	if train == nil || train.Len() == 0 {
		return nil, fmt.Errorf("finetune: empty training set")
	}
	t.useLabels(train.Labels, train.Classes)
	if cfg.Augment.Active() || cfg.MultiLabel { // (multi-hot targets come from the loader)
		return t.fitSource(m, vs, loader.FromImages(train), len(train.Classes), train.Height, val)
	}
	return t.fit(m, vs, cfg, train.Len(), fromBatcher(imageBatches(train, cfg), cfg.Batch), val)
}

// fitSource is Fit on images that the loader's Go workers read (decoding
// files, for loader.FromFiles), augment and normalise ahead of the torch
// thread, at size×size.
func (t *Trainer) fitSource(m Model, vs *nn.VarStore, train loader.Source, classes, size int, val *datasets.Images) (*Result, error) {
	cfg, err := t.loop()
	if err != nil {
		return nil, err
	}
	if train == nil || train.Len() == 0 {
		return nil, fmt.Errorf("finetune: empty training set")
	}
	l, err := newLoader(train, classes, size, cfg)
	if err != nil {
		return nil, err
	}
	return t.fit(m, vs, cfg, train.Len(), fromLoader(l, cfg.Device), val)
}

func (t *Trainer) fit(m Model, vs *nn.VarStore, cfg loop, n int, train trainSource, val *datasets.Images) (*Result, error) {
	var vset evalSet
	if val != nil && val.Len() > 0 {
		vset = evalSet{n: val.Len(), batches: imageBatches(val, cfg), classes: val.Classes}
		if cfg.MultiLabel {
			if val.Tags == nil {
				return nil, fmt.Errorf("finetune: multi-label: the validation images carry no tags")
			}
			vset.tags = val.Tags
		}
	}
	return t.run(m, vs, cfg, func() (*torch.Optimizer, []Group, error) { return newOptimizer(m, vs, cfg) },
		n, train, vset)
}

// batcher returns the inputs and labels of the items at idx; the caller
// owns both tensors.
type batcher func(idx []int) (x, y *ts.Tensor, err error)

func imageBatches(data *datasets.Images, cfg loop) batcher {
	return func(idx []int) (*ts.Tensor, *ts.Tensor, error) {
		x, y, err := vision.Batch(data, idx, cfg.Normalize)
		if err != nil {
			return nil, nil, err
		}
		return toDevice(x, y, cfg.Device)
	}
}

// toDevice moves a batch to dev (a no-op on the CPU), freeing the CPU
// copies.
func toDevice(x, y *ts.Tensor, dev gotch.Device) (*ts.Tensor, *ts.Tensor, error) {
	if !dev.IsCuda() {
		return x, y, nil
	}
	dx, err := x.To(dev, true)
	if err != nil {
		y.MustDrop()
		return nil, nil, fmt.Errorf("finetune: batch to %v: %w", dev, err)
	}
	dy, err := y.To(dev, true)
	if err != nil {
		dx.MustDrop()
		return nil, nil, fmt.Errorf("finetune: labels to %v: %w", dev, err)
	}
	return dx, dy, nil
}

// run is the training loop shared by Fit and fitCached: seed, optimiser,
// epochs of shuffled batches, evaluation, hooks.
func (t *Trainer) run(m Model, vs *nn.VarStore, cfg loop, newOpt func() (*torch.Optimizer, []Group, error), nTrain int, train trainSource, val evalSet) (*Result, error) {
	if t.finder != nil {
		return t.sweep(m, vs, cfg, newOpt, nTrain, train)
	}
	res := &Result{}
	start := time.Now()
	err := t.worker().Do(func() error {
		if err := torch.ManualSeed(int64(cfg.Seed)); err != nil {
			return err
		}
		opt, groups, err := newOpt()
		if err != nil {
			return err
		}
		defer opt.Close()
		imb, err := t.imbalance(cfg)
		if err != nil {
			return err
		}
		t.sample = imb.sampler
		var d *ddp
		if t.Dist != nil {
			d = newDDP(t.Dist, vs)
			if err := d.broadcastAll(); err != nil {
				return err
			}
		}
		var sync func() error
		if d != nil {
			sync = d.averageGrads
		}
		stepper := newStepper(m, opt, cfg, sync)
		defer stepper.Close()
		if err := stepper.setClassWeights(imb.weights); err != nil {
			return err
		}
		_, world := t.world()
		steps := StepsPerEpoch(shardLen(nTrain, world), cfg.Batch)
		if d != nil && t.CheckpointEvery > 0 {
			return fmt.Errorf("finetune: checkpoints inside epochs (CheckpointEvery %d) are not supported in a data-parallel run", t.CheckpointEvery)
		}
		rng := rand.New(rand.NewPCG(cfg.Seed, 0x66742d73))
		lr, err := newLRSchedule(opt, cfg, cfg.Epochs*steps)
		if err != nil {
			return err
		}
		var st trainerState
		if t.Resume { // the committed weights, before the average copies them
			if st, err = t.restore(stepper, vs, cfg); err != nil {
				return err
			}
			if st.Step >= steps {
				return fmt.Errorf("finetune: resume: %s: step %d of epoch %d, which has %d steps in this run", filepath.Join(t.StateDir, stateFile), st.Step, st.Epoch+1, steps)
			}
			if t.early != nil {
				if err := t.early.resume(st.EarlyStop, st.Epoch, t.StateDir, vs, t.saveOnly); err != nil {
					return err
				}
			}
		}
		if t.Hooks.OnStart != nil && t.rank0() {
			t.Hooks.OnStart(Plan{MultiLabel: cfg.MultiLabel, Epochs: cfg.Epochs, StepsPerEpoch: steps, TrainImages: nTrain, ValImages: val.n, Groups: groups, Done: st.Epoch*steps + st.Step})
		}
		var avg *ema
		if cfg.EMA > 0 {
			if avg, err = newEMA(vs, cfg.EMA); err != nil {
				return err
			}
			defer avg.close()
		}
		first := 1
		from := 0             // the first epoch's first step (0-based)
		var part partialEpoch // what that epoch had accumulated before
		if t.Resume {
			done := st.Epoch
			if avg != nil {
				name := st.TrainWeights
				if name == "" {
					name = emaFile
				}
				n := st.EMASteps
				if n == 0 { // a state that did not record it
					n = done * steps
				}
				if err := avg.resume(filepath.Join(t.StateDir, name), n, t.saveOnly); err != nil {
					return err
				}
			}
			for e := 1; e <= done; e++ {
				rng.Perm(nTrain) // the batches of the epochs already done
			}
			first = done + 1
			from, part = st.Step, partialEpoch{LossSum: st.LossSum, Skipped: st.Skipped, Seconds: st.Seconds}
		}
		began := time.Now()
		commit := func(pos position, part partialEpoch, swapped bool) error {
			if !t.rank0() {
				return nil
			}
			if t.checkpoints != nil {
				if err := t.checkpoints.flush(); err != nil {
					return err
				}
			}
			if t.StateDir == "" {
				return nil
			}
			return t.saveState(stepper, vs, avg, cfg, pos, part, swapped)
		}
		for e := first; e <= cfg.Epochs && !t.early.stopped(); e++ {
			if d == nil && t.stopRequested() { // before this epoch draws anything
				// Before this process's first step the committed state (if
				// any) stands. After an epoch of its own, the stop came after
				// that epoch's check (while its checkpoints were written):
				// commit the epoch-end state a run that saves only at its end
				// did not write.
				if e > first {
					if err := commit(position{Epoch: e - 1}, partialEpoch{}, false); err != nil {
						return err
					}
				}
				res.Stopped = &StopPoint{Epoch: e, Step: from, StepsPerEpoch: steps}
				return ErrStop
			}
			ep, stopped, err := t.epoch(stepper, opt, avg, d, lr, nTrain, train, cfg, rng, e, steps, from, part, commit)
			from, part = 0, partialEpoch{}
			if err != nil {
				return err
			}
			if stopped >= 0 {
				res.Stopped = &StopPoint{Epoch: e, Step: stopped, StepsPerEpoch: steps}
				return ErrStop
			}
			if d != nil {
				loss := []float64{ep.TrainLoss}
				if err := t.Dist.AllReduceFloat64(loss, torch.ReduceAvg); err != nil {
					return fmt.Errorf("finetune: epoch %d: %w", e, err)
				}
				ep.TrainLoss = loss[0]
				if err := d.broadcastBuffers(); err != nil {
					return err
				}
			}
			if avg != nil { // validation, hooks and checkpoints see the average
				if err := avg.swap(); err != nil {
					return err
				}
			}
			if t.finite != nil {
				if err := t.finite(); err != nil {
					var nf *vision.NonFiniteError
					if errors.As(err, &nf) {
						return &DivergedError{Epoch: e, Step: steps, Loss: ep.TrainLoss, NonFinite: nf.Tensors}
					}
					return err
				}
			}
			ep.ValLoss, ep.ValAccuracy, ep.ValBalancedAccuracy, ep.ValMacroF1 = math.NaN(), math.NaN(), math.NaN(), math.NaN()
			if val.n > 0 && (e%cfg.EvalEvery == 0 || e == cfg.Epochs) {
				r, err := t.report(m, val, cfg.Batch)
				if err != nil {
					return err
				}
				ep.ValLoss, ep.ValAccuracy, res.Report = r.Loss, r.Top1, r
				ep.ValBalancedAccuracy, ep.ValMacroF1, ep.ValMultiLabel = r.BalancedAccuracy, r.MacroF1, r.MultiLabel
			}
			res.Epochs = append(res.Epochs, ep)
			var hookErr error
			if t.Hooks.OnEpochEnd != nil {
				hookErr = t.Hooks.OnEpochEnd(ep)
			}
			if hookErr == nil && t.stopRequested() {
				hookErr = ErrStop
			}
			if d != nil { // a stop on any rank stops them all
				if hookErr, err = t.shareStop(hookErr, e); err != nil {
					return err
				}
			}
			if hookErr != nil && !errors.Is(hookErr, ErrStop) {
				return hookErr
			}
			// Also when stopping early: the epoch is complete.
			save := hookErr != nil || e == cfg.Epochs || t.saveDue(e, first, cfg.Epochs, began)
			if t.checkpoints != nil && t.rank0() {
				if err := t.checkpoints.epochEnd(save); err != nil {
					return err
				}
			}
			if save {
				if err := commit(position{Epoch: e}, partialEpoch{}, true); err != nil {
					return err
				}
			}
			if hookErr != nil { // the model keeps the average
				res.Stopped = &StopPoint{Epoch: e, Step: steps, StepsPerEpoch: steps}
				return hookErr
			}
			if avg != nil && e < cfg.Epochs { // train on; after the last epoch the model keeps the average
				if err := avg.swap(); err != nil {
					return err
				}
			}
		}
		return nil
	})
	res.Duration = time.Since(start)
	if errors.Is(err, ErrStop) {
		err = nil
	}
	if err != nil {
		return nil, err
	}
	return res, nil
}

// StepsPerEpoch returns the optimisation steps of an epoch over n images in
// batches of b: the last, incomplete batch is dropped (as fastai's training
// loader does), since a batch of one image gives batch norm a zero
// variance — libtorch then makes the running variance NaN where PyTorch
// would refuse — and a tiny one gives noisy statistics. A set smaller than
// one batch is one step.
func StepsPerEpoch(n, b int) int {
	return max(1, n/b)
}

// optimizerOptions maps the configuration to libtorch's optimiser.
func optimizerOptions(cfg loop) torch.OptimizerOptions {
	if cfg.Optimizer == "adamw" {
		return torch.OptimizerOptions{Kind: torch.AdamW}
	}
	return torch.OptimizerOptions{Kind: torch.SGD, Momentum: cfg.Momentum}
}

// newOptimizer builds SGD over the model's stages (with discriminative
// rates) for a vision.Model, or over all trainable variables otherwise.
func newOptimizer(m Model, vs *nn.VarStore, cfg loop) (*torch.Optimizer, []Group, error) {
	o := optimizerOptions(cfg)
	if vm, ok := m.(*vision.Model); ok {
		return NewStageOptimizer(vm, o, StageLRs(len(vm.Stages), cfg.LR, cfg.LRDecay), cfg.WeightDecay)
	}
	opt, err := torch.NewOptimizer(o)
	if err != nil {
		return nil, nil, err
	}
	g := Group{Stage: "all", LR: cfg.LR, WeightDecay: cfg.WeightDecay, Trainable: true}
	for _, v := range vs.TrainableVariables() {
		if err := opt.Add(0, cfg.LR, cfg.WeightDecay, v); err != nil {
			opt.Close()
			return nil, nil, err
		}
		g.Tensors++
		g.Params += int64(v.Numel())
	}
	return opt, []Group{g}, nil
}

// lrSchedule sets every group's rate to its base rate times the schedule's
// multiplier before each step.
type lrSchedule struct {
	opt   *torch.Optimizer
	base  []float64
	sched Schedule
	total int
}

func newLRSchedule(opt *torch.Optimizer, cfg loop, total int) (*lrSchedule, error) {
	sched, err := ParseSchedule(cfg.Schedule, cfg.Warmup)
	if err != nil {
		return nil, err
	}
	l := &lrSchedule{opt: opt, sched: sched, total: total}
	for g := 0; g < opt.Groups(); g++ {
		lr, err := opt.LR(g)
		if err != nil {
			return nil, err
		}
		l.base = append(l.base, lr)
	}
	return l, nil
}

// apply sets the rates for step i and returns the last (head) group's,
// as libtorch holds it.
func (l *lrSchedule) apply(i int) (float64, error) {
	f := l.sched(i, l.total)
	for g, b := range l.base {
		if err := l.opt.SetLR(g, b*f); err != nil {
			return 0, err
		}
	}
	return l.opt.LR(len(l.base) - 1)
}

// saveDue reports whether the state is committed after epoch e when the
// run neither stops nor ends there (see SaveEvery): first is this
// process's first epoch, began when it started training.
func (t *Trainer) saveDue(e, first, epochs int, began time.Time) bool {
	if t.SaveEvery > 0 {
		return e%t.SaveEvery == 0
	}
	perEpoch := time.Since(began) / time.Duration(e-first+1)
	return perEpoch*time.Duration(epochs) >= AutoSaveAfter
}

// AutoSaveAfter is the projected run length from which a run commits its
// state after every epoch by default (Trainer.SaveEvery 0); shorter runs
// commit at their end (and when stopped), since redoing them costs less
// than writing their weights every epoch.
const AutoSaveAfter = time.Minute

// stopRequested reports whether the trainer's Stop context is done.
func (t *Trainer) stopRequested() bool { return t.Stop != nil && t.Stop.Err() != nil }

// epoch trains epoch e from its step from (0-based; a resumed run's
// committed step, whose partial epoch part holds what was accumulated
// before). After each step inside the epoch it commits a state when
// CheckpointEvery says so or Stop is done; on a stop it returns the steps
// done (-1 otherwise).
func (t *Trainer) epoch(st *Stepper, opt *torch.Optimizer, avg *ema, d *ddp, lr *lrSchedule, n int, train trainSource, cfg loop, rng *rand.Rand, e, steps, from int,
	part partialEpoch, commit func(position, partialEpoch, bool) error) (Epoch, int, error) {
	began := time.Now().Add(-time.Duration(part.Seconds * float64(time.Second)))
	rank, world := t.world()
	all, err := t.order(rng, n, e, cfg)
	if err != nil {
		return Epoch{}, -1, err
	}
	order := shardOrder(all, rank, world) // the same order on every rank
	it := train(order[:min(len(order), steps*cfg.Batch)], e, from)
	defer it.close()
	sum := part.LossSum
	skipped := append([]string(nil), part.Skipped...)
	for s := from; s < steps; s++ {
		if s > from { // a step boundary inside the epoch, after a step of this process
			g := (e-1)*steps + s // steps done in the run
			stop := d == nil && t.stopRequested()
			if stop || t.CheckpointEvery > 0 && g%t.CheckpointEvery == 0 {
				p := partialEpoch{LossSum: sum, Skipped: skipped, Seconds: time.Since(began).Seconds()}
				if err := commit(position{Epoch: e - 1, Step: s}, p, false); err != nil {
					return Epoch{}, -1, err
				}
				if stop {
					return Epoch{}, s, nil
				}
			}
		}
		b, err := it.next()
		if err != nil {
			return Epoch{}, -1, fmt.Errorf("finetune: epoch %d step %d: %w", e, s+1, err)
		}
		if b == nil {
			return Epoch{}, -1, fmt.Errorf("finetune: epoch %d: %d batches, want %d", e, s, steps)
		}
		skipped = append(skipped, b.skipped...)
		rate, err := lr.apply((e-1)*steps + s)
		if err != nil {
			b.free()
			return Epoch{}, -1, err
		}
		if b.n == 0 { // every image of the batch was skipped
			if d != nil { // the other ranks still wait for this one's gradients
				if err := idleStep(opt, d); err != nil {
					return Epoch{}, -1, fmt.Errorf("finetune: epoch %d step %d: %w", e, s+1, err)
				}
			}
			continue
		}
		loss, correct, err := st.run(b)
		if err != nil {
			return Epoch{}, -1, fmt.Errorf("finetune: epoch %d step %d: %w", e, s+1, err)
		}
		if math.IsNaN(loss) || math.IsInf(loss, 0) {
			return Epoch{}, -1, &DivergedError{Epoch: e, Step: s + 1, LR: rate, Loss: loss}
		}
		if avg != nil {
			if err := avg.update(); err != nil {
				return Epoch{}, -1, err
			}
		}
		sum += loss
		if t.Hooks.OnStep != nil && t.rank0() {
			t.Hooks.OnStep(Step{Epoch: e, Step: s + 1, Loss: loss, Images: b.n, Correct: correct, LR: rate, Skipped: b.skipped})
		}
	}
	return Epoch{Epoch: e, TrainLoss: sum / float64(steps), Duration: time.Since(began), Skipped: skipped}, -1, nil
}

// Stepper is gtl's one training step: forward (under autocast with
// TrainSpec.AMP), cross-entropy (soft targets with Mixup/CutMix, label
// smoothing), backward (of the scaled loss with fp16), data-parallel
// gradient averaging, unscaling and clipping, and the optimiser's update.
// Every Fit path steps through it, and so does gtl bench, which therefore
// times exactly the step gtl train runs. It runs on the torch thread.
type Stepper struct {
	m            Model
	opt          *torch.Optimizer
	dev          gotch.Device
	amp          torch.AMP
	smoothing    float64
	clip         float64
	channelsLast bool
	scaler       *gradScaler  // fp16 only
	weight       *ts.Tensor   // the loss's class weights [K]; nil: none (see setClassWeights)
	sync         func() error // between backward and update; nil: one process
	ownOpt       bool
	multiLabel   bool // binary cross-entropy against multi-hot targets (DataSpec.MultiLabel)
}

func newStepper(m Model, opt *torch.Optimizer, cfg loop, sync func() error) *Stepper {
	s := &Stepper{m: m, opt: opt, dev: cfg.Device, amp: cfg.amp(), smoothing: cfg.LabelSmoothing, clip: cfg.ClipGrad,
		channelsLast: cfg.ChannelsLast, sync: sync, multiLabel: cfg.MultiLabel}
	if s.amp == torch.AMPFloat16 {
		s.scaler = newGradScaler()
	}
	return s
}

// NewStepper returns the training step gtl train takes for m with the
// settings train (resolved or not: zero fields take the fine-tuning
// defaults) on dev: the optimiser over m's stages with their rates and
// weight decay, mixed precision, channels-last (m's 4-D weights are
// converted here), clipping and label smoothing. The device settings of
// train (CuDNNBenchmark, TF32) are applied process-wide. Call it and Step
// on the torch thread; Close frees the optimiser.
func NewStepper(m *vision.Model, train TrainSpec, dev gotch.Device) (*Stepper, error) {
	cfg, err := (&Trainer{Train: train, Device: dev}).loop()
	if err != nil {
		return nil, err
	}
	if err := applyDevice(m, cfg); err != nil {
		return nil, err
	}
	opt, _, err := newOptimizer(m, m.VS, cfg)
	if err != nil {
		return nil, err
	}
	s := newStepper(m, opt, cfg, nil)
	s.ownOpt = true
	return s, nil
}

// applyDevice applies the device settings of cfg: cuDNN benchmark and TF32
// (process-wide, CUDA only) and channels-last weights.
func applyDevice(m *vision.Model, cfg loop) error {
	if cfg.Device.IsCuda() {
		if err := torch.SetCuDNNBenchmark(cfg.CuDNNBenchmark); err != nil {
			return err
		}
		if err := torch.SetAllowTF32(cfg.TF32); err != nil {
			return err
		}
	}
	if cfg.ChannelsLast && m != nil {
		vars := m.VS.Variables()
		all := make([]*ts.Tensor, 0, len(vars))
		for _, name := range sortedKeys(vars) {
			v := vars[name]
			all = append(all, &v)
		}
		return torch.SetChannelsLast(all...)
	}
	return nil
}

// Close frees the optimiser of a Stepper made by NewStepper, and the
// class weights.
func (s *Stepper) Close() {
	if s.ownOpt {
		s.opt.Close()
	}
	if s.weight != nil {
		s.weight.MustDrop()
		s.weight = nil
	}
}

// Step trains on one batch: x [N, C, H, W] and labels y [N] (int64) on the
// step's device, both still the caller's. It returns the batch's mean loss
// and how many images the model (before the update) classified right. A
// non-finite loss is returned without touching the weights.
func (s *Stepper) Step(x, y *ts.Tensor) (loss float64, correct int, err error) {
	return s.step(x, y, nil)
}

// run is Step on a training batch, which it frees.
func (s *Stepper) run(b *trainBatch) (float64, int, error) {
	defer b.free()
	return s.step(b.x, b.y, b.soft)
}

func (s *Stepper) step(x, y, soft *ts.Tensor) (float64, int, error) {
	if s.channelsLast && x.Dim() == 4 {
		cl, err := torch.ChannelsLast(x)
		if err != nil {
			return 0, 0, err
		}
		defer cl.MustDrop()
		x = cl
	}
	var logits, loss *ts.Tensor
	err := torch.Autocast(s.dev, s.amp, func() error {
		var err error
		if logits, err = s.m.Forward(x, true); err != nil {
			return err
		}
		loss, err = s.loss(logits, y, soft)
		if err != nil {
			return fmt.Errorf("loss: %w", err)
		}
		return nil
	})
	if logits != nil {
		defer logits.MustDrop()
	}
	if err != nil {
		return 0, 0, err
	}
	defer loss.MustDrop()
	v, err := loss.Float64Value([]int64{})
	if err != nil {
		return 0, 0, fmt.Errorf("read loss: %w", err)
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return v, 0, nil // the caller stops before the weights are touched
	}
	var correct int
	if s.multiLabel {
		correct, err = countExactMatch(logits, soft)
	} else {
		correct, err = countCorrect(logits, y)
	}
	if err != nil {
		return 0, 0, err
	}
	if err := s.opt.ZeroGrad(); err != nil {
		return 0, 0, err
	}
	back := loss
	if s.scaler != nil {
		if back, err = loss.MulScalar(ts.FloatScalar(s.scaler.scale), false); err != nil {
			return 0, 0, fmt.Errorf("scale loss: %w", err)
		}
		defer back.MustDrop()
	}
	if err := back.Backward(); err != nil {
		return 0, 0, fmt.Errorf("backward: %w", err)
	}
	if s.sync != nil {
		if err := s.sync(); err != nil {
			return 0, 0, err
		}
	}
	if s.scaler != nil {
		nonFinite, err := s.opt.UnscaleGrads(1 / s.scaler.scale)
		if err != nil {
			return 0, 0, err
		}
		if !s.scaler.update(nonFinite) { // an overflow: skip the update, as GradScaler.step does
			return v, correct, nil
		}
	}
	if s.clip > 0 {
		if _, err := s.opt.ClipGradNorm(s.clip); err != nil {
			return 0, 0, err
		}
	}
	if err := s.opt.Step(); err != nil {
		return 0, 0, err
	}
	return v, correct, nil
}

// gradScaler is torch.cuda.amp.GradScaler's dynamic loss scale with its
// defaults: init_scale 2^16, growth_factor 2, backoff_factor 0.5,
// growth_interval 2000.
type gradScaler struct {
	scale float64
	good  int // clean steps since the last change
}

func newGradScaler() *gradScaler { return &gradScaler{scale: 1 << 16} }

// update records a step's gradients (non-finite or not) and reports
// whether the optimiser may step: not after an overflow, which halves the
// scale; 2000 clean steps in a row double it.
func (g *gradScaler) update(nonFinite bool) bool {
	if nonFinite {
		g.scale *= 0.5
		g.good = 0
		return false
	}
	if g.good++; g.good == 2000 {
		g.scale *= 2
		g.good = 0
	}
	return true
}

// softCrossEntropy is the mean over the batch of -Σ soft·log_softmax(logits)
// (Mixup/CutMix targets, label smoothing included in them).
func softCrossEntropy(logits, soft *ts.Tensor) (*ts.Tensor, error) {
	logp, err := logits.LogSoftmax(1, gotch.Float, false)
	if err != nil {
		return nil, err
	}
	prod, err := logp.Mul(soft, true)
	if err != nil {
		return nil, err
	}
	sum, err := prod.SumDimIntlist([]int64{1}, false, gotch.Float, true)
	if err != nil {
		return nil, err
	}
	mean, err := sum.Mean(gotch.Float, true)
	if err != nil {
		return nil, err
	}
	return mean.MulScalar(ts.FloatScalar(-1), true)
}

// countExactMatch returns how many rows of logits [N, K] predict exactly
// the label set of targets [N, K] (multi-hot, or mixed by Mixup/CutMix):
// every class's logit is above 0 (sigmoid above 0.5) exactly where its
// target is above 0.5 (scikit-learn's subset accuracy at threshold 0.5).
func countExactMatch(logits, targets *ts.Tensor) (int, error) {
	if targets == nil {
		return 0, fmt.Errorf("finetune: multi-label step: the batch has no multi-hot targets")
	}
	var n int
	err := torch.WithoutGrad(func() error {
		pred, err := logits.Gt(ts.FloatScalar(0), false)
		if err != nil {
			return err
		}
		want, err := targets.Gt(ts.FloatScalar(0.5), false)
		if err != nil {
			pred.MustDrop()
			return err
		}
		eq, err := pred.EqTensor(want, true)
		want.MustDrop()
		if err != nil {
			return err
		}
		all, err := eq.AllDim(1, false, true)
		if err != nil {
			return err
		}
		s, err := all.Sum(gotch.Int64, true)
		if err != nil {
			return err
		}
		n = int(s.Int64Values(true)[0])
		return nil
	})
	return n, err
}

// countCorrect returns how many rows of logits have their largest value at
// the label of y (no gradients recorded).
func countCorrect(logits, y *ts.Tensor) (int, error) {
	var n int
	err := torch.WithoutGrad(func() error {
		pred, err := logits.Argmax([]int64{1}, false, false)
		if err != nil {
			return err
		}
		eq, err := pred.EqTensor(y, true)
		if err != nil {
			return err
		}
		s, err := eq.Sum(gotch.Int64, true)
		if err != nil {
			return err
		}
		n = int(s.Int64Values(true)[0])
		return nil
	})
	return n, err
}

// Evaluate returns the mean cross-entropy and the top-1 accuracy of m on
// data, in eval mode without gradients, with the trainer's batch size and
// normalisation.
func (t *Trainer) Evaluate(m Model, data *datasets.Images) (loss, accuracy float64, err error) {
	r, err := t.Report(m, data)
	if err != nil {
		return 0, 0, err
	}
	return r.Loss, r.Top1, nil
}
