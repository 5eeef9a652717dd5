package main

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/gtl-dev/gtl/finetune"
	"github.com/gtl-dev/gtl/strategies"
	"github.com/gtl-dev/gtl/vision"
)

func trainCommand() *cli.Command {
	return &cli.Command{
		Name:  "train",
		Usage: "fine-tune a model (or train one from scratch) on fashion-mnist or an image folder",
		Description: "With --weights or --pretrained the output layer is replaced for the data's classes and the\n" +
			"model is fine-tuned: --freeze N keeps the first N stages fixed (stem = 1; weights and batch-norm\n" +
			"statistics), --freeze all trains only the head on features computed once, --lr-decay gives\n" +
			"stage k below the head the rate lr·decay^k. Without weights the model trains from scratch.\n" +
			"Writes metrics.jsonl, metrics.csv and config.json to --out, and the last and best checkpoints with a\n" +
			"resumable state after every epoch (--save-every; runs under a minute: at the end), and every N steps\n" +
			"with --checkpoint-every N; --resume continues from there. Ctrl-C, SIGTERM or SIGHUP stop at the\n" +
			"next step with a resumable state (the same signal again quits at once).",
		Flags: append(append(append(append(modelFlags(), augmentFlags()...), stepFlags()...),
			&cli.StringFlag{Name: "data", Usage: "your labelled images: an image folder (DIR/<class>/<image>, or DIR/train/<class>/… and DIR/val/<class>/…), or fashion-mnist for the built-in data set (required)"},
			&cli.Float64Flag{Name: "val-split", Value: 0.2, Usage: "share of each class kept for validation (image folders without val/)"},
			&cli.StringFlag{Name: "classes", Usage: "classes to use, e.g. 5-9 or 0,2,4 (default: all)"},
			&cli.IntFlag{Name: "shots", Usage: "training images per class, sampled with --seed (0: all)"},
			&cli.IntFlag{Name: "val", Value: 2000, Usage: "fashion-mnist training images held out for validation (balanced; the test split is left for gtl eval)"},
			&cli.StringFlag{Name: "strategy", Usage: "scratch, linear, freeze-N, full, gradual, or auto (gtl recommend's choice): sets freeze, rates, epochs and schedule unless given"},
			&cli.StringFlag{Name: "freeze", Value: "0", Usage: "stages to freeze from the stem: a number, or all (feature extractor)"},
			&cli.BoolFlag{Name: "no-cache", Usage: "run the frozen stages every step instead of once per image (--freeze all or N; the naive path, for comparisons)"},
			&cli.StringFlag{Name: "bn-policy", Value: "eval", Usage: "batch norm in frozen stages: eval (statistics fixed) or train"},
			&cli.StringFlag{Name: "unfreeze-at", Usage: "epochs after which one more frozen stage (top-down) starts training, e.g. 1,2 (gradual unfreezing)"},
			&cli.StringFlag{Name: "lr", Usage: "head learning rate (default 0.01 when fine-tuning, 0.05 from scratch), or find: the LR finder's suggestion (see gtl lr-find)"},
			&cli.Float64Flag{Name: "lr-decay", Value: 1, Usage: "stage k below the head trains at lr·decay^k"},
			&cli.Float64Flag{Name: "weight-decay", Usage: "weight decay (not on biases and norms)"},
			&cli.StringFlag{Name: "optimizer", Value: "sgd", Usage: "sgd (momentum 0.9) or adamw"},
			&cli.StringFlag{Name: "schedule", Value: "constant", Usage: "learning-rate schedule: constant, cosine, step or onecycle (default constant; fine-tuning without --strategy: cosine with --warmup 0.1)"},
			&cli.Float64Flag{Name: "warmup", Usage: "fraction of training spent warming the rate up (constant, cosine)"},
			&cli.Float64Flag{Name: "label-smoothing", Usage: "label smoothing (0 to 1)"},
			&cli.Float64Flag{Name: "clip-grad", Usage: "cap the gradients' global L2 norm (0: off)"},
			&cli.IntFlag{Name: "epochs", Usage: "epochs (default 5 from scratch; fine-tuning 3, or more to make at least 100 steps)"},
			&cli.IntFlag{Name: "batch", Value: 32, Usage: "images per step"},
			&cli.IntFlag{Name: "image-size", Usage: "training resolution (default: a gtl checkpoint's; 224 for torchvision weights; from scratch 32 for fashion-mnist, 64 for folders)"},
			&cli.Float64Flag{Name: "ema", Usage: "keep an exponential moving average of the weights with this decay, e.g. 0.999 (validation and checkpoints use it; 0: off)"},
			&cli.StringFlag{Name: "device", Value: "auto", Usage: "auto (CUDA when there is a device), cpu, cuda or cuda:N"},
			&cli.StringFlag{Name: "out", Required: true, Usage: "output folder"},
			&cli.BoolFlag{Name: "resume", Usage: "continue the interrupted run in --out (same flags) from its last committed state"},
			&cli.IntFlag{Name: "save-every", Usage: "commit the checkpoints and a resumable state every N epochs and at the last (default: every epoch for runs over a minute, else at the end)"},
			&cli.IntFlag{Name: "checkpoint-every", Usage: "also commit a resumable state every N steps inside epochs, resumed bit-identically (default: at epoch ends only)"},
			&cli.BoolFlag{Name: "overwrite", Usage: "replace an earlier run in --out (its files are removed; default: refused)"},
			thresholdFlag(),
		), append(append(append(append(lrFindFlags(), earlyStopFlags()...), distFlags()...), imbalanceFlags()...), labelsFlags()...)...),
		Action: runTrain,
	}
}

func runTrain(c *cli.Context) error {
	if err := requireData(c); err != nil {
		return err
	}
	if c.IsSet("nproc-per-node") {
		// Checked here, once, before any rank starts.
		spec, err := trainSpec(c)
		if err != nil {
			return err
		}
		switch {
		case spec.Data.MultiLabel:
			return cli.Exit("--multi-label: data-parallel multi-label training is not supported; drop --nproc-per-node", 2)
		case spec.CheckpointEvery > 0:
			return cli.Exit(fmt.Sprintf("--checkpoint-every %d: states inside epochs are not supported in a data-parallel run; states are committed at epoch ends (--save-every)", spec.CheckpointEvery), 2)
		}
		return launch(c, c.Int("nproc-per-node"))
	}
	spec, err := trainSpec(c) // resolved: every flag checked before any data is read
	if err != nil {
		return err
	}
	dev := spec.ParsedDevice()
	group, err := joinGroup(c, &dev) // nil outside a data-parallel run
	if err != nil {
		return err
	}
	defer group.Close()
	env := finetune.RunEnv{Dist: group}
	if group != nil && dev.IsCuda() { // one GPU per rank: cuda:LOCAL_RANK
		spec = spec.OnDevice(dev)
	}
	if env.Plan, err = strategies.NewPlanner(spec); err != nil { // a bad strategy name before anything is read
		return specError(err)
	}
	rank0 := group == nil || group.Rank() == 0 // the rank that prints and writes
	w := c.App.Writer
	if !rank0 {
		w = io.Discard
	}
	bar := newTrainingBar(c)
	var chance finetune.ChanceWatch // set up in OnStart
	at := "this step"
	if group != nil { // the ranks stop together, at the epoch's end
		at = "this epoch"
	}
	stop := stopOnInterrupt(c.Context, c.App.ErrWriter, at)
	defer stop.release()
	if !c.Bool("quiet") {
		env.Fetch = fetchProgress(c)
	}
	env.Hooks = finetune.RunHooks{
		OnSkipped:     func(names []string) { reportSkipped(c, names) },
		OnUnsupported: func(names []string) { reportUnsupported(c, names) },
		OnOpen: func(o *vision.Opened) {
			if !c.Bool("quiet") {
				printLoadReport(c.App.ErrWriter, o)
			}
		},
		OnStart: func(s finetune.RunStart) {
			p := s.Plan
			printStageTable(w, s.Model, p.Groups, s.Frozen)
			fmt.Fprintf(w, "training %s on %d images (%d classes, %d px), validating on %d; %s of %s\n",
				s.Model.Arch, p.TrainImages, len(s.Classes), s.Size, p.ValImages, plural(p.Epochs, "epoch"), plural(p.StepsPerEpoch, "step"))
			chance = finetune.ChanceWatch{Classes: len(s.Classes), ValImages: p.ValImages}
			if pairs := caseTwins(s.Classes); len(pairs) > 0 && !c.Bool("quiet") {
				fmt.Fprintf(c.App.ErrWriter, "note: classes that differ only in case are separate classes: %s (rename them to merge)\n", strings.Join(pairs, ", "))
			}
			if fc := s.FrozenCache; fc != nil && fc.Used {
				fmt.Fprintf(w, "frozen stages: computed once per image (%d stages = the first %d backbone modules, %.1f MiB of activations)\n", s.Frozen, fc.Modules, float64(fc.Bytes)/(1<<20))
			} else if fc != nil {
				fmt.Fprintf(w, "frozen stages: run every step (%s)\n", fc.Reason)
			}
			if group != nil {
				fmt.Fprintf(w, "data-parallel: %d ranks (c10d %s, rendezvous %s:%d), %d images per rank and step, global batch %d\n",
					group.World(), group.Config().Backend, group.Config().Addr, group.Config().Port, s.Batch, s.Batch*group.World())
			}
			if spec.Data.MultiLabel {
				fmt.Fprintln(w, multiLabelEpochHeader)
			} else {
				fmt.Fprintf(w, "%-6s %-11s %-9s %-8s %-8s %-9s %s\n", "epoch", "train loss", "val loss", "val acc", "bal acc", "macro F1", "time")
			}
			bar.start(p)
		},
		OnStep: bar.step,
		OnEpochEnd: func(e finetune.Epoch) error {
			if !rank0 { // only rank 0 prints; Run unfreezes on every rank
				if stop.requested() {
					return finetune.ErrStop
				}
				return nil
			}
			bar.clear()
			if spec.Data.MultiLabel {
				printMultiLabelEpoch(w, e)
			} else {
				fmt.Fprintf(w, "%-6d %-11s %-9s %-8s %-8s %-9.3f %s\n", e.Epoch, lossCell(e.TrainLoss), lossCell(e.ValLoss), fmt.Sprintf("%.1f%%", 100*e.ValAccuracy),
					fmt.Sprintf("%.1f%%", 100*e.ValBalancedAccuracy), e.ValMacroF1, e.Duration.Round(10*time.Millisecond))
			}
			if msg := chance.Observe(e); msg != "" {
				fmt.Fprintln(c.App.ErrWriter, "gtl: warning: "+msg)
			}
			if stop.requested() {
				return finetune.ErrStop
			}
			return nil
		},
		OnUnfreeze: func(i int, name string) { fmt.Fprintf(w, "unfrozen: stage %d (%s)\n", i+1, name) },
		OnLRFind:   lrFindHook(c, w, spec.Out),
		OnPlan: func(p finetune.PlanChoice) {
			if spec.Train.Strategy == "auto" {
				fmt.Fprintf(w, "strategy auto: %s (%s)\n", p.Strategy, p.Reason)
			}
		},
	}
	res, err := finetune.Run(stop.ctx, spec, env)
	bar.finish()
	if err != nil {
		return specError(err)
	}
	if !rank0 {
		return nil
	}
	reportSkipped(c, res.Skipped)
	if res.Stopped {
		where := "after a complete epoch"
		switch p := res.Result.Stopped; {
		case p != nil && p.Step == 0 && p.Epoch == 1 && !spec.Resume:
			fmt.Fprintf(w, "interrupted before the first step: nothing to resume (run it again with --overwrite)\n")
			return cli.Exit("", stop.exitCode())
		case p != nil && p.Step == 0:
			where = fmt.Sprintf("before epoch %d", p.Epoch)
		case p != nil && p.MidEpoch():
			where = fmt.Sprintf("after step %d of %d of epoch %d", p.Step, p.StepsPerEpoch, p.Epoch)
		}
		fmt.Fprintf(w, "interrupted: the run stopped %s with a resumable state; continue it with the same flags and --resume\n", where)
		return cli.Exit("", stop.exitCode())
	}
	printEarlyStop(w, res.Config.EarlyStop, spec.Data.MultiLabel)
	fmt.Fprintf(w, "final model on the validation images:\n")
	printReport(w, res.Report, res.Config.ValImages)
	if spec.Train.Threshold == "tune" {
		fmt.Fprintf(w, "thresholds tuned on the validation images (so F1 there is optimistic); each checkpoint carries those of its own weights\n")
	}
	if spec.Data.MultiLabel {
		fmt.Fprintf(w, "best val mAP %.4f in %s; checkpoints, metrics, per-class scores (per_class.csv) and config in %s\n", res.Best, res.Result.Duration.Round(10*time.Millisecond), spec.Out)
		return nil
	}
	fmt.Fprintf(w, "best val accuracy %.1f%% in %s; checkpoints, metrics, confusion matrix and config in %s\n", 100*res.Best, res.Result.Duration.Round(10*time.Millisecond), spec.Out)
	return nil
}

// trainSpec turns gtl train's flags into a run spec. Flags left at their
// defaults stay unset (zero), so that a strategy can fill them; the
// spec's defaults are the flags' (see finetune.RunSpec).
func trainSpec(c *cli.Context) (finetune.RunSpec, error) {
	set := func(name, v string) string {
		if c.IsSet(name) {
			return v
		}
		return ""
	}
	switch {
	case c.IsSet("batch") && c.Int("batch") < 1, c.IsSet("lr-decay") && c.Float64("lr-decay") <= 0:
		return finetune.RunSpec{}, cli.Exit("--epochs, --batch, --lr and --lr-decay: want positive values; --weight-decay: 0 or more", 2)
	case c.IsSet("val-split") && c.Float64("val-split") == 0:
		return finetune.RunSpec{}, cli.Exit("--val-split 0: a validation split in (0, 1) is needed", 2)
	}
	lr, lrFind, err := parseLR(c)
	if err != nil {
		return finetune.RunSpec{}, err
	}
	unfreeze, err := finetune.ParseEpochs(c.String("unfreeze-at"))
	if err != nil {
		return finetune.RunSpec{}, specError(err)
	}
	s := finetune.RunSpec{
		Data: finetune.DataSpec{Source: c.String("data"), Classes: c.String("classes"), Shots: c.Int("shots"), Val: c.Int("val"),
			ValSplit: c.Float64("val-split"), ImageSize: c.Int("image-size"), OnBadImage: c.String("on-bad-image"), Workers: c.Int("workers"),
			Labels: c.String("labels"), FnCol: c.String("fn-col"), LabelCol: c.String("label-col"), ValidCol: c.String("valid-col"),
			MultiLabel: c.Bool("multi-label"), LabelDelim: c.String("label-delim")},
		Model: finetune.ModelSpec{Arch: c.String("model"), Weights: c.String("weights"), WeightsKey: c.String("weights-key"),
			Pretrained: c.Bool("pretrained"), PretrainedName: pretrainedName(c), NumClasses: c.Int("num-classes"),
			WeightsPrefix: c.String("weights-prefix"), AllowNonFinite: c.Bool("allow-nonfinite")},
		Train: finetune.TrainSpec{Strategy: c.String("strategy"), Freeze: set("freeze", c.String("freeze")), BNPolicy: c.String("bn-policy"),
			UnfreezeAt: unfreeze, NoCache: c.Bool("no-cache"), LR: lr, WeightDecay: c.Float64("weight-decay"),
			Optimizer: c.String("optimizer"), Schedule: set("schedule", c.String("schedule")), Warmup: c.Float64("warmup"),
			LabelSmoothing: c.Float64("label-smoothing"), ClipGrad: c.Float64("clip-grad"), EMA: c.Float64("ema"),
			Epochs: c.Int("epochs"), Augment: c.String("augment"), Mixup: c.Float64("mixup"), CutMix: c.Float64("cutmix"), Erase: c.Float64("erase"),
			AMP: c.String("amp"), ChannelsLast: c.Bool("channels-last"), CuDNNBenchmark: c.Bool("cudnn-benchmark"), TF32: c.Bool("tf32"),
			ClassWeights: c.String("class-weights"), Sampler: c.String("sampler"), Threshold: c.String("threshold")},
		Device: c.String("device"), Seed: uint64(c.Int64("seed")), Out: c.String("out"), Resume: c.Bool("resume"), Overwrite: c.Bool("overwrite"),
		SaveEvery: c.Int("save-every"), CheckpointEvery: c.Int("checkpoint-every"),
	}
	s.Train.LRFind, s.TensorBoard = lrFind, c.String("tensorboard")
	s.Data.CSVDelimiter, s.Data.Suffix = c.String("csv-delimiter"), c.String("suffix")
	s.Train.Patience, s.Train.MinDelta = c.Int("patience"), c.Float64("min-delta")
	if s.Train.Patience != 0 || c.IsSet("monitor") {
		s.Train.Monitor = c.String("monitor")
	}
	if c.IsSet("unfreeze-at") && s.Train.UnfreezeAt == nil {
		s.Train.UnfreezeAt = []int{} // given empty: a strategy does not fill it
	}
	if c.IsSet("batch") {
		s.Train.Batch = c.Int("batch")
	}
	if c.IsSet("lr-decay") {
		s.Train.LRDecay = c.Float64("lr-decay")
	}
	r, err := s.Resolve() // every flag checked before any data is read
	if err == nil {
		err = finetune.CheckThreshold(r.Train, r.Data.MultiLabel, -1)
	}
	if err != nil {
		return s, specError(err)
	}
	return r, nil
}

func printStageTable(w interface{ Write([]byte) (int, error) }, m *vision.Model, groups []finetune.Group, nFrozen int) {
	fmt.Fprintf(w, "%-3s %-16s %10s %-9s %-10s %s\n", "#", "stage", "params", "trains", "lr", "weight decay")
	idx := map[string]int{}
	for i, s := range m.Stages {
		idx[s.Name] = i
	}
	byStage := map[string][]finetune.Group{}
	for _, g := range groups {
		byStage[g.Stage] = append(byStage[g.Stage], g)
	}
	counts, _ := m.StageParams()
	for i, s := range m.Stages {
		gs := byStage[s.Name]
		lr, wd := "-", "-"
		if len(gs) > 0 {
			lr = strconv.FormatFloat(gs[0].LR, 'g', 4, 64)
			wd = strconv.FormatFloat(gs[0].WeightDecay, 'g', 3, 64) + " (0 on biases, norms)"
		}
		trains := "yes"
		if i < nFrozen {
			trains, lr, wd = "frozen", "-", "-"
		}
		fmt.Fprintf(w, "%-3d %-16s %10s %-9s %-10s %s\n", i+1, s.Name, humanCount(counts[i]), trains, lr, wd)
	}
}

// stepFlags are the training step's device settings, shared by gtl train
// and gtl compare (finetune.TrainSpec's AMP, ChannelsLast, CuDNNBenchmark,
// TF32).
func stepFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "amp", Usage: "mixed precision: bf16 (CPU and CUDA) or fp16 (CUDA, with dynamic loss scaling); default: float32"},
		&cli.BoolFlag{Name: "channels-last", Usage: "keep batches and weights in channels-last (NHWC) memory format"},
		&cli.BoolFlag{Name: "cudnn-benchmark", Usage: "let cuDNN time its algorithms for each input shape (CUDA only)"},
		&cli.BoolFlag{Name: "tf32", Usage: "allow TensorFloat-32 in float32 convolutions and matrix products (CUDA, Ampere or later)"},
	}
}

// lossCell formats a loss for the epoch table: 4 decimals, or 3
// significant digits with an exponent once it no longer fits its column
// (a diverging validation loss of 12383691.2375 reads 1.24e+07).
func lossCell(v float64) string {
	if math.Abs(v) >= 1e4 {
		return fmt.Sprintf("%.3g", v)
	}
	return fmt.Sprintf("%.4f", v)
}

// caseTwins lists the class names that equal another but for case, as
// "Red/red" (a labels file that spells a class two ways makes two
// classes); nil when there are none.
func caseTwins(classes []string) []string {
	seen := map[string]string{}
	var out []string
	for _, c := range classes {
		k := strings.ToLower(c)
		if first, ok := seen[k]; ok {
			out = append(out, first+"/"+c)
			continue
		}
		seen[k] = c
	}
	return out
}
