package finetune

import (
	"context"
	"errors"
	"math"
	"path/filepath"

	"encoding/json"

	gtlenv "github.com/gtl-dev/gtl/env"
	"github.com/gtl-dev/gtl/torch"
	"github.com/gtl-dev/gtl/vision"
	"github.com/gtl-dev/gtl/vision/datasets"
	"github.com/gtl-dev/gtl/vision/loader"
)

// RunResult is what a finished (or cleanly stopped) run measured.
type RunResult struct {
	Spec   RunSpec   // resolved
	Config RunConfig // what config.json and the checkpoints record
	// Result holds this process's epochs (a resumed run's earlier ones are
	// in Out/metrics.jsonl) and the training time.
	Result *Result
	// Report is the final model's on the validation images; nil when the
	// run was stopped early (Stopped).
	Report  *Report
	Best    float64  // best validation accuracy of any epoch (-1: none)
	Stopped bool     // a hook returned ErrStop or the context ended
	Skipped []string // images left out during training (OnBadImage skip)
	// Model is the trained model when KeepModel was set (the caller closes
	// it, on the torch worker); nil otherwise.
	Model *vision.Model
	// LRFind is the LR finder's sweep and suggestions (Train.LRFind); nil
	// without it.
	LRFind *LRFindResult
}

// RunConfig is what config.json and the checkpoints' "train" entry
// record: the resolved RunSpec (one flat JSON object: its data, model and
// training fields under their own keys) and what the run found — enough
// to repeat it.
type RunConfig struct {
	Spec RunSpec // resolved, with what the strategy decided
	// Loaded is the weights file the model was loaded from (a fetched
	// file's path with Model.Pretrained); "" from scratch.
	Loaded      string
	Classes     []string
	TrainImages int
	ValImages   int
	// CachedFeatures says whether the head trained on features computed
	// once (Freeze "all" without augmentation or NoCache); FrozenCache
	// whether a run with Freeze N computed its frozen stages once per
	// image, and why not.
	CachedFeatures bool
	FrozenCache    *PrefixCache
	// WorldSize and GlobalBatch are set in a data-parallel run: Batch is
	// per rank, as in DDP, and the learning rate is not rescaled.
	WorldSize, GlobalBatch int
	// ClassWeights are the loss's class weights Train.ClassWeights gave
	// (nil: none).
	ClassWeights []float64
	// LRFind is the LR finder's suggestions (Train.LRFind; the run trains
	// at Spec.Train.LR, the chosen one); EarlyStop what early stopping
	// (Train.Patience) did. Nil without them.
	LRFind    *LRFindSummary
	EarlyStop *EarlyStop
}

// runExtras are RunConfig's keys of the LR finder and early stopping.
type runExtras struct {
	LRFind    *LRFindSummary `json:"lr_find_result,omitempty"`
	EarlyStop *EarlyStop     `json:"early_stopping,omitempty"`
}

// runFacts are RunConfig's own keys beside the spec's.
type runFacts struct {
	Loaded         string       `json:"loaded_weights"`
	Classes        []string     `json:"classes"`
	TrainImages    int          `json:"train_images"`
	ValImages      int          `json:"val_images"`
	CachedFeatures bool         `json:"cached_features"`
	FrozenCache    *PrefixCache `json:"frozen_cache,omitempty"`
	WorldSize      int          `json:"world_size,omitempty"`
	GlobalBatch    int          `json:"global_batch,omitempty"`
	ClassWeights   []float64    `json:"class_weight_values,omitempty"`
}

// MarshalJSON writes the spec's fields and the facts as one object.
func (c RunConfig) MarshalJSON() ([]byte, error) {
	spec, err := json.Marshal(c.Spec)
	if err != nil {
		return nil, err
	}
	facts, err := json.Marshal(runFacts{c.Loaded, c.Classes, c.TrainImages, c.ValImages, c.CachedFeatures, c.FrozenCache, c.WorldSize, c.GlobalBatch, c.ClassWeights})
	if err != nil {
		return nil, err
	}
	extras, err := json.Marshal(runExtras{c.LRFind, c.EarlyStop})
	if err != nil {
		return nil, err
	}
	if facts, err = joinObjects(facts, extras); err != nil {
		return nil, err
	}
	return joinObjects(spec, facts)
}

// UnmarshalJSON reads what MarshalJSON wrote.
func (c *RunConfig) UnmarshalJSON(b []byte) error {
	var f runFacts
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	if err := json.Unmarshal(b, &c.Spec); err != nil {
		return err
	}
	var x runExtras
	if err := json.Unmarshal(b, &x); err != nil {
		return err
	}
	c.LRFind, c.EarlyStop = x.LRFind, x.EarlyStop
	c.Loaded, c.Classes, c.TrainImages, c.ValImages, c.CachedFeatures, c.FrozenCache, c.WorldSize, c.GlobalBatch, c.ClassWeights =
		f.Loaded, f.Classes, f.TrainImages, f.ValImages, f.CachedFeatures, f.FrozenCache, f.WorldSize, f.GlobalBatch, f.ClassWeights
	return nil
}

// flatSpec is RunSpec's JSON form: one object, the sections' keys side by
// side (they are distinct). Out, Resume and Overwrite say where a run
// writes and how it starts, not what it computes: they are left out, so
// that a resumed run's checkpoints equal the uninterrupted run's byte for
// byte.
type flatSpec struct {
	DataSpec
	ModelSpec
	TrainSpec
	Device string `json:"device"`
	Seed   uint64 `json:"seed"`
}

// MarshalJSON writes the spec as one flat object (see RunConfig).
func (s RunSpec) MarshalJSON() ([]byte, error) {
	return json.Marshal(flatSpec{s.Data, s.Model, s.Train, s.Device, s.Seed})
}

// UnmarshalJSON reads what MarshalJSON wrote.
func (s *RunSpec) UnmarshalJSON(b []byte) error {
	var f flatSpec
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	*s = RunSpec{Data: f.DataSpec, Model: f.ModelSpec, Train: f.TrainSpec, Device: f.Device, Seed: f.Seed}
	return nil
}

// joinObjects merges two JSON objects (the second's keys win).
func joinObjects(a, b []byte) ([]byte, error) {
	m := map[string]json.RawMessage{}
	for _, o := range [][]byte{a, b} {
		if err := json.Unmarshal(o, &m); err != nil {
			return nil, err
		}
	}
	return json.Marshal(m)
}

// Run carries out spec: it resolves it once, lists the data (no image
// read yet), opens the model (so that bad weights are reported before any
// image is decoded), reads the data and draws the shots, asks env.Plan for
// a strategy's settings, and trains with Fit. Cancelling ctx stops the run
// at the next step boundary (RunResult.Stopped, Result.Stopped says
// where), with a resumable state committed in Out; a data-parallel run
// stops at the end of the epoch.
func Run(ctx context.Context, spec RunSpec, env RunEnv) (*RunResult, error) {
	s, err := spec.Resolve()
	if err != nil {
		return nil, err
	}
	if env.Dist != nil && s.Train.LRFind != nil { // before any image is read
		return nil, errLRFindDist
	}
	aug, err := s.augmentation()
	if err != nil {
		return nil, err
	}
	if s.Train.CacheLimit == 0 { // checked before data or weights are read
		if s.Train.CacheLimit, err = gtlenv.FrozenCacheBytes(); err != nil {
			return nil, err
		}
	}
	dev, _ := torch.ParseDevice(s.Device) // checked by Resolve
	s.Device = torch.DeviceName(dev)      // recorded as chosen
	// The classes are known before any image is read (from the spec or a
	// folder's listing).
	data := env.Data
	var pending *pendingData
	classes := []string(nil)
	if data == nil {
		// A folder trained with augmentation is read from disk every epoch.
		if pending, err = listData(s.Data, s.Seed, aug.Active()); err != nil {
			return nil, err
		}
		classes = pending.Classes
	} else {
		classes = data.Classes
	}
	if n := s.Model.NumClasses; n != 0 && n != len(classes) {
		return nil, FieldErrorf("Model.NumClasses", "{Model.NumClasses} %d: the data has %d classes", n, len(classes))
	}
	open := func(s RunSpec) (*vision.Opened, error) {
		o := vision.OpenOptions{Arch: s.Model.Arch, Weights: s.Model.Weights, WeightsKey: s.Model.WeightsKey, Pretrained: s.Model.Pretrained,
			PretrainedName: s.Model.PretrainedName, NumClasses: len(classes), Classes: classes, Device: dev, Fetch: env.Fetch, Meta: s.meta,
			WeightsPrefix: s.Model.WeightsPrefix, AllowNonFinite: s.Model.AllowNonFinite}
		// A resumed run opens the model as the run it continues did; the
		// committed state's weights replace what changed. A state that
		// names no weights file (an earlier layout) relies on the last
		// checkpoint (under plain names).
		if s.Resume {
			if st, err := readState(s.Out); err == nil && st.Weights == "" {
				o.Weights, o.Pretrained, o.Meta, o.WeightsPrefix = filepath.Join(s.Out, "last.safetensors"), false, nil, ""
			}
		}
		var op *vision.Opened
		err := torch.Do(func() error {
			if err := torch.ManualSeed(int64(s.Seed)); err != nil {
				return err
			}
			var err error
			op, err = vision.Open(o)
			return err
		})
		var oe *vision.OptionError
		if errors.As(err, &oe) { // named as the spec's fields
			return nil, &FieldError{Field: "Model." + oe.Field, msg: oe.Render(func(o string) string { return "{Model." + o + "}" }), err: err}
		}
		return op, err
	}
	o, err := open(s)
	if err != nil {
		return nil, err
	}
	m := o.Model
	keep := false
	defer func() {
		if !keep {
			_ = torch.Do(func() error { m.Close(); return nil })
		}
	}()
	if pending != nil {
		if data, err = pending.read(); err != nil {
			return nil, err
		}
		if len(data.Unsupported) > 0 && env.Hooks.OnUnsupported != nil {
			env.Hooks.OnUnsupported(data.Unsupported)
		}
		if len(data.Skipped) > 0 && env.Hooks.OnSkipped != nil {
			env.Hooks.OnSkipped(data.Skipped)
		}
	}
	if data, err = data.Shots(s.Data.Shots, s.Seed); err != nil {
		return nil, err
	}
	if data.Len() == 0 {
		return nil, FieldErrorf("Data.Source", "{Data.Source} %s: no training images", s.Data.Source)
	}
	if data.Val == nil || data.Val.Len() == 0 {
		return nil, FieldErrorf("Data.Source", "{Data.Source} %s: no validation images", s.Data.Source)
	}
	if env.Plan != nil && s.Train.Strategy != "" {
		c, err := env.Plan(PlanRequest{Spec: &s, Given: s.given, Arch: m.Arch, Weights: o.Source, Stages: len(m.Stages), Data: data})
		if err != nil {
			return nil, err
		}
		if env.Hooks.OnPlan != nil {
			env.Hooks.OnPlan(c)
		}
		if !c.Transfer && s.FineTune() { // nothing to transfer: the same architecture from its initialisation
			s.Model, s.meta = ModelSpec{Arch: m.Arch, NumClasses: s.Model.NumClasses}, nil
			_ = torch.Do(func() error { m.Close(); return nil })
			if o, err = open(s); err != nil {
				return nil, err
			}
			m = o.Model
		}
	}
	if s.given.Epochs == 0 && s.FineTune() && s.Train.Strategy == "" {
		// A plain fine-tuning run trains at least FineTuneMinSteps steps.
		per := StepsPerEpoch(data.Len(), s.Train.Batch)
		s.Train.Epochs = max(s.Train.Epochs, (FineTuneMinSteps+per-1)/per)
	}
	if env.Hooks.OnOpen != nil {
		env.Hooks.OnOpen(o)
	}
	loaded := o.Source
	if s.Resume && o.Source == filepath.Join(s.Out, "last.safetensors") { // an earlier layout's state: the record stays the run's
		loaded = s.Model.Weights
	}
	res, err := Fit(ctx, m, loaded, data, s, env)
	if err != nil {
		return nil, err
	}
	if env.KeepModel {
		keep, res.Model = true, m
	}
	return res, nil
}

// Fit trains the open model m (loaded from the weights file loaded, ""
// from scratch) on data with the resolved spec's training settings: it
// freezes Train.Freeze stages, picks how the training images are served —
// the head on features computed once (Freeze all, no augmentation), the
// trainable stages on a frozen prefix's activations computed once (Freeze
// N, no augmentation, under Train.CacheLimit), images streamed from disk
// through the loader (a folder with augmentation), or in memory — records
// the choice in config.json, and trains every one of them through the same
// loop and Stepper. It writes Out when set, and evaluates the final model.
func Fit(ctx context.Context, m *vision.Model, loaded string, data *Data, s RunSpec, env RunEnv) (*RunResult, error) {
	if s.Data.ImageSize == 0 { // a caller's own spec: the data's resolution
		s.Data.ImageSize = data.Size
	}
	aug, err := s.augmentation()
	if err != nil {
		return nil, err
	}
	dev := s.dev
	if !s.resolved { // a caller's own spec (the advisor's probes): the device is all Fit needs of Resolve
		if dev, err = torch.ParseDevice(s.Device); err != nil {
			return nil, FieldErrorf("Device", "{Device}: %w", err)
		}
	}
	if s.Train, err = s.Train.withDefaults(loaded != ""); err != nil { // a resolved spec stays as it is
		return nil, err
	}
	t := s.Train
	if env.Dist != nil && s.CheckpointEvery > 0 {
		return nil, FieldErrorf("CheckpointEvery", "{CheckpointEvery} %d: states inside epochs are not supported in a data-parallel run (each rank holds its own part of the epoch's loss); states are committed at epoch ends ({SaveEvery})", s.CheckpointEvery)
	}
	// Resolve refuses a user's frozen stages without source weights; Fit
	// freezes what it is told (the advisor's random-feature probe freezes a
	// random backbone on purpose).
	nFrozen, all, unfreezeAt, err := t.checkFreeze(len(m.Stages), true)
	if err != nil {
		return nil, err
	}
	if data.Val != nil && data.Val.Tags != nil { // multi-label images (e.g. a comparison's, read with DataSpec.MultiLabel)
		s.Data.MultiLabel = true
	}
	if err := checkMultiLabel(s, env); err != nil {
		return nil, err
	}
	if err := CheckThreshold(t, s.Data.MultiLabel, data.Val.Len()); err != nil {
		return nil, err
	}
	cached := all && !aug.Active() && !t.NoCache && !s.Data.MultiLabel
	resumed := 0 // epochs done by the run a resumed run continues
	if s.Resume && len(unfreezeAt) > 0 {
		if resumed, err = CommittedEpoch(s.Out); err != nil {
			return nil, err
		}
	}
	if err := torch.Do(func() error {
		for i := 0; i < nFrozen; i++ {
			if err := m.SetStageFrozen(i, true, t.BNPolicy == "eval"); err != nil {
				return err
			}
		}
		// A resumed run continues with the stages that UnfreezeAt let
		// train again during the epochs already done.
		for e := 1; e <= resumed; e++ {
			if unfreezeAt[e] {
				if _, err := UnfreezeNext(m); err != nil {
					return err
				}
			}
		}
		return nil
	}); err != nil {
		return nil, err
	}
	tr := &Trainer{Train: t, Seed: s.Seed, Device: dev, Normalize: ImageNetNorm, Augment: aug, StateDir: s.Out, Resume: s.Resume, Dist: env.Dist,
		SaveEvery: s.SaveEvery, CheckpointEvery: s.CheckpointEvery, Stop: ctx, finite: m.CheckFinite, MultiLabel: s.Data.MultiLabel}
	if cached { // only the head trains: the state holds only its tensors
		tr.saveOnly = headVars(m)
	}
	// Frozen stages below trainable ones run once per image where nothing
	// changes their output between epochs.
	var prefix *PrefixCache
	var train *datasets.Images // in memory (not streamed)
	if nFrozen > 0 && !all {
		switch {
		case len(unfreezeAt) > 0:
			prefix = &PrefixCache{Reason: "unfreeze-at changes the frozen stages"}
		case t.NoCache:
			prefix = &PrefixCache{Reason: "turned off (no-cache)"}
		case s.Data.MultiLabel:
			prefix = &PrefixCache{Reason: "multi-label targets come from the loader"}
		case aug.Active(): // (only augmented runs stream their images)
			prefix = &PrefixCache{Reason: reasonAugment}
		default:
			if train, err = data.Images(); err != nil {
				return nil, err
			}
			p, err := tr.PlanPrefixCache(m, train, data.Val)
			if err != nil {
				return nil, err
			}
			prefix = &p
		}
	}
	if err := tr.useData(data, train); err != nil {
		return nil, err
	}
	if err := torch.Do(func() error { return applyDevice(m, mustLoop(tr)) }); err != nil {
		return nil, err
	}
	// fitData trains through the data path chosen (also the LR finder's).
	fitData := func() (*Result, error) {
		switch {
		case cached:
			if train, err = data.Images(); err != nil {
				return nil, err
			}
			return tr.fitCached(m, train, data.Val)
		case prefix != nil && prefix.Used:
			return tr.fitPrefix(m, *prefix, train, data.Val)
		case data.Streamed():
			return tr.fitSource(m, m.VS, loader.FromFiles(data.files), len(data.Classes), data.Size, data.Val)
		default:
			if train == nil {
				if train, err = data.Images(); err != nil {
					return nil, err
				}
			}
			return tr.Fit(m, m.VS, train, data.Val)
		}
	}
	var found *LRFindResult
	if t.LRFind != nil {
		if found, err = findLR(tr, &s, fitData); err != nil {
			return nil, err
		}
		t = s.Train
		if env.lrFindOnly {
			return &RunResult{Spec: s, Best: -1, LRFind: found}, nil
		}
	}
	rc := RunConfig{Spec: s, Loaded: loaded, Classes: data.Classes, TrainImages: data.Len(), ValImages: data.Val.Len(),
		CachedFeatures: cached, FrozenCache: prefix, ClassWeights: tr.classWeights}
	rc.Spec.Data.ImageSize, rc.Spec.Model.Arch = data.Size, m.Arch
	if env.Dist != nil {
		rc.WorldSize, rc.GlobalBatch = env.Dist.World(), t.Batch*env.Dist.World()
	}
	rank0 := env.Dist == nil || env.Dist.Rank() == 0 // the rank that writes
	rc.LRFind = found.Summary()
	out := &RunResult{Spec: s, Config: rc, Best: -1, LRFind: found}
	var w *runWriter
	if s.Out != "" && rank0 {
		if w, out.Best, err = newRunWriter(s.Out, OutOptions{Resume: s.Resume, Overwrite: s.Overwrite}, rc); err != nil {
			return nil, err
		}
		defer w.close()
		w.m, w.only = m, tr.saveOnly
		tr.checkpoints = w
	}
	if w != nil && found != nil && len(found.LRs) > 0 { // (a resumed run keeps its first part's sweep)
		if err := writeLRFind(s.Out, found); err != nil {
			return nil, err
		}
	}
	if found != nil && rank0 && env.Hooks.OnLRFind != nil {
		env.Hooks.OnLRFind(found)
	}
	tr.Hooks = runHooks(ctx, m, s, env, w, out, nFrozen, data, prefix, unfreezeAt)
	stopper := newEarlyStopper(t)
	if stopper != nil {
		defer stopper.close()
		tr.Hooks = stopper.hooks(tr.Hooks, m.VS)
		tr.early = stopper
		if w != nil {
			w.early, stopper.w = stopper, w
		}
	}
	if s.TensorBoard != "" && rank0 {
		tb, err := NewTensorBoardHook(s.TensorBoard)
		if err != nil {
			return nil, err
		}
		defer tb.Close()
		tr.Hooks = tb.Hooks(tr.Hooks)
	}
	res, err := fitData()
	if err != nil {
		return nil, err
	}
	out.Result = res
	// A stop is an interruption unless it is early stopping's own, at the
	// end of the epoch that ran out of patience.
	early := stopper != nil && res.Stopped != nil && ctx.Err() == nil &&
		stopper.es.StoppedEpoch == res.Stopped.Epoch && res.Stopped.Step == res.Stopped.StepsPerEpoch
	out.Stopped = out.Stopped || (res.Stopped != nil && !early)
	if stopper != nil && !out.Stopped && stopper.es.BestEpoch > 0 { // (a resumed run may take no epoch: it had stopped)
		changed, err := finishEarlyStop(stopper, m, w, out, stopper.seen)
		if err != nil {
			return nil, err
		}
		if changed { // the report is the final (best) model's
			res.Report = nil
		}
	}
	if !out.Stopped {
		r := res.Report // the last epoch's validation: the final model (nil when no epoch ran)
		if r == nil || math.IsNaN(res.Epochs[len(res.Epochs)-1].ValAccuracy) {
			if r, err = tr.Report(m, data.Val); err != nil {
				return nil, err
			}
		}
		out.Report = r
		if w != nil {
			if err := w.finish(m.Arch, r, res); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// mustLoop is the trainer's resolved settings; Fit's trainer holds a
// resolved TrainSpec, so this cannot fail.
func mustLoop(t *Trainer) loop {
	l, _ := t.loop()
	return l
}

// runHooks are the loop's hooks of a run, in order: the caller's OnStart
// and OnStep; at each epoch's end, the skipped images, the caller's
// OnEpochEnd, the metrics and checkpoints (w), the unfreezing schedule,
// and the context's cancellation.
func runHooks(ctx context.Context, m *vision.Model, s RunSpec, env RunEnv, w *runWriter, out *RunResult, nFrozen int, data *Data,
	prefix *PrefixCache, unfreezeAt map[int]bool) Hooks {
	h := env.Hooks
	skippedSeen := map[string]bool{}
	skipped := func(e Epoch) {
		for _, name := range e.Skipped {
			if !skippedSeen[name] {
				skippedSeen[name] = true
				out.Skipped = append(out.Skipped, name)
			}
		}
	}
	checkpoints := func(e Epoch) error {
		if w != nil {
			w.useThresholds(e)
			return w.epoch(e, &out.Best)
		}
		if !math.IsNaN(e.ValAccuracy) {
			out.Best = max(out.Best, e.ValAccuracy)
		}
		return nil
	}
	unfreeze := func(e Epoch) error {
		if !unfreezeAt[e.Epoch] {
			return nil
		}
		i, err := UnfreezeNext(m)
		if err == nil && i >= 0 && h.OnUnfreeze != nil {
			h.OnUnfreeze(i, m.Stages[i].Name)
		}
		return err
	}
	return Hooks{
		OnStart: func(p Plan) {
			if h.OnStart != nil {
				h.OnStart(RunStart{Model: m, Plan: p, Frozen: nFrozen, Classes: data.Classes, Size: data.Size, Batch: s.Train.Batch, FrozenCache: prefix})
			}
		},
		OnStep: h.OnStep,
		OnEpochEnd: func(e Epoch) error {
			skipped(e)
			var stop error
			if h.OnEpochEnd != nil {
				if stop = h.OnEpochEnd(e); stop != nil && !errors.Is(stop, ErrStop) {
					return stop
				}
			}
			for _, step := range []func(Epoch) error{checkpoints, unfreeze} {
				if err := step(e); err != nil {
					return err
				}
			}
			if stop == nil && ctx.Err() != nil {
				stop = ErrStop
			}
			if stop != nil {
				out.Stopped = true
			}
			return stop
		},
	}
}

// checkFreeze reads Freeze, UnfreezeAt and NoCache for a model of the
// given number of stages (head included): the stages to freeze, whether
// it is "all", and the unfreezing epochs. Freezing needs source weights.
func (t TrainSpec) checkFreeze(stages int, fineTune bool) (nFrozen int, all bool, unfreezeAt map[int]bool, err error) {
	if nFrozen, all, err = t.freezing(stages); err != nil {
		return 0, false, nil, err
	}
	if unfreezeAt, err = t.unfreezeEpochs(); err != nil {
		return 0, false, nil, err
	}
	if len(unfreezeAt) > 0 && all {
		return 0, false, nil, FieldErrorf("Train.UnfreezeAt", "{Train.UnfreezeAt} needs the backbone in the loop: use {Train.Freeze} N, not all (cached features)")
	}
	if t.NoCache && nFrozen == 0 {
		return 0, false, nil, FieldErrorf("Train.NoCache", "{Train.NoCache} applies to frozen stages: {Train.Freeze} N or all")
	}
	if nFrozen > 0 && !fineTune {
		return 0, false, nil, FieldErrorf("Train.Freeze", "{Train.Freeze} %s: without source weights ({Model.Weights} or {Model.Pretrained}) the frozen stages would keep their random initialisation", t.Freeze)
	}
	return nFrozen, all, unfreezeAt, nil
}
