package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/gtl-dev/gtl/finetune"
	"github.com/gtl-dev/gtl/strategies"
)

// applyStrategy resolves gtl train's --strategy (a name, or auto: gtl
// recommend's choice) for the model and the training set, and sets the
// flags it decides (freeze, unfreezing, learning rates, epochs, batch,
// schedule) where the user did not set them; cfg follows the flags. It
// returns the strategy's name ("" without --strategy).
func applyStrategy(c *cli.Context, cfg *finetune.Config, arch string, stages int, data *trainData, w io.Writer) (string, error) {
	name := c.String("strategy")
	if name == "" {
		return "", nil
	}
	transfer := c.String("weights") != "" || c.Bool("pretrained")
	if name == "auto" {
		if !transfer {
			return "", cli.Exit("--strategy auto: needs source weights (--weights or --pretrained) to measure the target against", 2)
		}
		train, err := data.images(c.String("on-bad-image") == "skip")
		if err != nil {
			return "", err
		}
		rec, err := recommend(arch, c.String("weights"), train, 100, uint64(c.Int64("seed")))
		if err != nil {
			return "", err
		}
		fmt.Fprintf(w, "strategy auto: %s (%s)\n", rec.Strategy, rec.Reason)
		name = rec.Strategy
		if name == "scratch" { // the caller re-opens the model without the source weights
			transfer = false
			for flag, v := range map[string]string{"weights": "", "pretrained": "false"} {
				if err := c.Set(flag, v); err != nil {
					return "", err
				}
			}
		}
	}
	s, err := strategies.Parse(name)
	if err != nil {
		return "", cli.Exit("--strategy: "+err.Error(), 2)
	}
	switch {
	case s.Transfer && !transfer:
		return "", cli.Exit(fmt.Sprintf("--strategy %s starts from source weights: give --weights or --pretrained", name), 2)
	case !s.Transfer && transfer:
		return "", cli.Exit("--strategy scratch trains from a random initialisation: drop --weights/--pretrained", 2)
	}
	p, err := s.Resolve(strategies.Size{Images: data.n, Stages: stages}, 0)
	if err != nil {
		return "", cli.Exit("--strategy: "+err.Error(), 2)
	}
	freeze := strconv.Itoa(p.Freeze)
	if p.Cached {
		freeze = "all"
	}
	unfreeze := make([]string, len(p.Unfreeze))
	for i, e := range p.Unfreeze {
		unfreeze[i] = strconv.Itoa(e)
	}
	for flag, v := range map[string]string{"freeze": freeze, "unfreeze-at": strings.Join(unfreeze, ","), "lr": fmt.Sprint(p.LR),
		"lr-decay": fmt.Sprint(p.LRDecay), "epochs": strconv.Itoa(p.Epochs), "batch": strconv.Itoa(p.Batch), "schedule": p.Schedule} {
		if !c.IsSet(flag) {
			if err := c.Set(flag, v); err != nil {
				return "", err
			}
		}
	}
	cfg.LR, cfg.LRDecay, cfg.Epochs, cfg.BatchSize, cfg.Schedule = c.Float64("lr"), c.Float64("lr-decay"), c.Int("epochs"), c.Int("batch"), c.String("schedule")
	return name, nil
}
