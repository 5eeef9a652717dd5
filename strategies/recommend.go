package strategies

import (
	"context"
	"fmt"
	"math/rand/v2"

	"github.com/sugarme/gotch"

	"github.com/gtl-dev/gtl/finetune"
	"github.com/gtl-dev/gtl/torch"
	"github.com/gtl-dev/gtl/vision"
	"github.com/gtl-dev/gtl/vision/datasets"
)

// Thresholds of the advisor's table. A target with at least LargePerClass
// labelled images per class is "large"; one whose source-feature probe
// removes at least SimilarGain of the random-feature probe's errors is
// "similar". See Place for their meaning and the README for how they were
// set against gtl compare.
//
// Below UnrelatedGain the source features hardly beat (or lose to) features
// that know nothing: there is nothing to transfer, and the advisor says to
// train from scratch.
const (
	LargePerClass = 500
	SimilarGain   = 0.5
	UnrelatedGain = 0.1
)

// ProbeOptions set up the similarity measurement of Measure.
type ProbeOptions struct {
	Arch, Weights string
	// WeightsKey names the entry of a wrapping checkpoint in Weights to
	// load (see vision.OpenOptions.WeightsKey); "" takes the plain weights.
	WeightsKey string
	// WeightsPrefix and AllowNonFinite are vision.OpenOptions's, for the
	// source weights.
	WeightsPrefix  string
	AllowNonFinite bool
	// PerClass is the number of images per class the probes use (70% to
	// fit, 30% to score); default 100, fewer when a class is smaller.
	PerClass int
	Seed     uint64
}

// Measurement is what the advisor knows about a target data set.
type Measurement struct {
	Classes       int     `json:"classes"`
	PerClass      int     `json:"images_per_class"` // labelled training images of the smallest class
	ProbeImages   int     `json:"probe_images"`     // images the probes were fitted on (per fold when cross-validated)
	SourceProbe   float64 `json:"source_probe_accuracy"`
	RandomProbe   float64 `json:"random_probe_accuracy"`
	Gain          float64 `json:"gain"` // share of the random probe's errors that source features remove
	Seconds       float64 `json:"seconds"`
	SourceWeights string  `json:"source_weights"`
	SourceKey     string  `json:"source_weights_key,omitempty"` // the entry of SourceWeights loaded, when chosen
}

// Measure estimates how similar the target is to the source domain: it
// fits the same linear probe on frozen source features and on frozen
// random-initialisation features (same architecture) and compares their
// accuracy on held-out target images. Source features that separate the
// target's classes much better than random ones carry over: the domains
// are similar in the sense that matters for transfer. The gain is the
// share of the random probe's errors that the source features remove,
// (err_random - err_source) / err_random, which does not depend on how hard
// the task is as much as the raw accuracy difference does.
func Measure(train *datasets.Images, o ProbeOptions) (*Measurement, error) {
	if o.PerClass == 0 {
		o.PerClass = 100
	}
	count := make([]int, len(train.Classes))
	for _, l := range train.Labels {
		count[l]++
	}
	smallest := train.Len()
	for _, k := range count {
		smallest = min(smallest, k)
	}
	if smallest < 4 {
		return nil, fmt.Errorf("strategies: measure: a class has %d images; the probes need at least 4 per class", smallest)
	}
	per := min(o.PerClass, smallest)
	idx, err := train.FirstPerClass(per, o.Seed)
	if err != nil {
		return nil, err
	}
	splits := Folds(train.Labels, len(train.Classes), idx, o.Seed)
	m := &Measurement{Classes: len(train.Classes), PerClass: smallest, ProbeImages: len(splits[0][0]), SourceWeights: o.Weights, SourceKey: o.WeightsKey}
	scored := 0
	for _, sp := range splits {
		fitSet, err := train.Subset(sp[0])
		if err != nil {
			return nil, err
		}
		scoreSet, err := train.Subset(sp[1])
		if err != nil {
			return nil, err
		}
		src, err := probe(o, o.Weights, fitSet, scoreSet)
		if err != nil {
			return nil, err
		}
		rnd, err := probe(o, "", fitSet, scoreSet)
		if err != nil {
			return nil, err
		}
		n := float64(len(sp[1]))
		m.SourceProbe += src * n
		m.RandomProbe += rnd * n
		scored += len(sp[1])
	}
	m.SourceProbe /= float64(scored)
	m.RandomProbe /= float64(scored)
	if e := 1 - m.RandomProbe; e > 0 {
		m.Gain = ((1 - m.RandomProbe) - (1 - m.SourceProbe)) / e
	}
	return m, nil
}

// CVPerClass is the number of images per class under which Measure
// cross-validates its probes instead of scoring them on one 30% split: with
// 5 images per class one split scores a single image per class, and on the
// demo's narrow source that one split measured a gain of +50% where 20 and
// 100 images per class measured -167% and -73% (README, "What the demo
// shows").
const CVPerClass = 20

// Folds splits idx (indices into labels, nClasses classes) into (fit,
// score) pairs: with fewer than CVPerClass images in the smallest class,
// leave-one-out per class (k folds, k the smallest class's count: fold i
// scores the i-th image of every class of at least i+1 images and fits on
// the rest), so that every image is scored once; otherwise one split, 70%
// of each class to fit and the rest to score. Classes are shuffled with
// seed first.
func Folds(labels []int, nClasses int, idx []int, seed uint64) [][2][]int {
	byClass := make([][]int, nClasses)
	for _, i := range idx {
		byClass[labels[i]] = append(byClass[labels[i]], i)
	}
	r := rand.New(rand.NewPCG(seed, 0x70726f6265))
	smallest := len(idx)
	for _, its := range byClass {
		r.Shuffle(len(its), func(i, j int) { its[i], its[j] = its[j], its[i] })
		smallest = min(smallest, len(its))
	}
	if smallest >= CVPerClass {
		var fit, score []int
		for _, its := range byClass {
			k := max(1, min(len(its)-1, int(0.7*float64(len(its))+0.5)))
			fit, score = append(fit, its[:k]...), append(score, its[k:]...)
		}
		return [][2][]int{{fit, score}}
	}
	var out [][2][]int
	for f := 0; f < smallest; f++ {
		var fit, score []int
		for _, its := range byClass {
			for j, i := range its {
				if j == f {
					score = append(score, i)
				} else {
					fit = append(fit, i)
				}
			}
		}
		out = append(out, [2][]int{fit, score})
	}
	return out
}

// probe fits a linear classifier on frozen features of the model with the
// given weights ("" for torchvision's random initialisation) and returns
// its accuracy on score.
func probe(o ProbeOptions, weights string, fit, score *datasets.Images) (float64, error) {
	var m *vision.Model
	err := torch.Do(func() error {
		if err := torch.ManualSeed(int64(o.Seed)); err != nil {
			return err
		}
		open := vision.OpenOptions{Arch: o.Arch, Weights: weights, Classes: fit.Classes, NumClasses: len(fit.Classes), Device: gotch.CPU}
		if weights != "" { // the random-initialisation probe has no file
			open.WeightsKey, open.WeightsPrefix, open.AllowNonFinite = o.WeightsKey, o.WeightsPrefix, o.AllowNonFinite
		}
		op, err := vision.Open(open)
		if err != nil {
			return err
		}
		m = op.Model
		return nil
	})
	if m != nil {
		defer func() { _ = torch.Do(func() error { m.Close(); return nil }) }()
	}
	if err != nil {
		return 0, err
	}
	s, _ := Parse("linear")
	p, err := s.Resolve(Size{Images: fit.Len(), Stages: len(m.Stages)}, 0)
	if err != nil {
		return 0, err
	}
	p.EvalEvery = p.Epochs // scored once, at the end
	spec := finetune.RunSpec{Data: finetune.DataSpec{ImageSize: fit.Height}, Model: finetune.ModelSpec{Arch: o.Arch, Weights: weights}, Train: p.TrainSpec, Seed: o.Seed, Device: "cpu"}
	res, err := finetune.Fit(context.Background(), m, weights, finetune.NewData(fit, score, fit.Height), spec, finetune.RunEnv{})
	if err != nil {
		return 0, fmt.Errorf("strategies: probe on %s features: %w", map[bool]string{true: "random", false: "source"}[weights == ""], err)
	}
	return res.Result.Epochs[len(res.Result.Epochs)-1].ValAccuracy, nil
}

// Placement is the target's cell in the transfer-learning table and the
// strategy it calls for.
type Placement struct {
	Large, Similar bool
	Unrelated      bool   // the source features are no better than random ones
	Strategy       string // a name Parse accepts
	Reason         string
}

// Place puts a measured target in the table (size × similarity) and picks
// the strategy of its cell, for a model with the given number of stages:
//
//	small, similar:   linear (frozen backbone, train the classifier)
//	small, different: freeze-2 (stem and first stage frozen, the rest trains)
//	large, similar:   freeze-(stages-3) (the top two stages and the head train)
//	large, different: full (every stage, discriminative rates)
//	unrelated (gain below UnrelatedGain), any size: scratch
func Place(m *Measurement, stages int) Placement {
	p := Placement{Large: m.PerClass >= LargePerClass, Similar: m.Gain >= SimilarGain, Unrelated: m.Gain < UnrelatedGain}
	size := fmt.Sprintf("%d images per class (large from %d)", m.PerClass, LargePerClass)
	sim := fmt.Sprintf("source features remove %.0f%% of random features' probe errors (similar from %.0f%%)", 100*m.Gain, 100*SimilarGain)
	switch {
	case p.Unrelated:
		p.Strategy = "scratch"
		p.Reason = fmt.Sprintf("unrelated: the source features separate the target's classes no better than random ones (gain under %.0f%%); nothing to transfer, train from scratch", 100*UnrelatedGain)
	case !p.Large && p.Similar:
		p.Strategy = "linear"
		p.Reason = "small and similar: the source features already separate the classes; train only the classifier"
	case !p.Large && !p.Similar:
		p.Strategy = fmt.Sprintf("freeze-%d", min(2, stages-1))
		p.Reason = "small and different: keep the generic low-level stages, fine-tune the rest (augment, or collect more data)"
	case p.Large && p.Similar:
		p.Strategy = fmt.Sprintf("freeze-%d", max(1, stages-3))
		p.Reason = "large and similar: fine-tune the top stages, keep the rest"
	default:
		p.Strategy = "full"
		p.Reason = "large and different: fine-tune the whole model, lower rates for lower stages"
	}
	p.Reason += "; " + size + "; " + sim
	return p
}
