package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/gtl-dev/gtl/finetune"
	"github.com/gtl-dev/gtl/vision"
	"github.com/gtl-dev/gtl/vision/augment"
	"github.com/gtl-dev/gtl/vision/datasets"
)

// augmentFlags are gtl train's augmentation and data-pipeline flags.
func augmentFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "augment", Usage: "none, light (random resized crop 35-100% + flip) or strong (crop 8-100% + flip + TrivialAugmentWide); default none (measured: light cost 10 points fine-tuning on 20 glyphs per class)"},
		&cli.Float64Flag{Name: "mixup", Usage: "Mixup alpha (0: off; e.g. 0.2)"},
		&cli.Float64Flag{Name: "cutmix", Usage: "CutMix alpha (0: off; e.g. 1.0); with --mixup, one of the two per batch"},
		&cli.Float64Flag{Name: "erase", Usage: "random erasing probability per image (0: off; e.g. 0.25)"},
		&cli.IntFlag{Name: "workers", Usage: "goroutines decoding and augmenting ahead of training (0: one per CPU)"},
		&cli.StringFlag{Name: "on-bad-image", Value: "fail", Usage: "an image that does not load: fail (stop, naming it) or skip (leave it out, count and report it)"},
	}
}

// parseAugment reads the augmentation flags for images of size×size.
func parseAugment(c *cli.Context, size int, fineTune bool) (string, finetune.Augmentation, error) {
	var a finetune.Augmentation
	name := c.String("augment")
	if name == "" {
		// No augmentation unless asked, fine-tuning included: gtl compare's
		// strategies train without it, and on the demo's similar target
		// (20 digit glyphs per class) the old default, light, cost 10 points
		// (83.6% against 93.8%; a flipped glyph is another glyph). Ask for light
		// or strong on photographs and longer runs.
		name = "none"
	}
	p, err := augment.Preset(name, size)
	if err != nil {
		return "", a, cli.Exit(fmt.Sprintf("--augment %s: want none, light or strong", name), 2)
	}
	if name != "none" {
		a.Transform = p
	}
	if e := c.Float64("erase"); e != 0 {
		a.Erase = &augment.RandomErasing{P: e}
		if err := a.Erase.Validate(); err != nil {
			return "", a, cli.Exit(fmt.Sprintf("--erase %g: %v", e, err), 2)
		}
	}
	if mu, cm := c.Float64("mixup"), c.Float64("cutmix"); mu != 0 || cm != 0 {
		a.Mix = &augment.MixCutMix{MixupAlpha: mu, CutMixAlpha: cm, Prob: 1, SwitchProb: 0.5}
		if err := a.Mix.Validate(); err != nil {
			return "", a, cli.Exit(fmt.Sprintf("--mixup %g --cutmix %g: %v", mu, cm, err), 2)
		}
	}
	if a.Workers = c.Int("workers"); a.Workers < 0 {
		return "", a, cli.Exit(fmt.Sprintf("--workers %d: want 0 (one per CPU) or more", a.Workers), 2)
	}
	switch a.OnBadImage = c.String("on-bad-image"); a.OnBadImage {
	case "fail", "skip":
	default:
		return "", a, cli.Exit(fmt.Sprintf("--on-bad-image %s: want fail or skip", a.OnBadImage), 2)
	}
	return name, a, nil
}

// trainData is gtl train's data: the validation images in memory, and the
// training images either in memory (train) or, for an image folder with
// augmentation, as files the loader decodes every epoch (files).
type trainData struct {
	train, val *datasets.Images
	files      []datasets.Item
	classes    []string
	n          int // training images
	size       int
}

// images returns the training images in memory, reading the files when
// they are streamed.
func (d *trainData) images(skipBad bool) (*datasets.Images, error) {
	if d.train != nil {
		return d.train, nil
	}
	im, _, err := vision.LoadItems(d.files, d.classes, d.size, skipBad)
	return im, err
}

func loadTrainData(c *cli.Context, data string, size int, aug finetune.Augmentation) (*trainData, error) {
	if data == "fashion-mnist" {
		train, val, err := loadFashion(c)
		if err != nil {
			return nil, err
		}
		return &trainData{train: vision.PrepareRGB(train, size), val: vision.PrepareRGB(val, size), classes: train.Classes, n: train.Len(), size: size}, nil
	}
	skip := aug.OnBadImage == "skip"
	if !aug.Active() { // in memory at the training size
		d, err := vision.ReadFolder(data, vision.FolderOptions{Size: size, ValFrac: c.Float64("val-split"), Seed: uint64(c.Int64("seed")), SkipBad: skip})
		if err != nil {
			return nil, cli.Exit(badImageHint(err), 2)
		}
		reportUnsupported(c, d.Unsupported)
		reportSkipped(c, d.Skipped)
		return &trainData{train: d.Train, val: d.Val, classes: d.Train.Classes, n: d.Train.Len(), size: size}, nil
	}
	f, err := vision.ListFolder(data, c.Float64("val-split"), uint64(c.Int64("seed")))
	if err != nil {
		return nil, cli.Exit(err.Error(), 2)
	}
	reportUnsupported(c, f.Unsupported)
	val, skipped, err := vision.LoadItems(f.Val, f.Classes, size, skip)
	if err != nil {
		return nil, cli.Exit(badImageHint(err), 2)
	}
	reportSkipped(c, skipped)
	return &trainData{val: val, files: f.Train, classes: f.Classes, n: len(f.Train), size: size}, nil
}
