package main

import (
	"fmt"
	"strings"

	"github.com/sugarme/gotch"
	"github.com/urfave/cli/v2"

	"github.com/gtl-dev/gtl/vision"
	"github.com/gtl-dev/gtl/vision/torch"
)

func modelsCommand() *cli.Command {
	return &cli.Command{
		Name:      "models",
		Usage:     "list the architectures with their parameters, input size, stages and pretrained weights",
		ArgsUsage: "[ARCH ...]",
		Description: "Builds each architecture (1000 classes, as torchvision's ImageNet weights) and prints its\n" +
			"parameter count, default input size, and its stages — the layer groups that --freeze N and\n" +
			"discriminative learning rates act on — with their parameter counts, then torchvision's weights for it\n" +
			"(the names --pretrained takes) with their published ImageNet accuracy and evaluation transform.\n" +
			"Without ARCH, all of them.",
		Action: func(c *cli.Context) error {
			archs := c.Args().Slice()
			if len(archs) == 0 {
				archs = vision.Architectures()
			}
			for _, a := range archs {
				if _, err := vision.Lookup(a); err != nil {
					return cli.Exit(err.Error(), 2)
				}
			}
			w := c.App.Writer
			fmt.Fprintf(w, "%-20s %9s %6s  %s\n", "ARCH", "PARAMS", "INPUT", "STAGES (trainable parameters)")
			for _, a := range archs {
				err := torch.Do(func() error {
					m, err := vision.New(a, 1000, gotch.CPU)
					if err != nil {
						return err
					}
					defer m.VS.Destroy()
					counts, _ := m.StageParams()
					parts := make([]string, len(m.Stages))
					for i, s := range m.Stages {
						parts[i] = fmt.Sprintf("%d %s %s", i+1, s.Name, humanCount(counts[i]))
					}
					input := m.InputSize
					if p, err := vision.PretrainedFor(a); err == nil {
						input = p.CropSize
					}
					if _, err = fmt.Fprintf(w, "%-20s %9s %6d  %s\n", a, humanCount(m.NumParams()), input, strings.Join(parts, " | ")); err != nil {
						return err
					}
					ws, _ := vision.PretrainedWeights(a)
					for _, p := range ws {
						if _, err := fmt.Fprintf(w, "  --pretrained=%-28s %s  crop %d resize %d %s\n", p.Name+defaultMark(p), accuracy(p), p.CropSize, p.ResizeSize, p.Filter); err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					return err
				}
			}
			return nil
		},
	}
}

func defaultMark(p vision.Pretrained) string {
	if p.Default {
		return " (DEFAULT)"
	}
	return ""
}

// accuracy is the published ImageNet-1K top-1/top-5 of the weights.
func accuracy(p vision.Pretrained) string {
	if p.Acc1 == 0 {
		return fmt.Sprintf("%-27s", "ImageNet acc@1/acc@5 n/a")
	}
	return fmt.Sprintf("ImageNet acc@1 %6.2f%% acc@5 %6.2f%%", p.Acc1, p.Acc5)
}

// humanCount writes 11689512 as 11.69M.
func humanCount(n int64) string {
	switch {
	case n >= 1e6:
		return fmt.Sprintf("%.2fM", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1fK", float64(n)/1e3)
	}
	return fmt.Sprint(n)
}
