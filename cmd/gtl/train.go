package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/gtl-dev/gtl/chart"
	"github.com/gtl-dev/gtl/finetune"
	"github.com/gtl-dev/gtl/vision"
	"github.com/gtl-dev/gtl/vision/datasets"
	"github.com/gtl-dev/gtl/vision/loader"
	"github.com/gtl-dev/gtl/vision/npy"
	"github.com/gtl-dev/gtl/vision/torch"
)

func trainCommand() *cli.Command {
	return &cli.Command{
		Name:  "train",
		Usage: "fine-tune a model (or train one from scratch) on fashion-mnist or an image folder",
		Description: "With --weights or --pretrained the output layer is replaced for the data's classes and the\n" +
			"model is fine-tuned: --freeze N keeps the first N stages fixed (stem = 1; weights and batch-norm\n" +
			"statistics), --freeze all trains only the head on features computed once, --lr-decay gives\n" +
			"stage k below the head the rate lr·decay^k. Without weights the model trains from scratch.\n" +
			"Writes metrics.jsonl, metrics.csv, config.json and last/best checkpoints to --out; after every\n" +
			"epoch the run can be continued with --resume (Ctrl-C stops after the current epoch).",
		Flags: append(append(modelFlags(), augmentFlags()...),
			&cli.StringFlag{Name: "data", Value: "fashion-mnist", Usage: "fashion-mnist, or an image folder: root/<class>/<image>, or root/train/<class>/… and root/val/<class>/…"},
			&cli.Float64Flag{Name: "val-split", Value: 0.2, Usage: "share of each class kept for validation (image folders without val/)"},
			&cli.StringFlag{Name: "classes", Usage: "classes to use, e.g. 5-9 or 0,2,4 (default: all)"},
			&cli.IntFlag{Name: "shots", Usage: "training images per class, sampled with --seed (0: all)"},
			&cli.IntFlag{Name: "val", Value: 2000, Usage: "test-split images to validate on (0: all of the selected classes)"},
			&cli.StringFlag{Name: "strategy", Usage: "scratch, linear, freeze-N, full, gradual, or auto (gtl recommend's choice): sets freeze, rates, epochs and schedule unless given"},
			&cli.StringFlag{Name: "freeze", Value: "0", Usage: "stages to freeze from the stem: a number, or all (feature extractor)"},
			&cli.BoolFlag{Name: "no-cache", Usage: "with --freeze all: run the frozen backbone every step instead of caching its features (the naive path, for comparisons)"},
			&cli.StringFlag{Name: "bn-policy", Value: "eval", Usage: "batch norm in frozen stages: eval (statistics fixed) or train"},
			&cli.StringFlag{Name: "unfreeze-at", Usage: "epochs after which one more frozen stage (top-down) starts training, e.g. 1,2 (gradual unfreezing)"},
			&cli.Float64Flag{Name: "lr", Usage: "head learning rate (default 0.01 when fine-tuning, 0.05 from scratch)"},
			&cli.Float64Flag{Name: "lr-decay", Value: 1, Usage: "stage k below the head trains at lr·decay^k"},
			&cli.Float64Flag{Name: "weight-decay", Usage: "weight decay (not on biases and norms)"},
			&cli.StringFlag{Name: "optimizer", Value: "sgd", Usage: "sgd (momentum 0.9) or adamw"},
			&cli.StringFlag{Name: "schedule", Value: "constant", Usage: "learning-rate schedule: constant, cosine, step or onecycle (fine-tuning without --strategy: cosine with --warmup 0.1)"},
			&cli.Float64Flag{Name: "warmup", Usage: "fraction of training spent warming the rate up (constant, cosine)"},
			&cli.Float64Flag{Name: "label-smoothing", Usage: "label smoothing (0 to 1)"},
			&cli.Float64Flag{Name: "clip-grad", Usage: "cap the gradients' global L2 norm (0: off)"},
			&cli.IntFlag{Name: "epochs", Usage: "epochs (default 5 from scratch; fine-tuning 3, or more to make at least 100 steps)"},
			&cli.IntFlag{Name: "batch", Value: 32, Usage: "images per step"},
			&cli.IntFlag{Name: "image-size", Usage: "training resolution (default: a gtl checkpoint's; 224 for torchvision weights; from scratch 32 for fashion-mnist, 64 for folders)"},
			&cli.Float64Flag{Name: "ema", Usage: "keep an exponential moving average of the weights with this decay, e.g. 0.999 (validation and checkpoints use it; 0: off)"},
			&cli.StringFlag{Name: "device", Value: "auto", Usage: "auto (CUDA when there is a device), cpu, cuda or cuda:N"},
			&cli.StringFlag{Name: "out", Required: true, Usage: "output folder"},
			&cli.BoolFlag{Name: "resume", Usage: "continue the interrupted run in --out (same flags): its last checkpoint and state"},
		),
		Action: runTrain,
	}
}

func runTrain(c *cli.Context) error {
	data := c.String("data")
	if data != "fashion-mnist" {
		if st, err := os.Stat(data); err != nil || !st.IsDir() {
			return cli.Exit(fmt.Sprintf("--data %s: not fashion-mnist and not an image folder", data), 2)
		}
		if c.String("classes") != "" || c.Int("shots") != 0 {
			return cli.Exit("--classes and --shots apply to fashion-mnist; an image folder is used as it is", 2)
		}
	}
	fineTune := c.String("weights") != "" || c.Bool("pretrained")
	cfg := finetune.Config{Epochs: c.Int("epochs"), BatchSize: c.Int("batch"), LR: c.Float64("lr"), LRDecay: c.Float64("lr-decay"),
		WeightDecay: c.Float64("weight-decay"), Seed: uint64(c.Int64("seed")), Optimizer: c.String("optimizer"),
		Schedule: c.String("schedule"), Warmup: c.Float64("warmup"), LabelSmoothing: c.Float64("label-smoothing"), ClipNorm: c.Float64("clip-grad"), EMA: c.Float64("ema")}
	dev, err := torch.ParseDevice(c.String("device"))
	if err != nil {
		return cli.Exit("--device: "+err.Error(), 2)
	}
	cfg.Device = dev
	if cfg.LR == 0 {
		cfg.LR = map[bool]float64{true: 0.01, false: 0.05}[fineTune]
	}
	if cfg.Epochs == 0 {
		cfg.Epochs = map[bool]int{true: 3, false: 5}[fineTune]
	}
	if cfg.Epochs < 0 || cfg.BatchSize < 1 || cfg.LR <= 0 || cfg.LRDecay <= 0 || cfg.WeightDecay < 0 {
		return cli.Exit("--epochs, --batch, --lr and --lr-decay: want positive values; --weight-decay: 0 or more", 2)
	}
	switch o := c.String("optimizer"); {
	case o != "sgd" && o != "adamw":
		return cli.Exit(fmt.Sprintf("--optimizer %s: want sgd or adamw", o), 2)
	case c.Float64("ema") < 0 || c.Float64("ema") >= 1:
		return cli.Exit(fmt.Sprintf("--ema %g: want a decay in [0, 1), e.g. 0.999", c.Float64("ema")), 2)
	case c.Float64("clip-grad") < 0:
		return cli.Exit(fmt.Sprintf("--clip-grad %g: want 0 (off) or more", c.Float64("clip-grad")), 2)
	case c.Float64("label-smoothing") < 0 || c.Float64("label-smoothing") >= 1:
		return cli.Exit(fmt.Sprintf("--label-smoothing %g: want a value in [0, 1)", c.Float64("label-smoothing")), 2)
	}
	if _, err := finetune.ParseSchedule(c.String("schedule"), c.Float64("warmup")); err != nil {
		return cli.Exit(fmt.Sprintf("--schedule %s --warmup %g: %v", c.String("schedule"), c.Float64("warmup"), err), 2)
	}
	bnPolicy := c.String("bn-policy")
	if bnPolicy != "eval" && bnPolicy != "train" {
		return cli.Exit(fmt.Sprintf("--bn-policy %s: want eval or train", bnPolicy), 2)
	}
	size, err := trainSize(c, data, fineTune)
	if err != nil {
		return err
	}
	augName, aug, err := parseAugment(c, size, fineTune)
	if err != nil {
		return err
	}
	cfg.Augment = aug
	ts, err := loadTrainData(c, data, size, aug)
	if err != nil {
		return err
	}
	train, val := ts.train, ts.val
	cfg.Normalize = imagenetNorm

	out := c.String("out")
	resume := c.Bool("resume")
	if resume {
		last := filepath.Join(out, "last.safetensors")
		if _, err := os.Stat(filepath.Join(out, "trainer-state.json")); err != nil {
			return cli.Exit(fmt.Sprintf("--resume: %s holds no resumable run (no trainer-state.json)", out), 2)
		}
		if err := c.Set("weights", last); err != nil {
			return err
		}
		if err := c.Set("pretrained", "false"); err != nil {
			return err
		}
	}
	if c.Int("num-classes") != 0 && c.Int("num-classes") != len(ts.classes) {
		return cli.Exit(fmt.Sprintf("--num-classes %d: the data has %d classes", c.Int("num-classes"), len(ts.classes)), 2)
	}
	if err := c.Set("num-classes", strconv.Itoa(len(ts.classes))); err != nil {
		return err
	}
	o, err := openModelFor(c, ts.classes)
	if err != nil {
		return err
	}
	m := o.Model
	w := c.App.Writer
	strategy, err := applyStrategy(c, &cfg, m.Arch, len(m.Stages), ts, w)
	if err != nil {
		return err
	}
	if strategy == "" && fineTune {
		if err := applyFineTuneDefaults(c, &cfg, ts.n); err != nil {
			return err
		}
	}
	if strategy == "scratch" && o.Source != "" { // --strategy auto chose to drop the source weights
		if err := c.Set("model", m.Arch); err != nil {
			return err
		}
		_ = torch.Do(func() error { m.Close(); return nil })
		if o, err = openModelFor(c, ts.classes); err != nil {
			return err
		}
		m = o.Model
	}
	nFrozen, all, err := parseFreeze(c.String("freeze"), len(m.Stages))
	if err != nil {
		return cli.Exit(err.Error(), 2)
	}
	unfreezeAt, err := parseEpochs(c.String("unfreeze-at"), cfg.Epochs)
	if err != nil {
		return cli.Exit(err.Error(), 2)
	}
	if len(unfreezeAt) > 0 && all {
		return cli.Exit("--unfreeze-at needs the backbone in the loop: use --freeze N, not all (cached features)", 2)
	}
	if c.Bool("no-cache") && !all {
		return cli.Exit("--no-cache applies to --freeze all (the cached-feature fast path)", 2)
	}
	cached := all && !cfg.Augment.Active() && !c.Bool("no-cache")
	if err := torch.Do(func() error {
		for i := 0; i < nFrozen; i++ {
			if err := m.SetStageFrozen(i, true, bnPolicy == "eval"); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	resolved := map[string]any{"model": m.Arch, "weights": o.Source, "data": data, "classes": ts.classes,
		"shots": c.Int("shots"), "train_images": ts.n, "augment": augName, "workers": aug.Workers, "on_bad_image": aug.OnBadImage, "val_images": val.Len(), "image_size": size, "strategy": strategy, "freeze": c.String("freeze"),
		"bn_policy": bnPolicy, "unfreeze_at": c.String("unfreeze-at"), "lr": cfg.LR, "lr_decay": cfg.LRDecay, "weight_decay": cfg.WeightDecay, "epochs": cfg.Epochs,
		"batch": cfg.BatchSize, "momentum": 0.9, "optimizer": cfg.Optimizer, "schedule": c.String("schedule"), "warmup": cfg.Warmup,
		"label_smoothing": cfg.LabelSmoothing, "clip_grad": cfg.ClipNorm, "ema": cfg.EMA, "device": torch.DeviceName(dev), "seed": cfg.Seed, "cached_features": cached}
	if !resume {
		if err := writeJSON(filepath.Join(out, "config.json"), resolved); err != nil {
			return err
		}
	}
	metrics, best, err := newMetricsWriter(out, resume)
	if err != nil {
		return err
	}
	defer metrics.close()
	meta := vision.CheckpointMeta{Classes: ts.classes, Train: resolved,
		Preprocess: vision.Preprocess{CropSize: size, ResizeSize: size, Filter: "bilinear", Mean: [3]float32{0.485, 0.456, 0.406}, Std: [3]float32{0.229, 0.224, 0.225}}}
	bar := newTrainingBar(c)
	skippedSeen := map[string]bool{}
	var skipped []string
	stop := stopOnInterrupt(c.App.ErrWriter)
	defer stop.release()
	tr := finetune.Trainer{Config: cfg, StateDir: out, Resume: resume, Hooks: finetune.Hooks{
		OnStart: func(p finetune.Plan) {
			printStageTable(w, m, p.Groups, nFrozen)
			fmt.Fprintf(w, "training %s on %d images (%d classes, %d px), validating on %d; %d epochs of %d steps\n",
				m.Arch, p.TrainImages, len(ts.classes), size, p.ValImages, p.Epochs, p.StepsPerEpoch)
			fmt.Fprintf(w, "%-6s %-11s %-9s %-8s %s\n", "epoch", "train loss", "val loss", "val acc", "time")
			bar.start(p)
		},
		OnStep: bar.step,
		OnEpochEnd: func(e finetune.Epoch) error {
			bar.clear()
			for _, name := range e.Skipped {
				if !skippedSeen[name] {
					skippedSeen[name] = true
					skipped = append(skipped, name)
				}
			}
			fmt.Fprintf(w, "%-6d %-11.4f %-9.4f %-8s %s\n", e.Epoch, e.TrainLoss, e.ValLoss, fmt.Sprintf("%.1f%%", 100*e.ValAccuracy), e.Duration.Round(10*time.Millisecond))
			if err := metrics.write(e); err != nil {
				return err
			}
			if err := m.SaveCheckpoint(filepath.Join(out, "last.safetensors"), meta); err != nil {
				return err
			}
			if e.ValAccuracy > best {
				best = e.ValAccuracy
				if err := m.SaveCheckpoint(filepath.Join(out, "best.safetensors"), meta); err != nil {
					return err
				}
			}
			if unfreezeAt[e.Epoch] {
				if err := unfreezeNext(m, w); err != nil {
					return err
				}
			}
			if stop.requested() {
				return finetune.ErrStop
			}
			return nil
		},
	}}
	var res *finetune.Result
	switch {
	case cached:
		res, err = tr.FitCached(m, train, val)
	case ts.files != nil:
		res, err = tr.FitSource(m, m.VS, loader.FromFiles(ts.files), len(ts.classes), size, val)
	default:
		res, err = tr.Fit(m, m.VS, train, val)
	}
	bar.finish()
	reportSkipped(c, skipped)
	if err != nil {
		return err
	}
	if stop.requested() {
		fmt.Fprintf(w, "interrupted: the run stopped after a complete epoch; continue it with the same flags and --resume\n")
		return cli.Exit("", 130)
	}
	r := res.Report // the last epoch's validation: the final model (nil when no epoch ran)
	if r == nil || math.IsNaN(res.Epochs[len(res.Epochs)-1].ValAccuracy) {
		if r, err = tr.Report(m, val); err != nil {
			return err
		}
	}
	fmt.Fprintf(w, "final model on the validation images:\n")
	printReport(w, r, val.Len())
	if err := writeConfusionCSV(filepath.Join(out, "confusion.csv"), r); err != nil {
		return err
	}
	if err := chart.Confusion(filepath.Join(out, "confusion.png"), r.Confusion, r.Classes, fmt.Sprintf("%s on %d validation images", m.Arch, val.Len())); err != nil {
		return err
	}
	if err := plotCurves(filepath.Join(out, "curves.png"), res); err != nil {
		return err
	}
	fmt.Fprintf(w, "best val accuracy %.1f%% in %s; checkpoints, metrics, confusion matrix and config in %s\n", 100*best, res.Duration.Round(10*time.Millisecond), out)
	return nil
}

// trainSize is --image-size, or its default: the resolution a gtl
// checkpoint was trained at, 224 for torchvision weights, else the data's
// own scale (fashion-mnist's 28 px rounded up to 32; 64 for folders).
func trainSize(c *cli.Context, data string, fineTune bool) (int, error) {
	if s := c.Int("image-size"); s != 0 {
		if s < 16 {
			return 0, cli.Exit(fmt.Sprintf("--image-size %d: want at least 16", s), 2)
		}
		return s, nil
	}
	if w := c.String("weights"); w != "" {
		if meta, err := vision.ReadMeta(w); err == nil && meta != nil && meta.Preprocess.CropSize > 0 {
			return meta.Preprocess.CropSize, nil
		}
	}
	if fineTune {
		return 224, nil
	}
	if data == "fashion-mnist" {
		return 32, nil
	}
	return 64, nil
}

// parseEpochs reads --unfreeze-at: epoch numbers below the last epoch.
func parseEpochs(s string, epochs int) (map[int]bool, error) {
	out := map[int]bool{}
	if s == "" {
		return out, nil
	}
	for _, f := range strings.Split(s, ",") {
		e, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || e < 1 || e >= epochs {
			return nil, fmt.Errorf("--unfreeze-at %s: %q is not an epoch between 1 and %d", s, f, epochs-1)
		}
		out[e] = true
	}
	return out, nil
}

// unfreezeNext lets the frozen stage nearest the head train (on the torch
// worker thread, where hooks run) and says which.
func unfreezeNext(m *vision.Model, w io.Writer) error {
	i, err := finetune.UnfreezeNext(m)
	if err == nil && i >= 0 {
		fmt.Fprintf(w, "unfrozen: stage %d (%s)\n", i+1, m.Stages[i].Name)
	}
	return err
}

// parseFreeze reads --freeze: a stage count, or "all" (every stage but the head).
func parseFreeze(s string, stages int) (n int, all bool, err error) {
	if s == "all" {
		return stages - 1, true, nil
	}
	n, err = strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, false, fmt.Errorf("--freeze %s: want a number of stages or all", s)
	}
	if n >= stages {
		return 0, false, fmt.Errorf("--freeze %d: the model has %d stages (the last is the head); at most %d, or all", n, stages, stages-1)
	}
	return n, false, nil
}

func loadFashion(c *cli.Context) (train, val *datasets.Images, err error) {
	if train, val, err = readFashion(c.String("classes"), c.Int("val")); err != nil {
		return nil, nil, err
	}
	if shots := c.Int("shots"); shots != 0 {
		idx, err := train.FirstPerClass(shots, uint64(c.Int64("seed")))
		if err != nil {
			return nil, nil, cli.Exit("--shots: "+err.Error(), 2)
		}
		if train, err = train.Subset(idx); err != nil {
			return nil, nil, err
		}
	}
	return train, val, nil
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

type metricsWriter struct {
	jf, cf *os.File
	cw     *csv.Writer
}

// newMetricsWriter starts metrics.jsonl and metrics.csv in dir, or, when
// resuming, appends to them and returns the best validation accuracy so far.
func newMetricsWriter(dir string, resume bool) (*metricsWriter, float64, error) {
	best := -1.0
	flags := os.O_CREATE | os.O_WRONLY | os.O_TRUNC
	if resume {
		flags = os.O_CREATE | os.O_WRONLY | os.O_APPEND
		if b, err := os.ReadFile(filepath.Join(dir, "metrics.jsonl")); err == nil {
			for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
				var r struct {
					ValAccuracy *float64 `json:"val_accuracy"`
				}
				if json.Unmarshal([]byte(line), &r) == nil && r.ValAccuracy != nil {
					best = max(best, *r.ValAccuracy)
				}
			}
		}
	}
	jf, err := os.OpenFile(filepath.Join(dir, "metrics.jsonl"), flags, 0o644)
	if err != nil {
		return nil, 0, err
	}
	cf, err := os.OpenFile(filepath.Join(dir, "metrics.csv"), flags, 0o644)
	if err != nil {
		jf.Close()
		return nil, 0, err
	}
	mw := &metricsWriter{jf: jf, cf: cf, cw: csv.NewWriter(cf)}
	if !resume {
		_ = mw.cw.Write([]string{"epoch", "train_loss", "val_loss", "val_accuracy", "seconds"})
	}
	return mw, best, nil
}

func (mw *metricsWriter) write(e finetune.Epoch) error {
	num := func(v float64) any {
		if math.IsNaN(v) {
			return nil
		}
		return v
	}
	b, _ := json.Marshal(map[string]any{"epoch": e.Epoch, "train_loss": e.TrainLoss, "val_loss": num(e.ValLoss), "val_accuracy": num(e.ValAccuracy), "seconds": e.Duration.Seconds()})
	if _, err := mw.jf.Write(append(b, '\n')); err != nil {
		return err
	}
	if err := mw.cw.Write([]string{strconv.Itoa(e.Epoch), fmt.Sprint(e.TrainLoss), fmt.Sprint(e.ValLoss), fmt.Sprint(e.ValAccuracy), fmt.Sprint(e.Duration.Seconds())}); err != nil {
		return err
	}
	mw.cw.Flush()
	return mw.cw.Error()
}

func (mw *metricsWriter) close() {
	mw.cw.Flush()
	mw.jf.Close()
	mw.cf.Close()
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return npy.WriteFileAtomic(path, append(b, '\n'))
}

// plotCurves draws the run's training loss and validation accuracy per
// epoch (this process's epochs; a resumed run's earlier ones are in
// metrics.csv).
func plotCurves(path string, res *finetune.Result) error {
	loss := chart.Series{Name: "train loss"}
	acc := chart.Series{Name: "val accuracy"}
	for _, e := range res.Epochs {
		loss.X, loss.Y = append(loss.X, float64(e.Epoch)), append(loss.Y, e.TrainLoss)
		if !math.IsNaN(e.ValAccuracy) {
			acc.X, acc.Y = append(acc.X, float64(e.Epoch)), append(acc.Y, e.ValAccuracy)
		}
	}
	series := []chart.Series{loss}
	if len(acc.X) > 0 {
		series = append(series, acc)
	}
	return chart.Lines(path, chart.LineChart{Title: "Training", XLabel: "epoch", YLabel: "loss / accuracy (0-1)", Series: series})
}
