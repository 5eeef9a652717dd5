package main

import (
	"github.com/urfave/cli/v2"
)

// augmentFlags are gtl train's augmentation and data-pipeline flags.
func augmentFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "augment", Usage: "none, light (random resized crop 35-100% + flip) or strong (crop 8-100% + flip + TrivialAugmentWide); default none (measured: light cost 10 points fine-tuning on 20 glyphs per class; ask for light on photographs)"},
		&cli.Float64Flag{Name: "mixup", Usage: "Mixup alpha (0: off; e.g. 0.2)"},
		&cli.Float64Flag{Name: "cutmix", Usage: "CutMix alpha (0: off; e.g. 1.0); with --mixup, one of the two per batch"},
		&cli.Float64Flag{Name: "erase", Usage: "random erasing probability per image (0: off; e.g. 0.25)"},
		&cli.IntFlag{Name: "workers", Usage: "goroutines decoding and augmenting ahead of training (0: one per CPU)"},
		&cli.StringFlag{Name: "on-bad-image", Value: "fail", Usage: "an image that does not load: fail (stop, naming it) or skip (leave it out, count and report it)"},
	}
}
