package main

import (
	"fmt"
	"io"

	"github.com/urfave/cli/v2"

	"github.com/gtl-dev/gtl/finetune"
	"github.com/gtl-dev/gtl/vision"
	"github.com/gtl-dev/gtl/vision/datasets"
)

func evalCommand() *cli.Command {
	return &cli.Command{
		Name:  "eval",
		Usage: "evaluate a gtl checkpoint on fashion-mnist's test split: accuracy, per class, confusion matrix",
		Flags: append(modelFlags(),
			&cli.StringFlag{Name: "data", Value: "fashion-mnist", Usage: "data set: fashion-mnist (the test split)"},
			&cli.StringFlag{Name: "out", Usage: "also write the confusion matrix as CSV here"},
		),
		Action: func(c *cli.Context) error {
			if c.String("data") != "fashion-mnist" {
				return cli.Exit(fmt.Sprintf("--data %s: only fashion-mnist is supported so far", c.String("data")), 2)
			}
			if c.String("weights") == "" {
				return cli.Exit("eval: --weights CHECKPOINT is required", 2)
			}
			o, err := openModel(c)
			if err != nil {
				return err
			}
			test, err := datasets.LoadFashionMNIST("", datasets.Test)
			if err != nil {
				return err
			}
			// The checkpoint's classes, by name, in its order.
			var sel []int
			for _, name := range o.Classes {
				i := indexOf(test.Classes, name)
				if i < 0 {
					return cli.Exit(fmt.Sprintf("eval: %s has class %q, which fashion-mnist does not", o.Source, name), 2)
				}
				sel = append(sel, i)
			}
			if test, err = test.SelectClasses(sel); err != nil {
				return err
			}
			test = vision.PrepareRGB(test, o.Prep.CropSize)
			tr := finetune.Trainer{Train: finetune.TrainSpec{Batch: 64}, Normalize: finetune.ImageNetNorm}
			r, err := tr.Report(o.Model, test)
			if err != nil {
				return err
			}
			printReport(c.App.Writer, r, test.Len())
			if out := c.String("out"); out != "" {
				return finetune.WriteConfusionCSV(out, r)
			}
			return nil
		},
	}
}

func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}

// printReport writes accuracy, per-class accuracy and the confusion matrix.
func printReport(w io.Writer, r *finetune.Report, n int) {
	// Top-5 accuracy says nothing with 5 classes or fewer (it is 100%).
	if len(r.Classes) > 5 {
		fmt.Fprintf(w, "top-1 %.1f%%  top-5 %.1f%%  loss %.4f  (%d images)\n", 100*r.Top1, 100*r.Top5, r.Loss, n)
	} else {
		fmt.Fprintf(w, "top-1 %.1f%%  loss %.4f  (%d images, %d classes)\n", 100*r.Top1, r.Loss, n, len(r.Classes))
	}
	fmt.Fprintf(w, "confusion matrix (rows: true class, columns: predicted)\n%-14s", "")
	for i := range r.Classes {
		fmt.Fprintf(w, "%6d", i)
	}
	fmt.Fprintf(w, "  accuracy\n")
	for i, row := range r.Confusion {
		fmt.Fprintf(w, "%-14s", fmt.Sprintf("%d %s", i, truncate(r.Classes[i], 11)))
		for _, v := range row {
			fmt.Fprintf(w, "%6d", v)
		}
		fmt.Fprintf(w, "  %.1f%%\n", 100*r.PerClass[i])
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
