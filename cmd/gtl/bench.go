package main

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/urfave/cli/v2"

	"github.com/gtl-dev/gtl/bench"
	"github.com/gtl-dev/gtl/finetune"
	"github.com/gtl-dev/gtl/torch"
)

func benchCommand() *cli.Command {
	return &cli.Command{
		Name:  "bench",
		Usage: "measure training or inference throughput of a model on synthetic data",
		Description: "Builds the model with seeded random weights, runs --warmup untimed and --steps timed steps on one\n" +
			"random batch and prints images/s, step-time percentiles and peak memory. scripts/bench/pytorch_ref.py\n" +
			"measures the same in PyTorch and prints the same --json keys.",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "model", Value: "resnet50", Usage: "architecture (gtl models lists them)"},
			&cli.StringFlag{Name: "mode", Value: "train", Usage: "train (gtl train's step: forward, cross-entropy, backward, update) or infer (no-grad eval forward)"},
			&cli.IntFlag{Name: "batch", Value: 32, Usage: "images per step"},
			&cli.IntFlag{Name: "image-size", Usage: "input side in pixels (0: the model's, 224 for most)"},
			&cli.StringFlag{Name: "device", Value: "auto", Usage: "cpu, cuda, cuda:N or auto"},
			&cli.IntFlag{Name: "steps", Value: 10, Usage: "timed steps"},
			&cli.IntFlag{Name: "warmup", Value: 3, Usage: "untimed steps first"},
			&cli.IntFlag{Name: "freeze", Usage: "train mode: freeze the first N stages (no gradients, batch norms on running statistics)"},
			&cli.IntFlag{Name: "threads", Usage: "libtorch intra-op threads (0: the global --threads / default)"},
			&cli.Int64Flag{Name: "seed", Usage: "seed of the weights and the batch"},
			&cli.BoolFlag{Name: "json", Usage: "print one JSON object instead of text"},
		}, stepFlags()...),
		Action: runBench,
	}
}

func runBench(c *cli.Context) error {
	if c.NArg() > 0 {
		return cli.Exit(fmt.Sprintf("bench: unexpected argument %q (all settings are flags)", c.Args().First()), 2)
	}
	dev, err := torch.ParseDevice(c.String("device"))
	if err != nil {
		return cli.Exit("--device: "+err.Error(), 2)
	}
	if n := c.Int("threads"); n != 0 {
		if n < 0 {
			return cli.Exit(fmt.Sprintf("--threads %d: want at least 1", n), 2)
		}
		if err := torch.SetNumThreads(n); err != nil {
			return err
		}
	}
	for _, f := range []string{"batch", "steps"} {
		if c.Int(f) < 1 {
			return cli.Exit(fmt.Sprintf("--%s %d: want at least 1", f, c.Int(f)), 2)
		}
	}
	if c.Int("warmup") < 0 || c.Int("image-size") < 0 || c.Int("freeze") < 0 {
		return cli.Exit(fmt.Sprintf("--warmup %d, --image-size %d, --freeze %d: want 0 or more", c.Int("warmup"), c.Int("image-size"), c.Int("freeze")), 2)
	}
	cfg := bench.Config{
		Arch: c.String("model"), Mode: c.String("mode"), ImageSize: c.Int("image-size"),
		Device: dev, Steps: c.Int("steps"), Warmup: c.Int("warmup"), Seed: c.Int64("seed"),
		Train: finetune.TrainSpec{Batch: c.Int("batch"), Freeze: strconv.Itoa(c.Int("freeze")), AMP: c.String("amp"),
			ChannelsLast: c.Bool("channels-last"), CuDNNBenchmark: c.Bool("cudnn-benchmark"), TF32: c.Bool("tf32")},
	}
	if err := bench.Check(cfg); err != nil {
		if e := specError(err); e != err { // a training setting: named as its flag
			return e
		}
		return cli.Exit(err.Error(), 2)
	}
	res, err := bench.Bench(torch.Default(), cfg)
	if err != nil {
		return err
	}
	w := c.App.Writer
	if c.Bool("json") {
		b, err := json.Marshal(res)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(w, string(b))
		return err
	}
	cl := ""
	if res.ChannelsLast {
		cl = ", channels-last"
	}
	amps := "fp32"
	if res.AMP != "" {
		amps = "amp " + res.AMP
	}
	fmt.Fprintf(w, "%s %s: batch %d, %d px, %s%s on %s (%s), %s, libtorch %s\n",
		res.Model, res.Mode, res.Batch, res.ImageSize, amps, cl, res.Device, res.DeviceName, plural(res.Threads, "thread"), res.Libtorch)
	fmt.Fprintf(w, "  %.1f images/s; step p50 %.1f ms, p90 %.1f ms (%d steps after %d warm-up)\n",
		res.ImagesPerSec, res.StepP50Ms, res.StepP90Ms, res.Steps, res.Warmup)
	if res.PeakMemBytes >= 0 {
		fmt.Fprintf(w, "  peak memory %.0f MiB (%s)\n", float64(res.PeakMemBytes)/(1<<20), res.PeakMemKind)
	} else {
		fmt.Fprintf(w, "  peak memory unknown\n")
	}
	return nil
}
