package finetune

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"time"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"

	"github.com/gtl-dev/gtl/vision"
	"github.com/gtl-dev/gtl/vision/datasets"
	"github.com/gtl-dev/gtl/vision/loader"
	"github.com/gtl-dev/gtl/vision/torch"
)

// Model is a network that maps a batch of images to logits. The caller of
// Forward owns the returned tensor.
type Model interface {
	Forward(x *ts.Tensor, train bool) (*ts.Tensor, error)
}

// Config sets up a training run. The zero value of each field means its
// default.
type Config struct {
	Epochs    int     // passes over the training set; default 3
	BatchSize int     // images per step; default 64
	LR        float64 // SGD learning rate; default 0.01
	Momentum  float64 // SGD momentum; default 0.9 (negative: none)
	// LRDecay gives the stage k below the head of a vision.Model the rate
	// LR·LRDecay^k (discriminative learning rates); default 1 (one rate).
	LRDecay float64
	// WeightDecay applies to weights, never to biases and normalisation
	// parameters; default 0.
	WeightDecay float64
	// Optimizer is "sgd" (default; with Momentum) or "adamw".
	Optimizer string
	// Schedule names the learning-rate schedule (see ParseSchedule);
	// default "constant". Warmup is the fraction of steps spent warming up.
	Schedule string
	Warmup   float64
	// LabelSmoothing mixes the one-hot targets with the uniform
	// distribution; default 0.
	LabelSmoothing float64
	// ClipNorm caps the global L2 norm of the gradients before each update;
	// default 0 (no clipping).
	ClipNorm float64
	// EMA, when above 0, keeps an exponential moving average of the
	// weights with this decay (e.g. 0.999; warmed up, see ema): validation
	// and the hooks of each epoch see the averaged weights. Default 0 (off).
	EMA float64
	// EvalEvery validates after every this many epochs (and after the
	// last); default 1. Epochs without validation report NaN.
	EvalEvery int
	Seed      uint64 // seeds the shuffling and libtorch's generator; default 0
	// Augment varies the training images (Fit and FitSource); the zero
	// value trains on them as they are.
	Augment Augmentation
	// Device holds the model; batches are moved there. Default CPU.
	Device    gotch.Device
	Normalize vision.Normalize // applied to every batch; default none
	// CacheLimit caps, in bytes, the frozen-stage activations of the
	// training and validation images that FitPrefixCached keeps; default
	// DefaultCacheLimit (2 GiB); negative: never cache.
	CacheLimit int64
}

func (c Config) withDefaults() (Config, error) {
	if c.Epochs == 0 {
		c.Epochs = 3
	}
	if c.BatchSize == 0 {
		c.BatchSize = 64
	}
	if c.LR == 0 {
		c.LR = 0.01
	}
	switch {
	case c.Momentum == 0:
		c.Momentum = 0.9
	case c.Momentum < 0:
		c.Momentum = 0
	}
	if c.LRDecay == 0 {
		c.LRDecay = 1
	}
	if c.Device.Name == "" {
		c.Device = gotch.CPU
	}
	if c.EvalEvery == 0 {
		c.EvalEvery = 1
	}
	if c.CacheLimit == 0 {
		c.CacheLimit = DefaultCacheLimit
	}
	switch c.Optimizer {
	case "":
		c.Optimizer = "sgd"
	case "sgd", "adamw":
	default:
		return c, fmt.Errorf("finetune: optimizer %q: want sgd or adamw", c.Optimizer)
	}
	if _, err := ParseSchedule(c.Schedule, c.Warmup); err != nil {
		return c, err
	}
	if c.ClipNorm < 0 {
		return c, fmt.Errorf("finetune: clip norm %g: want 0 (off) or more", c.ClipNorm)
	}
	if c.LabelSmoothing < 0 || c.LabelSmoothing >= 1 {
		return c, fmt.Errorf("finetune: label smoothing %g: want [0, 1)", c.LabelSmoothing)
	}
	if c.Epochs < 0 || c.BatchSize < 0 || c.LR < 0 || math.IsNaN(c.LR) || math.IsInf(c.LR, 0) || c.LRDecay < 0 || c.WeightDecay < 0 || c.EvalEvery < 0 || c.EMA < 0 || c.EMA >= 1 {
		return c, fmt.Errorf("finetune: config: epochs %d, batch size %d, lr %g: want positive values", c.Epochs, c.BatchSize, c.LR)
	}
	return c, nil
}

// Plan is what OnStart learns about the run.
type Plan struct {
	Epochs, StepsPerEpoch, TrainImages, ValImages int
	Groups                                        []Group // the optimiser's parameter groups
}

// Step reports one optimisation step.
type Step struct {
	Epoch, Step int      // 1-based epoch, 1-based step within it
	Loss        float64  // this batch's mean loss
	Images      int      // images in this batch
	Correct     int      // of them, classified right before the update
	Skipped     []string // images of this batch that did not load (OnBadImage "skip")
	LR          float64  // the head's learning rate for this step
}

// Epoch reports one finished epoch.
type Epoch struct {
	Epoch                int
	TrainLoss            float64 // mean over the epoch's batches
	ValLoss, ValAccuracy float64 // NaN when there is no validation set
	Duration             time.Duration
	Skipped              []string // images that did not load this epoch (OnBadImage "skip")
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
	// Report is the last validation's (with a validation set): after the
	// last epoch, of the model as the run leaves it.
	Report *Report
	// PrefixCache is set by FitPrefixCached: the frozen prefix it cached.
	PrefixCache *PrefixCache
}

// Trainer trains one model. Worker defaults to the process-wide torch worker.
type Trainer struct {
	Config Config
	Hooks  Hooks
	Worker *torch.Worker
	// StateDir, when set, receives after every epoch (once OnEpochEnd has
	// succeeded, e.g. after it saved the checkpoints) what a resumed run
	// needs, committed as one unit (see trainerState): the weights, the
	// optimiser's state, the loop's position and random state.
	StateDir string
	// Resume continues the run committed in StateDir: Fit loads its
	// weights into the model (the caller's are replaced; the model must be
	// of the same architecture) and runs the remaining epochs, with the
	// same batches and rates as an uninterrupted run.
	Resume bool
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
	cfg, err := t.Config.withDefaults()
	if err != nil {
		return nil, err
	}
	if train == nil || train.Len() == 0 {
		return nil, fmt.Errorf("finetune: empty training set")
	}
	if cfg.Augment.Active() {
		return t.FitSource(m, vs, loader.FromImages(train), len(train.Classes), train.Height, val)
	}
	return t.fit(m, vs, cfg, train.Len(), fromBatcher(imageBatches(train, cfg), cfg.BatchSize), val)
}

// FitSource is Fit on images that the loader's Go workers read (decoding
// files, for loader.FromFiles), augment and normalise ahead of the torch
// thread, at size×size.
func (t *Trainer) FitSource(m Model, vs *nn.VarStore, train loader.Source, classes, size int, val *datasets.Images) (*Result, error) {
	cfg, err := t.Config.withDefaults()
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

func (t *Trainer) fit(m Model, vs *nn.VarStore, cfg Config, n int, train trainSource, val *datasets.Images) (*Result, error) {
	var vset evalSet
	if val != nil && val.Len() > 0 {
		vset = evalSet{n: val.Len(), batches: imageBatches(val, cfg), classes: val.Classes}
	}
	return t.run(m, vs, cfg, func() (*torch.Optimizer, []Group, error) { return newOptimizer(m, vs, cfg) },
		n, train, vset)
}

// batcher returns the inputs and labels of the items at idx; the caller
// owns both tensors.
type batcher func(idx []int) (x, y *ts.Tensor, err error)

func imageBatches(data *datasets.Images, cfg Config) batcher {
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

// run is the training loop shared by Fit and FitCached: seed, optimiser,
// epochs of shuffled batches, evaluation, hooks.
func (t *Trainer) run(m Model, vs *nn.VarStore, cfg Config, newOpt func() (*torch.Optimizer, []Group, error), nTrain int, train trainSource, val evalSet) (*Result, error) {
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
		var d *ddp
		if t.Dist != nil {
			d = newDDP(t.Dist, vs)
			if err := d.broadcastAll(); err != nil {
				return err
			}
		}
		_, world := t.world()
		steps := StepsPerEpoch(shardLen(nTrain, world), cfg.BatchSize)
		if t.Hooks.OnStart != nil && t.rank0() {
			t.Hooks.OnStart(Plan{Epochs: cfg.Epochs, StepsPerEpoch: steps, TrainImages: nTrain, ValImages: val.n, Groups: groups})
		}
		rng := rand.New(rand.NewPCG(cfg.Seed, 0x66742d73))
		lr, err := newLRSchedule(opt, cfg, cfg.Epochs*steps)
		if err != nil {
			return err
		}
		var st trainerState
		if t.Resume { // the committed weights, before the average copies them
			if st, err = t.restore(opt, vs, cfg); err != nil {
				return err
			}
		}
		var avg *ema
		if cfg.EMA > 0 {
			if avg, err = newEMA(vs, cfg.EMA); err != nil {
				return err
			}
			defer avg.close()
		}
		first := 1
		if t.Resume {
			done := st.Epoch
			if avg != nil {
				name := st.TrainWeights
				if name == "" {
					name = emaFile
				}
				if err := avg.resume(filepath.Join(t.StateDir, name), done*steps); err != nil {
					return err
				}
			}
			for e := 1; e <= done; e++ {
				rng.Perm(nTrain) // the batches of the epochs already done
			}
			first = done + 1
		}
		for e := first; e <= cfg.Epochs; e++ {
			ep, err := t.epoch(m, opt, avg, d, lr, nTrain, train, cfg, rng, e, steps)
			if err != nil {
				return err
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
			ep.ValLoss, ep.ValAccuracy = math.NaN(), math.NaN()
			if val.n > 0 && (e%cfg.EvalEvery == 0 || e == cfg.Epochs) {
				r, err := t.report(m, val, cfg.BatchSize)
				if err != nil {
					return err
				}
				ep.ValLoss, ep.ValAccuracy, res.Report = r.Loss, r.Top1, r
			}
			res.Epochs = append(res.Epochs, ep)
			var hookErr error
			if t.Hooks.OnEpochEnd != nil {
				hookErr = t.Hooks.OnEpochEnd(ep)
			}
			if d != nil { // a stop on any rank stops them all
				if hookErr, err = t.shareStop(hookErr, e); err != nil {
					return err
				}
			}
			if hookErr != nil && !errors.Is(hookErr, ErrStop) {
				return hookErr
			}
			if t.StateDir != "" && t.rank0() { // also when stopping early: the epoch is complete
				if err := t.saveState(opt, vs, avg, cfg, e); err != nil {
					return err
				}
			}
			if hookErr != nil { // the model keeps the average
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
func optimizerOptions(cfg Config) torch.OptimizerOptions {
	if cfg.Optimizer == "adamw" {
		return torch.OptimizerOptions{Kind: torch.AdamW}
	}
	return torch.OptimizerOptions{Kind: torch.SGD, Momentum: cfg.Momentum}
}

// newOptimizer builds SGD over the model's stages (with discriminative
// rates) for a vision.Model, or over all trainable variables otherwise.
func newOptimizer(m Model, vs *nn.VarStore, cfg Config) (*torch.Optimizer, []Group, error) {
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

func newLRSchedule(opt *torch.Optimizer, cfg Config, total int) (*lrSchedule, error) {
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

func (t *Trainer) epoch(m Model, opt *torch.Optimizer, avg *ema, d *ddp, lr *lrSchedule, n int, train trainSource, cfg Config, rng *rand.Rand, e, steps int) (Epoch, error) {
	began := time.Now()
	rank, world := t.world()
	order := shardOrder(rng.Perm(n), rank, world) // the same permutation on every rank
	it := train(order[:min(len(order), steps*cfg.BatchSize)], e)
	defer it.close()
	var sum float64
	var skipped []string
	for s := 0; s < steps; s++ {
		b, err := it.next()
		if err != nil {
			return Epoch{}, fmt.Errorf("finetune: epoch %d step %d: %w", e, s+1, err)
		}
		if b == nil {
			return Epoch{}, fmt.Errorf("finetune: epoch %d: %d batches, want %d", e, s, steps)
		}
		skipped = append(skipped, b.skipped...)
		rate, err := lr.apply((e-1)*steps + s)
		if err != nil {
			b.free()
			return Epoch{}, err
		}
		if b.n == 0 { // every image of the batch was skipped
			if d != nil { // the other ranks still wait for this one's gradients
				if err := idleStep(opt, d); err != nil {
					return Epoch{}, fmt.Errorf("finetune: epoch %d step %d: %w", e, s+1, err)
				}
			}
			continue
		}
		var sync func() error
		if d != nil {
			sync = d.averageGrads
		}
		loss, correct, err := step(m, opt, b, cfg.LabelSmoothing, cfg.ClipNorm, sync)
		if err != nil {
			return Epoch{}, fmt.Errorf("finetune: epoch %d step %d: %w", e, s+1, err)
		}
		if math.IsNaN(loss) || math.IsInf(loss, 0) {
			return Epoch{}, &DivergedError{Epoch: e, Step: s + 1, LR: rate, Loss: loss}
		}
		if avg != nil {
			if err := avg.update(); err != nil {
				return Epoch{}, err
			}
		}
		sum += loss
		if t.Hooks.OnStep != nil && t.rank0() {
			t.Hooks.OnStep(Step{Epoch: e, Step: s + 1, Loss: loss, Images: b.n, Correct: correct, LR: rate, Skipped: b.skipped})
		}
	}
	return Epoch{Epoch: e, TrainLoss: sum / float64(steps), Duration: time.Since(began), Skipped: skipped}, nil
}

// step runs one forward/backward/update on b, frees b and everything it
// allocated, and returns the batch's mean loss and how many of its images
// the model (before the update) classified right. sync, when set, runs
// between the backward pass and the update (gradient averaging).
func step(m Model, opt *torch.Optimizer, b *trainBatch, labelSmoothing, clipNorm float64, sync func() error) (float64, int, error) {
	defer b.free()
	logits, err := m.Forward(b.x, true)
	if err != nil {
		return 0, 0, err
	}
	defer logits.MustDrop()
	var loss *ts.Tensor
	if b.soft != nil {
		loss, err = softCrossEntropy(logits, b.soft)
	} else {
		loss, err = logits.CrossEntropyLoss(b.y, ts.NewTensor(), 1, -100, labelSmoothing, false)
	}
	if err != nil {
		return 0, 0, fmt.Errorf("loss: %w", err)
	}
	defer loss.MustDrop()
	v, err := loss.Float64Value([]int64{})
	if err != nil {
		return 0, 0, fmt.Errorf("read loss: %w", err)
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return v, 0, nil // the caller stops before the weights are touched
	}
	correct, err := countCorrect(logits, b.y)
	if err != nil {
		return 0, 0, err
	}
	if err := opt.ZeroGrad(); err != nil {
		return 0, 0, err
	}
	if err := loss.Backward(); err != nil {
		return 0, 0, fmt.Errorf("backward: %w", err)
	}
	if sync != nil {
		if err := sync(); err != nil {
			return 0, 0, err
		}
	}
	if clipNorm > 0 {
		if _, err := opt.ClipGradNorm(clipNorm); err != nil {
			return 0, 0, err
		}
	}
	if err := opt.Step(); err != nil {
		return 0, 0, err
	}
	return v, correct, nil
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
