package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/gtl-dev/gtl/strategies"
	"github.com/gtl-dev/gtl/vision"
	"github.com/gtl-dev/gtl/vision/datasets"
)

func recommendCommand() *cli.Command {
	return &cli.Command{
		Name:  "recommend",
		Usage: "measure your data's size and similarity to the source, and recommend a strategy",
		Description: "Counts the labelled images per class and measures similarity to the source domain: the same\n" +
			"linear probe is fitted on frozen source features and on frozen random-initialisation features, and\n" +
			"the gain is the share of the random probe's errors the source features remove. The data is placed\n" +
			"in the transfer-learning table (small/large × similar/different) and the strategy of its cell is\n" +
			"printed with the gtl train command that runs it.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "model", Aliases: []string{"m"}, Usage: "architecture (default: the source checkpoint's)"},
			&cli.StringFlag{Name: "weights", Aliases: []string{"w"}, Usage: "source weights (or --pretrained)"},
			pretrainedFlag(), weightsKeyFlag(), weightsPrefixFlag(), allowNonFiniteFlag(),
			&cli.StringFlag{Name: "data", Usage: "your labelled images: an image folder (DIR/<class>/<image>, or DIR/train/… and DIR/val/…), or fashion-mnist for the built-in data set (required)"},
			&cli.StringFlag{Name: "classes", Usage: "fashion-mnist classes of the target, e.g. 5-9"},
			&cli.IntFlag{Name: "shots", Usage: "labelled images per class you have (fashion-mnist: sampled with --seed; 0: all)"},
			&cli.Float64Flag{Name: "val-split", Value: 0.2, Usage: "share of each class kept for validation (folders without val/)"},
			&cli.IntFlag{Name: "probe-images", Value: 100, Usage: "images per class the probes use"},
			&cli.IntFlag{Name: "image-size", Usage: "resolution (default: the source checkpoint's; 224 for torchvision weights)"},
			&cli.Int64Flag{Name: "seed", Value: 1, Usage: "seed for sampling and the probes"},
			&cli.BoolFlag{Name: "json", Usage: "print the measurement and the recommendation as JSON"},
		},
		Action: runRecommend,
	}
}

// recommendation is what gtl recommend prints with --json.
type recommendation struct {
	strategies.Measurement
	Large     bool   `json:"large"`
	Similar   bool   `json:"similar"`
	Unrelated bool   `json:"unrelated"`
	Strategy  string `json:"strategy"`
	Reason    string `json:"reason"`
	Command   string `json:"command"`
}

func runRecommend(c *cli.Context) error {
	if err := requireData(c); err != nil {
		return err
	}
	linear, _ := strategies.Parse("linear")
	arch, size, err := sourceModel(c, []strategies.Strategy{linear})
	if err != nil {
		return err
	}
	tgt, err := loadTarget(c, size, uint64(c.Int64("seed")))
	if err != nil {
		return err
	}
	sub, err := tgt.Shots(c.Int("shots"), uint64(c.Int64("seed")))
	if err != nil {
		return specError(err)
	}
	train, err := sub.Images()
	if err != nil {
		return err
	}
	src := strategies.ProbeOptions{Arch: arch, Weights: c.String("weights"), WeightsKey: c.String("weights-key"), WeightsPrefix: c.String("weights-prefix"),
		AllowNonFinite: c.Bool("allow-nonfinite"), PerClass: c.Int("probe-images"), Seed: uint64(c.Int64("seed"))}
	rec, err := recommend(src, train)
	if err != nil {
		return err
	}
	args := []string{"gtl train", "--model " + arch, "--data " + c.String("data")}
	if rec.Strategy != "scratch" {
		switch name := pretrainedName(c); {
		case c.Bool("pretrained") && name != "":
			args = append(args, "--pretrained="+name)
		case c.Bool("pretrained"):
			args = append(args, "--pretrained")
		default:
			args = append(args, "--weights "+c.String("weights"))
		}
		if k := c.String("weights-key"); k != "" {
			args = append(args, "--weights-key "+k)
		}
	}
	if c.String("classes") != "" {
		args = append(args, "--classes "+c.String("classes"))
	}
	if c.Int("shots") > 0 && c.String("data") == datasets.FashionMNIST { // a folder is used as it is
		args = append(args, fmt.Sprintf("--shots %d --seed %d", c.Int("shots"), c.Int64("seed")))
	}
	args = append(args, fmt.Sprintf("--image-size %d", size)) // the resolution measured at
	rec.Command = strings.Join(append(args, "--strategy "+rec.Strategy, "--out runs/"+rec.Strategy), " ")
	if c.Bool("json") {
		b, _ := json.MarshalIndent(rec, "", "  ")
		fmt.Fprintln(c.App.Writer, string(b))
		return nil
	}
	printRecommendation(c.App.Writer, rec)
	return nil
}

// recommend measures the target and places it in the table.
func recommend(src strategies.ProbeOptions, train *datasets.Images) (*recommendation, error) {
	m, err := strategies.Measure(train, src)
	if err != nil {
		return nil, err
	}
	stages, err := vision.StageCount(src.Arch)
	if err != nil {
		return nil, err
	}
	p := strategies.Place(m, stages)
	return &recommendation{Measurement: *m, Large: p.Large, Similar: p.Similar, Unrelated: p.Unrelated, Strategy: p.Strategy, Reason: p.Reason}, nil
}

func printRecommendation(w io.Writer, r *recommendation) {
	fmt.Fprintf(w, "target: %d classes, %s per class (smallest class)\n", r.Classes, plural(r.PerClass, "labelled image"))
	fmt.Fprintf(w, "linear probe on %s, scored on held-out target images:\n", plural(r.ProbeImages, "image"))
	fmt.Fprintf(w, "  source features  %5.1f%%\n  random features  %5.1f%%\n", 100*r.SourceProbe, 100*r.RandomProbe)
	if r.Gain >= 0 {
		fmt.Fprintf(w, "  gain: source features remove %.0f%% of the random probe's errors (similar from %.0f%%)\n\n", 100*r.Gain, 100*strategies.SimilarGain)
	} else {
		fmt.Fprintf(w, "  gain: none; source features make %.0f%% more errors than random ones (similar from a gain of %.0f%%)\n\n", -100*r.Gain, 100*strategies.SimilarGain)
	}
	mark := func(large, similar bool) string {
		if !r.Unrelated && large == r.Large && similar == r.Similar {
			return "→ "
		}
		return "  "
	}
	fmt.Fprintf(w, "%-26s %-30s %s\n", "", "similar data", "different data")
	fmt.Fprintf(w, "%-26s %-30s %s\n", fmt.Sprintf("small (< %d per class)", strategies.LargePerClass), mark(false, true)+"linear (train the classifier)", mark(false, false)+"freeze-2 (fine-tune most)")
	fmt.Fprintf(w, "%-26s %-30s %s\n", "large", mark(true, true)+"freeze the lower stages", mark(true, false)+"full (fine-tune everything)")
	unrelated := "  "
	if r.Unrelated {
		unrelated = "→ "
	}
	fmt.Fprintf(w, "%-26s %s\n\n", fmt.Sprintf("unrelated (gain < %.0f%%)", 100*strategies.UnrelatedGain), unrelated+"scratch (nothing to transfer)")
	fmt.Fprintf(w, "recommended: %s\n  %s\nrun:\n  %s\n", r.Strategy, r.Reason, r.Command)
}
