package main

import (
	"encoding/json"
	"fmt"
	"image"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/gtl-dev/gtl/vision/augment"
	"github.com/gtl-dev/gtl/vision/datasets"
	"github.com/gtl-dev/gtl/vision/loader"
	"github.com/gtl-dev/gtl/vision/transforms"
)

func benchDataCommand() *cli.Command {
	return &cli.Command{
		Name:  "bench-data",
		Usage: "measure the data pipeline alone: decode, random resized crop, flip, normalise into batches",
		Description: "Runs vision/loader over an ImageFolder with torchvision's training transform " +
			"(RandomResizedCrop + RandomHorizontalFlip + normalise) and reports images per second and per " +
			"CPU-second; scripts/bench/data.sh compares it with torchvision's DataLoader.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "data", Required: true, Usage: "ImageFolder: `DIR`/<class>/<image>"},
			&cli.IntFlag{Name: "workers", Value: 0, Usage: "loader goroutines (0: one per CPU)"},
			&cli.IntFlag{Name: "batch", Value: 64, Usage: "batch size"},
			&cli.IntFlag{Name: "size", Value: 224, Usage: "crop size"},
			&cli.IntFlag{Name: "epochs", Value: 2, Usage: "timed epochs (after one untimed warm-up epoch)"},
			&cli.BoolFlag{Name: "json", Usage: "print one JSON object instead of text"},
			&cli.BoolFlag{Name: "full-decode", Usage: "decode whole images, then crop (default: decode only the crop window; same pixels)"},
			&cli.StringFlag{Name: "cpuprofile", Usage: "write a CPU profile of the timed epochs to `FILE`"},
		},
		Action: benchData,
	}
}

// benchResult is what bench-data reports.
type benchResult struct {
	Workers     int     `json:"workers"`
	Batch       int     `json:"batch"`
	Images      int     `json:"images"`
	Seconds     float64 `json:"seconds"`
	ImgPerS     float64 `json:"img_per_s"`
	CPUSeconds  float64 `json:"cpu_seconds"`
	ImgPerCPUS  float64 `json:"img_per_cpu_s"`
	JPEGDecoder string  `json:"jpeg_decoder"`
}

func benchData(c *cli.Context) error {
	items, _, err := datasets.ListImageFolder(c.String("data"))
	if err != nil {
		return cli.Exit(fmt.Sprintf("--data: %v", err), 2)
	}
	if c.Int("batch") < 1 || c.Int("size") < 1 || c.Int("epochs") < 1 || c.Int("workers") < 0 {
		return cli.Exit("--batch, --size, --epochs: want at least 1; --workers: want 0 or more", 2)
	}
	size := c.Int("size")
	// torchvision's RandomResizedCrop(size) + RandomHorizontalFlip(): the
	// window is drawn before decoding, so that only it is decoded; the
	// generator's draws are those of augment's pipeline, in the same order.
	rrc, flip := augment.RandomResizedCrop{Size: size}, augment.HorizontalFlip{P: 0.5}
	cfg := loader.Config{BatchSize: c.Int("batch"), Workers: c.Int("workers"), Size: size, Seed: 1,
		Crop: func(w, h int, r *rand.Rand) image.Rectangle {
			win, _ := rrc.Params(w, h, r)
			return image.Rect(win.X, win.Y, win.X+win.W, win.Y+win.H)
		},
		Transform: func(crop transforms.RGB, r *rand.Rand) transforms.RGB {
			return flip.Apply(transforms.Resize(crop, size, size, transforms.Bilinear), r)
		}}
	if c.Bool("full-decode") {
		cfg.Crop, cfg.Transform = nil, func(img transforms.RGB, r *rand.Rand) transforms.RGB {
			return flip.Apply(rrc.Apply(img, r), r)
		}
	}
	l, err := loader.New(loader.FromFiles(items), cfg)
	if err != nil {
		return err
	}
	order := make([]int, len(items))
	epoch := func(e int) error {
		copy(order, rand.New(rand.NewPCG(1, uint64(e))).Perm(len(items)))
		it := l.Epoch(order, e)
		defer it.Close()
		for {
			b, err := it.Next()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
			l.Release(b)
		}
	}
	if err := epoch(0); err != nil {
		return err
	}
	if p := c.String("cpuprofile"); p != "" {
		f, err := os.Create(p)
		if err != nil {
			return cli.Exit(fmt.Sprintf("--cpuprofile: %v", err), 2)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	cpu0, start := cpuSeconds(), time.Now()
	for e := 1; e <= c.Int("epochs"); e++ {
		if err := epoch(e); err != nil {
			return err
		}
	}
	secs, cpu := time.Since(start).Seconds(), cpuSeconds()-cpu0
	n := len(items) * c.Int("epochs")
	r := benchResult{Workers: l.Config().Workers, Batch: c.Int("batch"), Images: n, Seconds: secs,
		ImgPerS: float64(n) / secs, CPUSeconds: cpu, ImgPerCPUS: float64(n) / cpu, JPEGDecoder: transforms.JPEGDecoder}
	if c.Bool("json") {
		return json.NewEncoder(c.App.Writer).Encode(r)
	}
	_, err = fmt.Fprintf(c.App.Writer, "%d images in %.2f s with %d workers: %.1f img/s, %.1f img per CPU-second (%s)\n",
		n, secs, r.Workers, r.ImgPerS, r.ImgPerCPUS, r.JPEGDecoder)
	return err
}

// cpuSeconds returns the user and system CPU time of this process.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return math.NaN()
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}
