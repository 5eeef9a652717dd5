package main

import (
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/gtl-dev/gtl/vision"
)

func modelsCommand() *cli.Command {
	return &cli.Command{
		Name:      "models",
		Usage:     "list the architectures with their parameters, input size, stages and pretrained weights",
		ArgsUsage: "[ARCH ...]",
		Description: "Prints each architecture's parameter count (with 1000 classes, as torchvision's ImageNet\n" +
			"weights), default input size, and its stages — the layer groups that --freeze N and\n" +
			"discriminative learning rates act on — with their parameter counts, then torchvision's weights for it\n" +
			"(the names --pretrained takes) with their published ImageNet accuracy and evaluation transform.\n" +
			"Without ARCH, all of them. Nothing is built: the counts come from each architecture's description.",
		Action: func(c *cli.Context) error {
			archs := c.Args().Slice()
			if len(archs) == 0 {
				archs = vision.Architectures()
			}
			infos := make([]vision.ArchInfo, len(archs))
			for i, a := range archs {
				var err error
				if infos[i], err = vision.Describe(a); err != nil {
					return cli.Exit(err.Error(), 2)
				}
			}
			w := c.App.Writer
			fmt.Fprintf(w, "%-20s %9s %6s  %s\n", "ARCH", "PARAMS", "INPUT", "STAGES (trainable parameters)")
			for i, a := range archs {
				info := infos[i]
				parts := make([]string, len(info.Stages))
				for j, s := range info.Stages {
					parts[j] = fmt.Sprintf("%d %s %s", j+1, s.Name, humanCount(s.Params))
				}
				spec, _ := vision.Lookup(a)
				input := spec.InputSize
				if p, err := vision.PretrainedFor(a); err == nil {
					input = p.CropSize
				}
				if _, err := fmt.Fprintf(w, "%-20s %9s %6d  %s\n", a, humanCount(info.Params), input, strings.Join(parts, " | ")); err != nil {
					return err
				}
				ws, _ := vision.PretrainedWeights(a)
				for _, p := range ws {
					if _, err := fmt.Fprintf(w, "  --pretrained=%-28s %s  crop %d resize %d %s\n", p.Name+defaultMark(p), accuracy(p), p.CropSize, p.ResizeSize, p.Filter); err != nil {
						return err
					}
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
