package finetune

import (
	"context"
	"errors"
	"math"
	"path/filepath"

	"github.com/sugarme/gotch"

	"github.com/gtl-dev/gtl/env"
	"github.com/gtl-dev/gtl/vision"
	"github.com/gtl-dev/gtl/vision/datasets"
	"github.com/gtl-dev/gtl/vision/loader"
	"github.com/gtl-dev/gtl/vision/torch"
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
}

// RunConfig is the resolved configuration of a run, as config.json and
// the checkpoints' "train" entry record it: enough to repeat the run.
type RunConfig struct {
	Model          string   `json:"model"`
	Weights        string   `json:"weights"`
	Data           string   `json:"data"`
	Classes        []string `json:"classes"`
	Shots          int      `json:"shots"`
	TrainImages    int      `json:"train_images"`
	Augment        string   `json:"augment"`
	Workers        int      `json:"workers"`
	OnBadImage     string   `json:"on_bad_image"`
	ValImages      int      `json:"val_images"`
	ImageSize      int      `json:"image_size"`
	Strategy       string   `json:"strategy"`
	Freeze         string   `json:"freeze"`
	BNPolicy       string   `json:"bn_policy"`
	UnfreezeAt     string   `json:"unfreeze_at"`
	LR             float64  `json:"lr"`
	LRDecay        float64  `json:"lr_decay"`
	WeightDecay    float64  `json:"weight_decay"`
	Epochs         int      `json:"epochs"`
	Batch          int      `json:"batch"`
	Momentum       float64  `json:"momentum"`
	Optimizer      string   `json:"optimizer"`
	Schedule       string   `json:"schedule"`
	Warmup         float64  `json:"warmup"`
	LabelSmoothing float64  `json:"label_smoothing"`
	ClipGrad       float64  `json:"clip_grad"`
	EMA            float64  `json:"ema"`
	Mixup          float64  `json:"mixup"`
	CutMix         float64  `json:"cutmix"`
	Erase          float64  `json:"erase"`
	EvalEvery      int      `json:"eval_every"`
	Device         string   `json:"device"`
	Seed           uint64   `json:"seed"`
	CachedFeatures bool     `json:"cached_features"`
	// FrozenCache records whether a run with Freeze N computed its frozen
	// stages once per image (Trainer.FitPrefixCached), and why not.
	FrozenCache *PrefixCache `json:"frozen_cache,omitempty"`
	// WorldSize and GlobalBatch are set in a data-parallel run: Batch is
	// per rank, as in DDP, and the learning rate is not rescaled.
	WorldSize   int `json:"world_size,omitempty"`
	GlobalBatch int `json:"global_batch,omitempty"`
}

// Run carries out spec: it resolves it, opens the model (before reading
// any image, so that bad weights are reported first), reads the data,
// freezes stages, trains with the spec's plan, validates after every
// epoch (every Train.EvalEvery), writes the outputs to Out when set, and
// evaluates the final model. Cancelling ctx stops the run after the
// current epoch, as a hook's ErrStop does (RunResult.Stopped).
func Run(ctx context.Context, spec RunSpec) (*RunResult, error) {
	s, err := spec.Resolve()
	if err != nil {
		return nil, err
	}
	aug, err := s.augmentation()
	if err != nil {
		return nil, err
	}
	dev, _ := torch.ParseDevice(s.Device) // checked by Resolve
	limit := s.Train.CacheLimit           // frozen-stage cache (FitPrefixCached)
	if limit == 0 {
		if limit, err = env.FrozenCacheBytes(); err != nil {
			return nil, err
		}
	}
	if s.Train.Freeze != "0" && !s.FineTune() { // refused before any data is read
		stages, err := StageCount(s.Model.Arch)
		if err != nil {
			return nil, err
		}
		if _, _, _, err := s.Train.checkFreeze(stages, s.FineTune()); err != nil {
			return nil, err
		}
	}
	// The classes are known before any image is read (from the spec or a
	// folder's listing): the model is opened first, so that a bad weights
	// file is reported before a large data set is read.
	data := s.Data.Loaded
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
	open := vision.OpenOptions{Arch: s.Model.Arch, Weights: s.Model.Weights, WeightsKey: s.Model.WeightsKey, Pretrained: s.Model.Pretrained,
		PretrainedName: s.Model.PretrainedName, NumClasses: len(classes), Classes: classes, Device: dev, Fetch: s.Model.Fetch}
	if s.Resume { // the last checkpoint holds the weights to continue from
		open.Weights, open.Pretrained = filepath.Join(s.Out, "last.safetensors"), false
	}
	var o *vision.Opened
	if err := torch.Do(func() error {
		if err := torch.ManualSeed(int64(s.Seed)); err != nil {
			return err
		}
		o, err = vision.Open(open)
		return err
	}); err != nil {
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
		if len(data.Unsupported) > 0 && s.Hooks.OnUnsupported != nil {
			s.Hooks.OnUnsupported(data.Unsupported)
		}
		if len(data.Skipped) > 0 && s.Hooks.OnSkipped != nil {
			s.Hooks.OnSkipped(data.Skipped)
		}
	}
	if data, err = data.Shots(s.Data.Shots, s.Seed); err != nil {
		return nil, err
	}
	if data.Len() == 0 {
		return nil, FieldErrorf("Data.Source", "{Data.Source} %s: no training images", s.Data.Source)
	}
	if spec.Train.Epochs == 0 && s.FineTune() && s.Train.Strategy == "" {
		// A plain fine-tuning run trains at least FineTuneMinSteps steps.
		per := StepsPerEpoch(data.Len(), s.Train.Batch)
		s.Train.Epochs = max(s.Train.Epochs, (FineTuneMinSteps+per-1)/per)
	}
	if data.Val == nil || data.Val.Len() == 0 {
		return nil, FieldErrorf("Data.Source", "{Data.Source} %s: no validation images", s.Data.Source)
	}
	if s.Hooks.OnOpen != nil {
		s.Hooks.OnOpen(o)
	}
	t := s.Train
	nFrozen, all, unfreezeAt, err := t.checkFreeze(len(m.Stages), s.FineTune())
	if err != nil {
		return nil, err
	}
	cached := all && !aug.Active() && !t.NoCache
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
	cfg := Config{Epochs: t.Epochs, BatchSize: t.Batch, LR: t.LR, LRDecay: t.LRDecay, WeightDecay: t.WeightDecay,
		Optimizer: t.Optimizer, Schedule: t.Schedule, Warmup: t.Warmup, LabelSmoothing: t.LabelSmoothing, ClipNorm: t.ClipGrad,
		EMA: t.EMA, EvalEvery: t.EvalEvery, Seed: s.Seed, Augment: aug, Device: dev, Normalize: ImageNetNorm, CacheLimit: limit}
	// Frozen stages below trainable ones run once per image where nothing
	// changes their output between epochs (FitPrefixCached).
	var prefix *PrefixCache
	var train *datasets.Images // in memory (not streamed)
	if nFrozen > 0 && !all {
		switch {
		case len(unfreezeAt) > 0:
			prefix = &PrefixCache{Reason: "unfreeze-at changes the frozen stages"}
		case t.NoCache:
			prefix = &PrefixCache{Reason: "turned off (no-cache)"}
		case aug.Active(): // (only augmented runs stream their images)
			prefix = &PrefixCache{Reason: reasonAugment}
		default:
			if train, err = data.Images(); err != nil {
				return nil, err
			}
			p, err := (&Trainer{Config: cfg, Dist: s.Dist}).PlanPrefixCache(m, train, data.Val)
			if err != nil {
				return nil, err
			}
			prefix = &p
		}
	}
	rc := RunConfig{Model: m.Arch, Weights: o.Source, Data: s.Data.Source, Classes: data.Classes, Shots: s.Data.Shots,
		TrainImages: data.Len(), Augment: t.Augment, Workers: aug.Workers, OnBadImage: aug.OnBadImage, ValImages: data.Val.Len(),
		ImageSize: data.Size, Strategy: t.Strategy, Freeze: t.Freeze, BNPolicy: t.BNPolicy, UnfreezeAt: JoinEpochs(t.UnfreezeAt),
		LR: t.LR, LRDecay: t.LRDecay, WeightDecay: t.WeightDecay, Epochs: t.Epochs, Batch: t.Batch, Momentum: 0.9,
		Optimizer: t.Optimizer, Schedule: t.Schedule, Warmup: t.Warmup, LabelSmoothing: t.LabelSmoothing, ClipGrad: t.ClipGrad,
		EMA: t.EMA, Mixup: t.Mixup, CutMix: t.CutMix, Erase: t.Erase, EvalEvery: t.EvalEvery, Device: torch.DeviceName(dev),
		Seed: s.Seed, CachedFeatures: cached, FrozenCache: prefix}
	if s.Dist != nil {
		rc.WorldSize, rc.GlobalBatch = s.Dist.World(), t.Batch*s.Dist.World()
	}
	rank0 := s.Dist == nil || s.Dist.Rank() == 0 // the rank that writes
	out := &RunResult{Spec: s, Config: rc, Best: -1}
	var w *runWriter
	if s.Out != "" && rank0 {
		if w, out.Best, err = newRunWriter(s.Out, s.Resume, rc); err != nil {
			return nil, err
		}
		defer w.close()
	}
	skippedSeen := map[string]bool{}
	tr := Trainer{Config: cfg, StateDir: s.Out, Resume: s.Resume, Dist: s.Dist, Hooks: Hooks{
		OnStart: func(p Plan) {
			if s.Hooks.OnStart != nil {
				s.Hooks.OnStart(RunStart{Model: m, Plan: p, Frozen: nFrozen, Classes: data.Classes, Size: data.Size, Batch: t.Batch,
					FrozenCache: prefix})
			}
		},
		OnStep: s.Hooks.OnStep,
		OnEpochEnd: func(e Epoch) error {
			for _, name := range e.Skipped {
				if !skippedSeen[name] {
					skippedSeen[name] = true
					out.Skipped = append(out.Skipped, name)
				}
			}
			var stop error
			if s.Hooks.OnEpochEnd != nil {
				if stop = s.Hooks.OnEpochEnd(e); stop != nil && !errors.Is(stop, ErrStop) {
					return stop
				}
			}
			if w != nil {
				if err := w.epoch(m, e, &out.Best); err != nil {
					return err
				}
			} else if !math.IsNaN(e.ValAccuracy) {
				out.Best = max(out.Best, e.ValAccuracy)
			}
			if unfreezeAt[e.Epoch] {
				i, err := UnfreezeNext(m)
				if err != nil {
					return err
				}
				if i >= 0 && s.Hooks.OnUnfreeze != nil {
					s.Hooks.OnUnfreeze(i, m.Stages[i].Name)
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
	}}
	var res *Result
	switch {
	case cached:
		if train, err = data.Images(); err != nil {
			return nil, err
		}
		res, err = tr.FitCached(m, train, data.Val)
	case prefix != nil && prefix.Used:
		res, err = tr.fitPrefix(m, *prefix, train, data.Val)
	case data.Streamed():
		res, err = tr.FitSource(m, m.VS, loader.FromFiles(data.files), len(data.Classes), data.Size, data.Val)
	default:
		if train == nil {
			if train, err = data.Images(); err != nil {
				return nil, err
			}
		}
		res, err = tr.Fit(m, m.VS, train, data.Val)
	}
	if err != nil {
		return nil, err
	}
	out.Result = res
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
	if s.KeepModel {
		keep, out.Model = true, m
	}
	return out, nil
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

// StageCount returns the number of stages of an architecture, head
// included (it builds the model once, on the CPU, without weights).
func StageCount(arch string) (int, error) {
	n := 0
	err := torch.Do(func() error {
		m, err := vision.New(arch, 2, gotch.CPU)
		if err != nil {
			return err
		}
		n = len(m.Stages)
		m.Close()
		return nil
	})
	return n, err
}
