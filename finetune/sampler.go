package finetune

import (
	"fmt"
	"math/rand/v2"
	"os"
	"slices"

	"github.com/gtl-dev/gtl/vision/datasets"
)

// samplerStream keeps the balanced sampler's draws apart from the other
// generators a seed drives.
const samplerStream = 0x62616c616e636564 // "balanced"

// BalancedOrder returns the training order of one epoch of the balanced
// sampler: len(labels) images drawn with replacement, image i with
// probability proportional to 1/n_c, n_c the images of its class — as
// PyTorch's WeightedRandomSampler(1/n_c per image, len, replacement=True).
// Every class with images is then drawn with the same probability. Each
// draw picks a class uniformly, then an image of it uniformly, which has
// exactly those probabilities. The order depends on seed and epoch only
// (1-based), not on the data loader's workers, so a resumed or
// data-parallel run draws the same batches.
func BalancedOrder(labels []int, seed uint64, epoch int) ([]int, error) {
	byClass := map[int][]int{}
	var classes []int // the labels present, sorted below
	for i, l := range labels {
		if l < 0 {
			return nil, fmt.Errorf("finetune: balanced sampler: image %d has label %d", i, l)
		}
		if _, ok := byClass[l]; !ok {
			classes = append(classes, l)
		}
		byClass[l] = append(byClass[l], i)
	}
	slices.Sort(classes)
	rng := rand.New(rand.NewPCG(seed, samplerStream^uint64(epoch)))
	out := make([]int, len(labels))
	for i := range out {
		members := byClass[classes[rng.IntN(len(classes))]]
		out[i] = members[rng.IntN(len(members))]
	}
	return out, nil
}

// imbalance is what a trainer does about unequal classes: the loss's
// class weights (nil: none) and the balanced sampler's labels (nil: the
// usual shuffled permutation).
type imbalance struct {
	weights []float64
	sampler []int
}

// imbalance resolves cfg's ClassWeights and Sampler for the trainer's
// training labels (see Trainer.labels).
func (t *Trainer) imbalance(cfg loop) (imbalance, error) {
	var out imbalance
	if (cfg.ClassWeights != "" && cfg.ClassWeights != "none") || cfg.Sampler == "balanced" {
		if t.labels == nil {
			return out, fmt.Errorf("finetune: class weights and the balanced sampler need the training labels")
		}
	}
	var err error
	if t.classWeights != nil {
		out.weights = t.classWeights
	} else if out.weights, err = resolveClassWeights(cfg.ClassWeights, t.labels, t.classNames); err != nil {
		return out, err
	}
	if cfg.Sampler == "balanced" {
		out.sampler = t.labels
	}
	return out, nil
}

// order is the training order of epoch e over n images: the balanced
// sampler's draws, or a permutation from the run's generator.
func (t *Trainer) order(rng *rand.Rand, n, e int, cfg loop) ([]int, error) {
	if t.sample == nil {
		return rng.Perm(n), nil
	}
	return BalancedOrder(t.sample, cfg.Seed, e)
}

// checkImbalance checks Sampler and that a ClassWeights file exists (its
// contents are read once the classes are known).
func (t TrainSpec) checkImbalance() error {
	switch t.Sampler {
	case "", "random", "balanced":
	default:
		return FieldErrorf("Train.Sampler", "{Train.Sampler} %s: want random or balanced", t.Sampler)
	}
	switch t.ClassWeights {
	case "", "none", "auto":
		return nil
	}
	if st, err := os.Stat(t.ClassWeights); err != nil || st.IsDir() {
		return FieldErrorf("Train.ClassWeights", "{Train.ClassWeights} %s: want auto, none or a CSV file of class,weight rows (no such file)", t.ClassWeights)
	}
	return nil
}

// useData records a run's training labels (of train when it is already in
// memory, whose order the batches follow; of data's listing otherwise) and
// resolves the class weights of the trainer's settings for them.
func (t *Trainer) useData(data *Data, train *datasets.Images) error {
	labels := data.labels()
	if train != nil {
		labels = train.Labels
	}
	t.labels, t.classNames = labels, data.Classes
	w, err := resolveClassWeights(t.Train.ClassWeights, labels, data.Classes)
	t.classWeights = w
	return err
}
