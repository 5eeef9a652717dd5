package main

import (
	"strconv"

	"github.com/urfave/cli/v2"

	"github.com/gtl-dev/gtl/finetune"
)

// Defaults of a plain fine-tuning run (gtl train --weights W --data D with
// no --strategy): the user's first command should land near the best
// strategy of gtl compare, not stop after a handful of steps at a constant
// rate. Measured (README, "What the demo shows"): from the demo's letters
// source onto 20 rendered digits per class, the old defaults (3 epochs of
// 6 steps, constant rate, light augmentation) reached 49.8%; a cosine
// schedule with warm-up and at least 100 steps 83.6%; the same without
// augmentation (see parseAugment) 93.8%, above the best of gtl compare's
// grid at that size (freeze-2 89.8%, scratch 88.7%, linear 88.5%).
//
//   - a cosine schedule with a short linear warm-up (timm's fine-tuning
//     recipe; fastai's fine_tune uses one-cycle, also warm-up then decay);
//   - at least fineTuneMinSteps optimisation steps, however small the data
//     (the budget of gtl compare's freeze-N and full strategies).
const (
	fineTuneSchedule = "cosine"
	fineTuneWarmup   = 0.1
	fineTuneMinSteps = 100
	fineTuneEpochs   = 3
)

// applyFineTuneDefaults sets the schedule, warm-up and epochs of a
// fine-tuning run without --strategy where the user did not set them, for a
// training set of n images; cfg follows the flags.
func applyFineTuneDefaults(c *cli.Context, cfg *finetune.Config, n int) error {
	set := map[string]string{}
	if !c.IsSet("schedule") {
		set["schedule"] = fineTuneSchedule
		if !c.IsSet("warmup") {
			set["warmup"] = strconv.FormatFloat(fineTuneWarmup, 'g', -1, 64)
		}
	}
	if !c.IsSet("epochs") {
		per := finetune.StepsPerEpoch(n, cfg.BatchSize)
		set["epochs"] = strconv.Itoa(max(fineTuneEpochs, (fineTuneMinSteps+per-1)/per))
	}
	for flag, v := range set {
		if err := c.Set(flag, v); err != nil {
			return err
		}
	}
	cfg.Schedule, cfg.Warmup, cfg.Epochs = c.String("schedule"), c.Float64("warmup"), c.Int("epochs")
	return nil
}
