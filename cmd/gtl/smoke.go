package main

import (
	"fmt"
	"time"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/nn"
	"github.com/urfave/cli/v2"

	"github.com/gtl-dev/gtl/finetune"
	"github.com/gtl-dev/gtl/torch"
	"github.com/gtl-dev/gtl/vision"
	"github.com/gtl-dev/gtl/vision/datasets"
	"github.com/gtl-dev/gtl/vision/models"
)

// Fashion-MNIST's training-set pixel statistics, for normalisation.
var fashionNorm = vision.Normalize{Mean: []float64{0.2860}, Std: []float64{0.3530}}

func smokeCommand() *cli.Command {
	return &cli.Command{
		Name:  "smoke",
		Usage: "check the install end to end in seconds: train a small convnet from scratch on Fashion-MNIST",
		Description: "Trains gtl's SmallCNN on --per-class training images of each of the 10 classes and\n" +
			"reports loss and accuracy on the first --test images of the test split after every epoch.",
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "per-class", Value: 200, Usage: "training images per class"},
			&cli.IntFlag{Name: "test", Value: 2000, Usage: "test images to evaluate on (max 10000)"},
			&cli.IntFlag{Name: "epochs", Value: 3, Usage: "passes over the training images"},
			&cli.IntFlag{Name: "batch", Value: 64, Usage: "images per step"},
			&cli.Float64Flag{Name: "lr", Value: 0.02, Usage: "SGD learning rate (momentum 0.9)"},
			&cli.Uint64Flag{Name: "seed", Value: 1, Usage: "seed for sampling, initialisation and shuffling"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "no progress bar"},
		},
		Action: runSmoke,
	}
}

func runSmoke(c *cli.Context) error {
	perClass, nTest := c.Int("per-class"), c.Int("test")
	if perClass < 1 || perClass > 6000 {
		return cli.Exit(fmt.Sprintf("--per-class %d: want 1..6000 (Fashion-MNIST has 6000 training images per class)", perClass), 2)
	}
	if nTest < 1 || nTest > 10000 {
		return cli.Exit(fmt.Sprintf("--test %d: want 1..10000", nTest), 2)
	}
	for _, f := range []string{"epochs", "batch"} {
		if c.Int(f) < 1 {
			return cli.Exit(fmt.Sprintf("--%s %d: want at least 1", f, c.Int(f)), 2)
		}
	}
	if lr := c.Float64("lr"); !(lr > 0) {
		return cli.Exit(fmt.Sprintf("--lr %g: want a positive rate", lr), 2)
	}
	seed := c.Uint64("seed")
	all, err := datasets.LoadFashionMNIST("", datasets.Train)
	if err != nil {
		return err
	}
	idx, err := all.FirstPerClass(perClass, seed)
	if err != nil {
		return err
	}
	train, err := all.Subset(idx)
	if err != nil {
		return err
	}
	testAll, err := datasets.LoadFashionMNIST("", datasets.Test)
	if err != nil {
		return err
	}
	first := make([]int, nTest)
	for i := range first {
		first[i] = i
	}
	test, err := testAll.Subset(first)
	if err != nil {
		return err
	}

	vs := nn.NewVarStore(gotch.CPU)
	var model *models.SmallCNN
	if err := torch.Do(func() error {
		if err := torch.ManualSeed(int64(seed)); err != nil {
			return err
		}
		model, err = models.NewSmallCNN(vs.Root(), 1, len(datasets.FashionMNISTClasses), 28)
		return err
	}); err != nil {
		return err
	}

	out := c.App.Writer
	fmt.Fprintf(out, "Fashion-MNIST, SmallCNN from scratch: %d training images (%d per class), %d test images, %s, %s\n",
		train.Len(), perClass, test.Len(), plural(c.Int("epochs"), "epoch"), plural(torch.NumThreads(), "libtorch thread"))
	fmt.Fprintf(out, "%-6s %-11s %-10s %-9s %s\n", "epoch", "train loss", "test loss", "test acc", "time")
	bar := newTrainingBar(c)
	tr := finetune.Trainer{
		Train: finetune.TrainSpec{Epochs: c.Int("epochs"), Batch: c.Int("batch"), LR: c.Float64("lr")}, Seed: seed, Normalize: fashionNorm,
		Hooks: finetune.Hooks{
			OnStart: bar.start,
			OnStep:  bar.step,
			OnEpochEnd: func(e finetune.Epoch) error {
				bar.clear()
				_, err := fmt.Fprintf(out, "%-6d %-11.4f %-10.4f %-9s %s\n", e.Epoch, e.TrainLoss, e.ValLoss,
					fmt.Sprintf("%.1f%%", 100*e.ValAccuracy), e.Duration.Round(10*time.Millisecond))
				return err
			},
		},
	}
	res, err := tr.Fit(model, vs, train, test)
	bar.finish()
	if err != nil {
		return err
	}
	last := res.Epochs[len(res.Epochs)-1]
	fmt.Fprintf(out, "final test accuracy %.1f%% (chance 10%%) in %s, %.0f training images/s\n",
		100*last.ValAccuracy, res.Duration.Round(10*time.Millisecond),
		float64(train.Len()*len(res.Epochs))/trainTime(res).Seconds())
	return nil
}

func trainTime(r *finetune.Result) time.Duration {
	var d time.Duration
	for _, e := range r.Epochs {
		d += e.Duration
	}
	return d
}
