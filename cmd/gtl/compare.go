package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/gtl-dev/gtl/finetune"
	"github.com/gtl-dev/gtl/strategies"
	"github.com/gtl-dev/gtl/torch"
	"github.com/gtl-dev/gtl/vision"
)

func compareCommand() *cli.Command {
	return &cli.Command{
		Name:  "compare",
		Usage: "measure transfer learning against training from scratch on your data",
		Description: "Runs every strategy at every target size (--shots images per class) with every seed, each\n" +
			"evaluated on the same images, and writes results.json, results.csv, report.md and report.html\n" +
			"(with PNG plots) to --out. Each strategy gets its own budget (the README's strategy table under\n" +
			"gtl compare) unless --equal-budget gives every run the steps of full fine-tuning. Results are saved\n" +
			"after every run: --resume continues an interrupted comparison.",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "model", Aliases: []string{"m"}, Usage: "architecture (default: the source checkpoint's)"},
			&cli.StringFlag{Name: "weights", Aliases: []string{"w"}, Usage: "source weights (a gtl checkpoint, or torchvision weights)"},
			pretrainedFlag(), weightsKeyFlag(), weightsPrefixFlag(), allowNonFiniteFlag(),
			&cli.StringFlag{Name: "data", Usage: "your labelled images: an image folder (DIR/<class>/<image>, or DIR/train/… and DIR/val/…), or fashion-mnist for the built-in data set (required)"},
			&cli.StringFlag{Name: "classes", Usage: "fashion-mnist classes of the target, e.g. 5-9"},
			&cli.IntFlag{Name: "val", Value: 1000, Usage: "fashion-mnist training images held out to evaluate every run on (balanced; never trained on)"},
			&cli.Float64Flag{Name: "val-split", Value: 0.2, Usage: "share of each class kept for evaluation (folders without val/)"},
			&cli.StringFlag{Name: "strategies", Value: "scratch,linear,freeze-2,full", Usage: "strategies: scratch, linear, freeze-N, full, gradual"},
			&cli.StringFlag{Name: "shots", Value: "5,20,100,all", Usage: "training images per class, or all"},
			&cli.IntFlag{Name: "seeds", Value: 3, Usage: "runs per strategy and size (seeds 1..n: shots drawn, head initialised, batches shuffled)"},
			&cli.BoolFlag{Name: "equal-budget", Usage: "give every run the optimisation steps of full fine-tuning at its size"},
			&cli.IntFlag{Name: "image-size", Usage: "resolution (default: the source checkpoint's; 224 for torchvision weights)"},
			&cli.BoolFlag{Name: "augment", Usage: "train each strategy with gtl train's augmentation for it (light when fine-tuning, none from scratch or for linear's cached features); default: none, for comparability"},
			&cli.StringFlag{Name: "device", Value: "auto", Usage: "auto (CUDA when there is a device), cpu, cuda or cuda:N"},
			&cli.StringFlag{Name: "out", Required: true, Usage: "output folder"},
			&cli.BoolFlag{Name: "resume", Usage: "keep the finished runs in --out and run the rest"},
			&cli.BoolFlag{Name: "overwrite", Aliases: []string{"force"}, Usage: "replace the results and report in --out (another comparison's included)"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "no progress bar"},
			&cli.StringFlag{Name: "shard", Usage: "run only share K of N of the grid (K/N; auto: the Slurm array task or, as auto/N, the Kubernetes Indexed Job completion index), into --out; join the shards with --merge"},
			&cli.StringSliceFlag{Name: "merge", Usage: "join the shard folders (--merge DIR --merge DIR, or DIR,DIR, or folders after the flags) into --out: results and report, no training"},
			&cli.StringFlag{Name: "lr", Usage: "every run's head rate instead of its strategy's, or find: the LR finder's suggestion for each run (see gtl lr-find)"},
			thresholdFlag(),
		}, append(append(append(append(stepFlags(), lrFindFlags()...), earlyStopFlags()...), imbalanceFlags()...), labelsFlags()...)...),
		Action: runCompare,
	}
}

func runCompare(c *cli.Context) error {
	if c.IsSet("merge") {
		return mergeCompare(c)
	}
	step := finetune.TrainSpec{AMP: c.String("amp"), ChannelsLast: c.Bool("channels-last"), CuDNNBenchmark: c.Bool("cudnn-benchmark"), TF32: c.Bool("tf32"),
		ClassWeights: c.String("class-weights"), Sampler: c.String("sampler"), Threshold: c.String("threshold")}
	lr, lrFind, err := parseLR(c) // every run at this head rate, or the LR finder's; default: each strategy's
	if err != nil {
		return err
	}
	step.LRFind = lrFind
	step.Patience, step.MinDelta = c.Int("patience"), c.Float64("min-delta")
	if step.Patience != 0 || c.IsSet("monitor") {
		step.Monitor = c.String("monitor")
	}
	if err := step.CheckOn(c.String("device")); err != nil {
		return specError(err)
	}
	if err := finetune.CheckThreshold(step, c.Bool("multi-label"), -1); err != nil {
		return specError(err)
	}
	if c.Args().Len() > 0 {
		return cli.Exit(fmt.Sprintf("unexpected arguments %v (shard folders go with --merge)", c.Args().Slice()), 2)
	}
	if err := requireData(c); err != nil {
		return err
	}
	var shard *strategies.Shard
	if s := c.String("shard"); s != "" {
		sh, err := strategies.ParseShard(s, os.Getenv)
		if err != nil {
			return cli.Exit("--shard: "+err.Error(), 2)
		}
		shard = &sh
	}
	sts, err := strategies.ParseList(c.String("strategies"))
	if err != nil {
		return cli.Exit("--strategies: "+err.Error(), 2)
	}
	shots, err := strategies.ParseShots(c.String("shots"))
	if err != nil {
		return cli.Exit("--shots: "+err.Error(), 2)
	}
	if c.Int("seeds") < 1 {
		return cli.Exit(fmt.Sprintf("--seeds %d: want at least 1", c.Int("seeds")), 2)
	}
	if _, err := torch.ParseDevice(c.String("device")); err != nil {
		return cli.Exit("--device: "+err.Error(), 2)
	}
	arch, size, err := sourceModel(c, sts)
	if err != nil {
		return err
	}
	// The validation split is gtl train's with its default --seed, so that
	// both hold out the same images of a folder.
	tgt, err := loadTarget(c, size, trainDefaultSeed)
	if err != nil {
		return err
	}
	small, name := tgt.SmallestClass()
	for _, n := range shots {
		if n > small {
			return cli.Exit(fmt.Sprintf("--shots %d: class %s has only %d training images", n, name, small), 2)
		}
	}
	stages, err := vision.StageCount(arch)
	if err != nil {
		return cli.Exit("--model: "+err.Error(), 2)
	}
	names := make([]string, len(sts))
	for i, s := range sts {
		names[i] = s.Name
		if s.Freeze >= stages {
			return cli.Exit(fmt.Sprintf("--strategies %s: %s has %d stages (the last is the head); freeze at most %d", s.Name, arch, stages, stages-1), 2)
		}
	}
	g := strategies.Grid{Model: arch, Weights: c.String("weights"), WeightsKey: c.String("weights-key"), Data: c.String("data"), Classes: tgt.Classes,
		ValImages: tgt.Val.Len(), ImageSize: size, EqualBudget: c.Bool("equal-budget"), Augment: c.Bool("augment"), Strategies: names, Shots: shots, Seeds: c.Int("seeds"),
		MultiLabel: c.Bool("multi-label")}
	out := c.String("out")
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	res, err := strategies.OpenResults(out, g, c.Bool("resume"), c.Bool("overwrite"))
	if err != nil {
		return cli.Exit(err.Error(), 2)
	}
	defer res.Close()
	if !reflect.DeepEqual(res.Shard, shard) && len(res.Runs) > 0 && !c.Bool("overwrite") {
		return cli.Exit(fmt.Sprintf("--shard: %s holds runs of shard %v, not %v; use another --out or --overwrite", out, res.Shard, shard), 2)
	}
	res.Shard = shard
	cells := g.Cells()
	if shard != nil {
		cells = shard.Cells(g)
	}
	if err := res.Save(out); err != nil { // claims the folder for this grid
		return err
	}
	plans, total, err := planGrid(g, sts, tgt.Len(), len(tgt.Classes), stages)
	if err != nil {
		return err
	}
	for cell, p := range plans { // every cell takes the same step
		p.AMP, p.ChannelsLast, p.CuDNNBenchmark, p.TF32 = step.AMP, step.ChannelsLast, step.CuDNNBenchmark, step.TF32
		p.LRFind, p.Patience, p.Monitor, p.MinDelta = step.LRFind, step.Patience, step.Monitor, step.MinDelta
		if lr > 0 {
			p.LR = lr
		}
		p.ClassWeights, p.Sampler = step.ClassWeights, step.Sampler
		p.Threshold = step.Threshold
		plans[cell] = p
	}
	w := c.App.Writer
	todo := 0
	for _, cell := range cells {
		if _, done := res.Find(cell); !done {
			todo++
		}
	}
	fmt.Fprintf(w, "comparing %s on %s %v (%d px): %s × %s × %s = %s (%d to do), evaluated on %d images\n",
		arch, g.Data, g.Classes, size, plural(len(names), "strategy"), plural(len(shots), "size"), plural(g.Seeds, "seed"), plural(len(g.Cells()), "run"), todo, g.ValImages)
	if shard != nil {
		fmt.Fprintf(w, "shard %s: %d of the %d runs\n", shard, len(cells), len(g.Cells()))
	}
	bar := newGridBar(c, total)
	stop := stopOnInterrupt(c.Context, c.App.ErrWriter, "this step")
	defer stop.release()
	began := time.Now()
	for _, cell := range cells {
		p := plans[cell]
		if _, done := res.Find(cell); done {
			bar.skip(p.Steps)
			continue
		}
		if stop.requested() {
			break
		}
		sub, err := tgt.Shots(cell.Shots, cell.Seed)
		if err != nil {
			return specError(err)
		}
		train, err := sub.Images()
		if err != nil {
			return err
		}
		bar.describe(cell)
		job := strategies.Job{Arch: arch, Weights: g.Weights, WeightsKey: g.WeightsKey, WeightsPrefix: c.String("weights-prefix"), AllowNonFinite: c.Bool("allow-nonfinite"), Plan: p, Seed: cell.Seed, Train: train, Val: tgt.Val, Size: size,
			Device: c.String("device"), Stop: stop.ctx, Hooks: finetune.Hooks{OnStep: func(finetune.Step) { bar.add(1) },
				OnEpochEnd: func(finetune.Epoch) error {
					if stop.requested() { // Ctrl-C: this run is left unfinished, and redone by --resume
						return finetune.ErrStop
					}
					return nil
				}}}
		if tb := c.String("tensorboard"); tb != "" { // one folder per run, as TensorBoard lists runs
			job.TensorBoard = filepath.Join(tb, fmt.Sprintf("%s-%s-shots-seed%d", cell.Strategy, strategies.ShotsLabel(cell.Shots), cell.Seed))
		}
		o, err := job.Run()
		if errors.Is(err, finetune.ErrStop) {
			bar.clear()
			fmt.Fprintf(c.App.ErrWriter, "gtl: %s: stopped unfinished; --resume runs it again\n", cell)
			break
		}
		if div := (*finetune.DivergedError)(nil); errors.As(err, &div) {
			// The grid goes on; the run is recorded (and not redone by --resume).
			fmt.Fprintf(c.App.ErrWriter, "gtl: %s: %v\n", cell, div)
			res.Add(strategies.Record{Cell: cell, Plan: p, Finished: time.Now().UTC(), Diverged: div.Error()})
			if err := res.Save(out); err != nil {
				return err
			}
			bar.clear()
			continue
		}
		if err != nil {
			bar.clear()
			return fmt.Errorf("%s: %w (finished runs are kept in %s; continue with --resume)", cell, err, out)
		}
		res.Add(strategies.Record{Cell: cell, Plan: p, Finished: time.Now().UTC(), Outcome: *o})
		if err := res.Save(out); err != nil {
			return err
		}
		bar.clear()
		metric, balanced := "", "balanced"
		if g.MultiLabel {
			metric, balanced = "mAP ", "macro recall"
		}
		fmt.Fprintf(w, "  %-10s %4s shots seed %d: %s%5.1f%% (best %5.1f%%; %s %5.1f%%, macro F1 %.3f) in %5.1fs, %d epochs%s\n", cell.Strategy,
			strategies.ShotsLabel(cell.Shots), cell.Seed, metric, 100*o.FinalAccuracy, 100*o.BestAccuracy, balanced, 100*o.FinalBalancedAccuracy, o.FinalMacroF1, o.Seconds, p.Epochs, runExtras(o))
		printLRFindWarnings(c.App.ErrWriter, cell.String(), o.LRFindWarnings)
	}
	bar.finish()
	if err := strategies.WriteReport(out, res); err != nil {
		return err
	}
	fmt.Fprintln(w)
	printSummary(w, res)
	fmt.Fprintf(w, "\n%s in %s; report: %s\n", out, time.Since(began).Round(time.Second), filepath.Join(out, "report.md"))
	if stop.requested() {
		fmt.Fprintf(w, "interrupted: finished runs are saved; continue with the same flags and --resume\n")
		return cli.Exit("", stop.exitCode())
	}
	return nil
}

// sourceModel resolves the architecture and resolution of a comparison
// from the flags and the source checkpoint.
func sourceModel(c *cli.Context, sts []strategies.Strategy) (arch string, size int, err error) {
	arch, weights := c.String("model"), c.String("weights")
	if name, on := pretrainedName(c), c.Bool("pretrained"); on {
		if weights != "" {
			return "", 0, cli.Exit("--pretrained and --weights: give one source", 2)
		}
		if arch == "" {
			return "", 0, cli.Exit("--pretrained needs --model: the architecture whose torchvision weights to use", 2)
		}
		if strings.HasPrefix(name, "hf-hub:") {
			return "", 0, cli.Exit("--pretrained "+name+": hf-hub: weights are read by train, predict, eval, embed and export; here pass the downloaded model.safetensors as --weights", 2)
		}
		fetch := fetchProgress(c)
		fetch.Name = name
		path, err := vision.FetchPretrained(arch, fetch)
		if err != nil {
			return "", 0, err
		}
		if err := c.Set("weights", path); err != nil {
			return "", 0, err
		}
		weights = path
	}
	transfer := false
	for _, s := range sts {
		transfer = transfer || s.Transfer
	}
	if transfer && weights == "" {
		return "", 0, cli.Exit("--weights FILE or --model ARCH --pretrained: the source model is required (every strategy but scratch starts from it)", 2)
	}
	if weights == "" && c.String("weights-key") != "" {
		return "", 0, cli.Exit("--weights-key: chooses an entry of --weights, which is not given", 2)
	}
	size = c.Int("image-size")
	if weights != "" {
		meta, err := vision.ReadMeta(weights)
		if err != nil {
			return "", 0, cli.Exit("--weights: "+err.Error(), 2)
		}
		if meta != nil {
			if arch == "" {
				arch = meta.Arch
			} else if meta.Arch != "" && meta.Arch != arch {
				return "", 0, cli.Exit(fmt.Sprintf("--weights %s: a %s checkpoint, not %s", weights, meta.Arch, arch), 2)
			}
			if size == 0 {
				size = meta.Preprocess.CropSize
			}
		}
	}
	if arch == "" {
		return "", 0, cli.Exit("--model is required (or --weights with a gtl checkpoint)", 2)
	}
	if size == 0 {
		size = 224
	}
	if size < 16 {
		return "", 0, cli.Exit(fmt.Sprintf("--image-size %d: want at least 16", size), 2)
	}
	return arch, size, nil
}

// planGrid resolves every cell's plan and the grid's total steps.
// With g.Augment, each strategy gets gtl train's augmentation for it.
func planGrid(g strategies.Grid, sts []strategies.Strategy, images, classes, stages int) (map[strategies.Cell]strategies.Plan, int, error) {
	plans := map[strategies.Cell]strategies.Plan{}
	total := 0
	for _, cell := range g.Cells() {
		n := images
		if cell.Shots != strategies.All {
			n = cell.Shots * classes
		}
		equal := 0
		if g.EqualBudget {
			full, _ := strategies.Parse("full")
			fp, err := full.Resolve(strategies.Size{Images: n, Stages: stages}, 0)
			if err != nil {
				return nil, 0, err
			}
			equal = fp.Steps
		}
		for _, s := range sts {
			if s.Name != cell.Strategy {
				continue
			}
			p, err := s.Resolve(strategies.Size{Images: n, Stages: stages}, equal)
			if err != nil {
				return nil, 0, err
			}
			if g.Augment && s.Transfer && !p.Cached() {
				p.Augment = "light" // gtl train's default when fine-tuning with the backbone in the loop
			}
			plans[cell] = p
			total += p.Steps
		}
	}
	return plans, total, nil
}

// printSummary prints accuracy per strategy (rows) and size (columns),
// then the verdict per size.
func printSummary(w io.Writer, r *strategies.Results) { r.WriteSummary(w) }

// mergeCompare joins shard folders into --out and writes the report.
func mergeCompare(c *cli.Context) error {
	dirs := append(c.StringSlice("merge"), c.Args().Slice()...)
	res, err := strategies.MergeResults(dirs)
	if err != nil {
		return cli.Exit(err.Error(), 2)
	}
	out := c.String("out")
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	claim, err := strategies.OpenResults(out, res.Grid, false, c.Bool("overwrite"))
	if err != nil {
		return cli.Exit(err.Error(), 2)
	}
	defer claim.Close()
	if err := res.Save(out); err != nil {
		return err
	}
	if err := strategies.WriteReport(out, res); err != nil {
		return err
	}
	w := c.App.Writer
	fmt.Fprintf(w, "merged %d shards: %d runs of %s on %s %v\n", len(dirs), len(res.Runs), res.Grid.Model, res.Grid.Data, res.Grid.Classes)
	printSummary(w, res)
	fmt.Fprintf(w, "report: %s\n", filepath.Join(out, "report.md"))
	return nil
}
