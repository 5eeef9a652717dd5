package strategies

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/gtl-dev/gtl/finetune"
	"github.com/gtl-dev/gtl/vision"
	"github.com/gtl-dev/gtl/vision/datasets"
)

// Job is one training run of a resolved plan: a cell of a comparison.
type Job struct {
	Arch    string // architecture; required
	Weights string // source weights; required when the plan transfers
	// WeightsKey names the entry of a wrapping checkpoint to load (see
	// vision.OpenOptions.WeightsKey); "" takes the plain weights.
	WeightsKey string
	// WeightsPrefix and AllowNonFinite are finetune.ModelSpec's.
	WeightsPrefix  string
	AllowNonFinite bool
	Plan           Plan
	Seed           uint64 // initialisation of the new head (or the whole model) and shuffling
	// Train and Val hold the target's images: Train as read or prepared,
	// Val prepared at the training resolution (see vision.PrepareRGB), the
	// same for every run of a comparison.
	Train, Val *datasets.Images
	Size       int    // training resolution; default: Val's
	Device     string // see finetune.RunSpec.Device; default auto
	// Hooks receive the run's progress (OnEpochEnd errors stop it).
	Hooks finetune.Hooks
	// Stop, when set, stops the run at the next step boundary once it is
	// done (see finetune.Run), as an ErrStop from a hook does.
	Stop context.Context
	// TensorBoard, when set, is the folder of the run's TensorBoard event
	// file (finetune.RunSpec.TensorBoard).
	TensorBoard string
}

// Spec is the run of the job: its plan's settings on its images (Data,
// to pass in finetune.RunEnv).
func (j Job) Spec() (finetune.RunSpec, *finetune.Data) {
	size := j.Size
	if size == 0 && j.Val != nil {
		size = j.Val.Height
	}
	s := finetune.RunSpec{Device: j.Device, Seed: j.Seed, Data: finetune.DataSpec{ImageSize: size},
		Model: finetune.ModelSpec{Arch: j.Arch}, Train: j.Plan.TrainSpec, TensorBoard: j.TensorBoard}
	if s.Train.Augment == "" {
		s.Train.Augment = "none"
	}
	if j.Plan.Transfer {
		s.Model.Weights, s.Model.WeightsKey = j.Weights, j.WeightsKey
		s.Model.WeightsPrefix, s.Model.AllowNonFinite = j.WeightsPrefix, j.AllowNonFinite
	}
	var data *finetune.Data
	if j.Train != nil && j.Val != nil {
		data = finetune.NewData(j.Train, j.Val, size)
	}
	return s, data
}

// Point is the state of a run after one epoch.
type Point struct {
	Epoch       int      `json:"epoch"`
	TrainLoss   float64  `json:"train_loss"`
	ValAccuracy *float64 `json:"val_accuracy"` // nil for epochs without validation
	Seconds     float64  `json:"seconds"`      // since the start of training
}

// Outcome is what a finished run measured.
type Outcome struct {
	Curve         []Point `json:"curve"`
	FinalAccuracy float64 `json:"final_accuracy"` // after the last epoch
	BestAccuracy  float64 `json:"best_accuracy"`
	// EpochsTo95 and SecondsTo95 are when the run first reached 95% of its
	// own best accuracy (at the epochs it was validated).
	EpochsTo95   int     `json:"epochs_to_95"`
	SecondsTo95  float64 `json:"seconds_to_95"`
	Seconds      float64 `json:"seconds"`        // wall time of the whole run, model set-up included
	ImagesPerSec float64 `json:"images_per_sec"` // training images processed per second of training
	TrainImages  int     `json:"train_images"`
	// FrozenCache says whether a run with frozen stages computed them once
	// per image (see finetune.RunConfig.FrozenCache); nil without any.
	FrozenCache *finetune.PrefixCache `json:"frozen_cache,omitempty"`
	// EarlyStop is what early stopping did (Plan.Patience; FinalAccuracy
	// is then the restored best epoch's); LRFound the LR finder's rate the
	// run trained at (Plan.LRFind). Unset without them.
	EarlyStop *finetune.EarlyStop `json:"early_stopping,omitempty"`
	LRFound   float64             `json:"lr_found,omitempty"`
	// LRFindWarnings are the LR finder's warnings about its suggestion
	// (finetune.LRFindResult.Warnings), for the caller to show; not saved.
	LRFindWarnings []*finetune.FieldError `json:"-"`

	// FinalBalancedAccuracy (mean recall over the classes) and
	// FinalMacroF1 (mean F1) are the final model's (see metrics.Report).
	FinalBalancedAccuracy float64 `json:"final_balanced_accuracy"`
	FinalMacroF1          float64 `json:"final_macro_f1"`

	// resolved is the training settings the run used, every default
	// filled in (finetune.RunConfig.Spec.Train); Results.Add records them
	// as the run's plan.
	resolved *finetune.TrainSpec
}

// Run trains the job's model (finetune.Run on Spec) and measures it. A
// run stopped by a hook (finetune.ErrStop from Hooks.OnEpochEnd) or by
// Stop returns an error that wraps finetune.ErrStop and no outcome.
func (j Job) Run() (*Outcome, error) {
	began := time.Now()
	p := j.Plan
	if j.Train == nil || j.Train.Len() == 0 {
		return nil, fmt.Errorf("strategies: %s: empty training set", p.Strategy)
	}
	if j.Val == nil || j.Val.Len() == 0 {
		return nil, fmt.Errorf("strategies: %s: empty evaluation set", p.Strategy)
	}
	if p.Transfer && j.Weights == "" {
		return nil, fmt.Errorf("strategies: %s needs source weights", p.Strategy)
	}
	out := &Outcome{TrainImages: j.Train.Len()}
	trainStart := time.Now()
	spec, data := j.Spec()
	env := finetune.RunEnv{Data: data, Hooks: finetune.RunHooks{OnStep: j.Hooks.OnStep}}
	env.Hooks.OnOpen = func(*vision.Opened) { trainStart = time.Now() }
	env.Hooks.OnEpochEnd = func(e finetune.Epoch) error {
		pt := Point{Epoch: e.Epoch, TrainLoss: e.TrainLoss, Seconds: time.Since(trainStart).Seconds()}
		if !math.IsNaN(e.ValAccuracy) {
			a := e.ValAccuracy
			pt.ValAccuracy = &a
		}
		out.Curve = append(out.Curve, pt)
		if j.Hooks.OnEpochEnd != nil {
			return j.Hooks.OnEpochEnd(e)
		}
		return nil
	}
	ctx := j.Stop
	if ctx == nil {
		ctx = context.Background()
	}
	res, err := finetune.Run(ctx, spec, env)
	if err != nil {
		return nil, fmt.Errorf("strategies: %s: %w", p.Strategy, err)
	}
	if res.Stopped { // a hook stopped it: the run is unfinished, not measured
		return nil, fmt.Errorf("strategies: %s: stopped after epoch %d of %d: %w", p.Strategy, len(out.Curve), p.Epochs, finetune.ErrStop)
	}
	out.FrozenCache = res.Config.FrozenCache
	resolved := res.Config.Spec.Train
	out.resolved = &resolved
	if r := res.Report; r != nil {
		out.FinalBalancedAccuracy, out.FinalMacroF1 = r.BalancedAccuracy, r.MacroF1
	}
	out.summarise(res.Result, time.Since(began))
	if out.EarlyStop = res.Config.EarlyStop; out.EarlyStop != nil && res.Report != nil {
		out.FinalAccuracy = res.Report.Top1 // the final model is the best epoch's
	}
	if res.LRFind != nil {
		out.LRFound, out.LRFindWarnings = res.LRFind.LR, res.LRFind.Warnings
	}
	return out, nil
}

// summarise fills the accuracy and timing fields from the curve.
func (o *Outcome) summarise(res *finetune.Result, wall time.Duration) {
	o.Seconds = wall.Seconds()
	var trained float64
	for _, e := range res.Epochs {
		trained += e.Duration.Seconds()
	}
	if trained > 0 {
		o.ImagesPerSec = float64(o.TrainImages*len(res.Epochs)) / trained
	}
	o.BestAccuracy = math.Inf(-1)
	for _, pt := range o.Curve {
		if pt.ValAccuracy != nil {
			o.FinalAccuracy = *pt.ValAccuracy
			o.BestAccuracy = max(o.BestAccuracy, *pt.ValAccuracy)
		}
	}
	o.EpochsTo95, o.SecondsTo95 = TimeTo(o.Curve, 0.95*o.BestAccuracy)
}

// TimeTo returns the first validated epoch of curve whose accuracy reaches
// target, and the seconds of training until then; 0, 0 when none does.
func TimeTo(curve []Point, target float64) (int, float64) {
	for _, pt := range curve {
		if pt.ValAccuracy != nil && *pt.ValAccuracy >= target {
			return pt.Epoch, pt.Seconds
		}
	}
	return 0, 0
}
