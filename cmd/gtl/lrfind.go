package main

import (
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/gtl-dev/gtl/finetune"
	"github.com/gtl-dev/gtl/strategies"
)

func lrFindCommand() *cli.Command {
	skip := map[string]bool{"out": true, "resume": true, "overwrite": true, "lr": true, "tensorboard": true, "patience": true, "monitor": true, "min-delta": true}
	for _, f := range distFlags() {
		skip[f.Names()[0]] = true
	}
	var flags []cli.Flag
	for _, f := range trainCommand().Flags {
		if !skip[f.Names()[0]] {
			flags = append(flags, f)
		}
	}
	flags = append(flags, &cli.StringFlag{Name: "out", Value: ".", Usage: "folder for lr-find.png (the plot) and lr-find.csv (lr, loss, smoothed_loss per step)"})
	return &cli.Command{
		Name:  "lr-find",
		Usage: "find a learning rate: fastai's LR finder on the run gtl train would make",
		Description: "Trains the model of the same flags as gtl train for up to --num-it steps with the head's rate growing\n" +
			"exponentially from --start-lr to --end-lr (lower stages keep their --lr-decay ratio), stops when the\n" +
			"smoothed loss passes 4x its minimum, and prints fastai's suggestions: valley (the default), steep and\n" +
			"minimum. Nothing is trained for good; gtl train --lr find runs the same sweep, then trains at the\n" +
			"suggested rate from the same starting weights.",
		Flags:  flags,
		Action: runLRFind,
	}
}

// lrFindFlags are the LR finder's settings (finetune.LRFindSpec), shared
// by gtl lr-find, gtl train --lr find and gtl compare --lr find.
func lrFindFlags() []cli.Flag {
	return []cli.Flag{
		&cli.Float64Flag{Name: "start-lr", Value: 1e-7, Usage: "LR finder: the head's first rate"},
		&cli.Float64Flag{Name: "end-lr", Value: 10, Usage: "LR finder: the head's last rate"},
		&cli.IntFlag{Name: "num-it", Value: 100, Usage: "LR finder: steps of the sweep (at least 6)"},
		&cli.StringFlag{Name: "suggest", Value: "valley", Usage: "LR finder: the suggestion trained at: valley, steep or minimum"},
	}
}

// earlyStopFlags are early stopping's settings (finetune.TrainSpec's
// Patience, Monitor, MinDelta) and the TensorBoard folder, shared by gtl
// train and gtl compare.
func earlyStopFlags() []cli.Flag {
	return []cli.Flag{
		&cli.IntFlag{Name: "patience", Usage: "stop after this many validated epochs without improvement of --monitor; the best epoch's weights are the final model (0: off)"},
		&cli.StringFlag{Name: "monitor", Value: "val_loss", Usage: "what early stopping watches: val_loss or val_acc"},
		&cli.Float64Flag{Name: "min-delta", Usage: "smallest change of --monitor that counts as an improvement (loss, or accuracy as a fraction)"},
		&cli.StringFlag{Name: "tensorboard", Usage: "write TensorBoard event files (losses, accuracy, learning rates, images/s per epoch) to this folder"},
	}
}

// parseLR reads --lr: a rate, or find (the LR finder's suggestion; see
// lrFindSpec). It returns the rate (0: default or find) and the finder.
func parseLR(c *cli.Context) (float64, *finetune.LRFindSpec, error) {
	s := strings.TrimSpace(c.String("lr"))
	if s == "" {
		return 0, nil, nil
	}
	if s == "find" {
		return 0, lrFindSpec(c), nil
	}
	lr, err := strconv.ParseFloat(s, 64)
	if err != nil || !(lr > 0) || lr > 1e6 {
		return 0, nil, cli.Exit(fmt.Sprintf("--lr %s: want a positive rate, or find", s), 2)
	}
	return lr, nil, nil
}

// lrFindSpec is the LR finder of the flags.
func lrFindSpec(c *cli.Context) *finetune.LRFindSpec {
	return &finetune.LRFindSpec{Start: c.Float64("start-lr"), End: c.Float64("end-lr"), Iters: c.Int("num-it"), Suggest: c.String("suggest")}
}

func runLRFind(c *cli.Context) error {
	if err := requireData(c); err != nil {
		return err
	}
	spec, err := trainSpec(c)
	if err != nil {
		return err
	}
	spec.Train.LRFind = lrFindSpec(c)
	if err := spec.Train.CheckOn(spec.Device); err != nil { // before any data is read
		return specError(err)
	}
	env := finetune.RunEnv{}
	if env.Plan, err = strategies.NewPlanner(spec); err != nil { // --strategy's rates and freezing, as gtl train's
		return specError(err)
	}
	if !c.Bool("quiet") {
		env.Fetch = fetchProgress(c)
	}
	env.Hooks.OnSkipped = func(names []string) { reportSkipped(c, names) }
	env.Hooks.OnUnsupported = func(names []string) { reportUnsupported(c, names) }
	r, err := finetune.FindLR(c.Context, spec, env)
	if err != nil {
		return specError(err)
	}
	printLRFind(c.App.Writer, r, c.String("out"))
	printLRFindWarnings(c.App.ErrWriter, "", r.Warnings)
	return nil
}

// lrFindHook prints the LR finder's result as soon as the sweep is done
// (finetune.RunHooks.OnLRFind), before the epoch table: an interrupted run
// has said which rate it trains at. A resumed run says which found rate
// it continues with.
func lrFindHook(c *cli.Context, w io.Writer, dir string) func(*finetune.LRFindResult) {
	return func(r *finetune.LRFindResult) {
		printLRFind(w, r, dir)
		printLRFindWarnings(c.App.ErrWriter, "", r.Warnings)
	}
}

// printLRFindWarnings writes each of a sweep's warnings as one line, its
// fields named as flags, after "gtl: warning: " and what (a comparison's
// run, "" for the only one).
func printLRFindWarnings(w io.Writer, what string, ws []*finetune.FieldError) {
	if what != "" {
		what += ": "
	}
	for _, fe := range ws {
		fmt.Fprintln(w, "gtl: warning: "+what+"lr finder: "+specError(fe).Error())
	}
}

// refuseLRFindLaunch refuses --lr find with --nproc-per-node before any
// worker starts: the sweep runs in one process.
func refuseLRFindLaunch(c *cli.Context) error {
	if strings.TrimSpace(c.String("lr")) == "find" {
		return cli.Exit(fmt.Sprintf("--lr find runs in one process, not with --nproc-per-node %d: find the rate with gtl lr-find, then give it with --lr", c.Int("nproc-per-node")), 2)
	}
	return nil
}

// printLRFind writes the sweep's suggestions, the one used first.
func printLRFind(w io.Writer, r *finetune.LRFindResult, dir string) {
	if len(r.LRs) == 0 { // a resumed run: the sweep of its first part
		fmt.Fprintf(w, "lr finder: continuing at the rate found when the run started, %s (%s)\n", strconv.FormatFloat(r.LR, 'g', -1, 64), r.Spec.Suggest)
		return
	}
	how := "ran all steps"
	if r.Diverged {
		how = "stopped when the smoothed loss passed 4x its minimum"
	}
	fmt.Fprintf(w, "lr finder: %s (%s)\n", r.StepsString(), how)
	for _, s := range r.Suggestions {
		used := ""
		if s.Method == r.Spec.Suggest {
			used = "  <- suggested"
		}
		fmt.Fprintf(w, "  %-8s %s%s\n", s.Method, strconv.FormatFloat(s.LR, 'g', -1, 64), used)
	}
	if dir != "" {
		fmt.Fprintf(w, "plot: %s\n", filepath.Join(dir, "lr-find.png"))
	}
}

// printEarlyStop says what early stopping did: where it stopped and why,
// or that the patience never ran out, and which epoch the final model is.
func printEarlyStop(w io.Writer, es *finetune.EarlyStop, multiLabel bool) {
	if es == nil || es.BestEpoch == 0 {
		return
	}
	monitor := es.Monitor
	if multiLabel && monitor == "val_acc" {
		monitor = "val_acc (mAP)" // a multi-label run's val_acc is its mAP
	}
	if es.StoppedEpoch > 0 {
		fmt.Fprintf(w, "stopped early after epoch %d (no %s improvement > %g for %s)", es.StoppedEpoch, monitor, es.MinDelta, plural(es.Patience, "epoch"))
	} else {
		fmt.Fprintf(w, "early stopping: no stop (never %s in a row without a %s improvement > %g)", plural(es.Patience, "epoch"), monitor, es.MinDelta)
	}
	fmt.Fprintf(w, "; the final model is epoch %d's (%s %.4g)\n", es.BestEpoch, monitor, es.Best)
}

// runExtras describes what the LR finder and early stopping did in one of
// gtl compare's runs ("" without them).
func runExtras(o *strategies.Outcome) string {
	var s string
	if o.LRFound > 0 {
		s += fmt.Sprintf(", lr found %.3g", o.LRFound)
	}
	if es := o.EarlyStop; es != nil && es.StoppedEpoch > 0 {
		s += fmt.Sprintf(", stopped after epoch %d (best %d)", es.StoppedEpoch, es.BestEpoch)
	}
	return s
}
