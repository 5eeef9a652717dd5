package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/gtl-dev/gtl/finetune"
	"github.com/gtl-dev/gtl/torch"
	"github.com/gtl-dev/gtl/vision"
)

// Config describes one throughput measurement of a model on synthetic
// data. The zero value of each field means its default.
type Config struct {
	Arch      string       // torchvision architecture name; required
	Mode      string       // "train" (gtl train's step: forward, cross-entropy, backward, update) or "infer" (no-grad eval forward); default "train"
	ImageSize int          // square input side in pixels; default the model's input size (224, 299 for inception_v3)
	Classes   int          // output classes; default 1000
	Device    gotch.Device // default (zero value) the CPU
	Steps     int          // timed steps; default 10
	Warmup    int          // untimed steps before them; default 0
	Seed      int64        // seeds the weights and the synthetic batch; default 0
	// Train is the step's settings, gtl train's own type: Batch (images per
	// step; default 32), Freeze (a number of stages frozen in train mode:
	// no gradients, batch norms on running statistics), AMP and
	// ChannelsLast (infer mode too), LR, Optimizer, CuDNNBenchmark, TF32;
	// other fields take gtl train's defaults.
	Train finetune.TrainSpec
}

// freeze returns the stages Train.Freeze asks to freeze.
func (c Config) freeze() (int, error) {
	if c.Train.Freeze == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(c.Train.Freeze)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("bench: freeze %q: want a number of stages, 0 or more", c.Train.Freeze)
	}
	return n, nil
}

// BenchResult is one measurement. The JSON keys are stable: scripts
// (scripts/bench) compare them with scripts/bench/pytorch_ref.py's.
type BenchResult struct {
	Tool         string  `json:"tool"` // "gtl"
	Model        string  `json:"model"`
	Mode         string  `json:"mode"`
	Batch        int     `json:"batch"`
	ImageSize    int     `json:"image_size"`
	Device       string  `json:"device"`      // "cpu" or "cuda:N"
	DeviceName   string  `json:"device_name"` // CPU model or GPU name
	AMP          string  `json:"amp"`         // "", "fp16" or "bf16"
	ChannelsLast bool    `json:"channels_last"`
	Freeze       int     `json:"freeze,omitempty"` // stages frozen in train mode
	Threads      int     `json:"threads"`          // libtorch intra-op threads on the thread that ran the model
	Steps        int     `json:"steps"`
	Warmup       int     `json:"warmup"`
	ImagesPerSec float64 `json:"images_per_s"` // Batch × Steps / timed wall time
	StepP50Ms    float64 `json:"step_p50_ms"`
	StepP90Ms    float64 `json:"step_p90_ms"`
	// PeakMemBytes is the process's peak resident set size on the CPU
	// (VmHWM), the CUDA caching allocator's peak allocated bytes on a GPU;
	// -1 when unknown. PeakMemKind says which: "rss" or "cuda_allocated".
	PeakMemBytes int64  `json:"peak_mem_bytes"`
	PeakMemKind  string `json:"peak_mem_kind"`
	Libtorch     string `json:"libtorch"`
}

func (c Config) withDefaults() (Config, error) {
	if c.Mode == "" {
		c.Mode = "train"
	}
	if c.Train.Batch == 0 {
		c.Train.Batch = 32
	}
	if c.Classes == 0 {
		c.Classes = 1000
	}
	if c.Steps == 0 {
		c.Steps = 10
	}
	if c.Device == (gotch.Device{}) {
		c.Device = gotch.CPU
	}
	freeze, err := c.freeze()
	switch {
	case c.Arch == "":
		return c, fmt.Errorf("bench: no architecture given")
	case c.Mode != "train" && c.Mode != "infer":
		return c, fmt.Errorf("bench: mode %q: want train or infer", c.Mode)
	case c.Train.Batch < 1:
		return c, fmt.Errorf("bench: batch %d: want at least 1", c.Train.Batch)
	case c.ImageSize < 0:
		return c, fmt.Errorf("bench: image size %d: want at least 1", c.ImageSize)
	case c.Steps < 1:
		return c, fmt.Errorf("bench: steps %d: want at least 1", c.Steps)
	case err != nil || freeze < 0:
		return c, fmt.Errorf("bench: freeze %s: want 0 or more", c.Train.Freeze)
	case c.Warmup < 0:
		return c, fmt.Errorf("bench: warmup %d: want 0 or more", c.Warmup)
	case c.Classes < 1:
		return c, fmt.Errorf("bench: classes %d: want at least 1", c.Classes)
	}
	if err := c.Train.CheckOn(torch.DeviceName(c.Device)); err != nil {
		return c, fmt.Errorf("bench: %w", err)
	}
	if _, err := vision.Lookup(c.Arch); err != nil {
		return c, fmt.Errorf("bench: %w", err)
	}
	return c, nil
}

// Bench builds cfg.Arch with seeded random weights on w's thread, runs
// cfg.Warmup untimed and cfg.Steps timed steps on one synthetic batch, and
// returns the throughput, step-time percentiles and peak memory. On a GPU
// each step ends with a device synchronisation, so step times are real.
func Bench(w *torch.Worker, cfg Config) (BenchResult, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return BenchResult{}, err
	}
	var res BenchResult
	err = w.Do(func() error {
		r, err := bench(cfg)
		res = r
		return err
	})
	if err != nil {
		return BenchResult{}, fmt.Errorf("bench: %s %s: %w", cfg.Arch, cfg.Mode, err)
	}
	return res, nil
}

// bench runs on the worker's thread.
func bench(cfg Config) (BenchResult, error) {
	dev := cfg.Device
	cuda := dev.IsCuda()
	amp := cfg.Train.Precision() // checked by withDefaults
	if err := torch.ManualSeed(cfg.Seed); err != nil {
		return BenchResult{}, err
	}
	m, err := vision.New(cfg.Arch, cfg.Classes, dev)
	if err != nil {
		return BenchResult{}, err
	}
	defer m.Close()
	size := cfg.ImageSize
	if size == 0 {
		size = m.InputSize
	}
	freeze, _ := cfg.freeze()
	if freeze > len(m.Stages)-1 {
		return BenchResult{}, fmt.Errorf("freeze %d: %s has %d stages below its head", freeze, cfg.Arch, len(m.Stages)-1)
	}
	for i := 0; i < freeze && cfg.Mode == "train"; i++ {
		if err := m.SetStageFrozen(i, true, true); err != nil {
			return BenchResult{}, err
		}
	}
	batch := cfg.Train.Batch
	x, err := ts.Randn([]int64{int64(batch), 3, int64(size), int64(size)}, gotch.Float, dev)
	if err != nil {
		return BenchResult{}, fmt.Errorf("synthetic batch: %w", err)
	}
	defer x.MustDrop()
	y, err := ts.Randint(int64(cfg.Classes), []int64{int64(batch)}, gotch.Int64, dev)
	if err != nil {
		return BenchResult{}, fmt.Errorf("synthetic labels: %w", err)
	}
	defer y.MustDrop()

	var step func() error
	if cfg.Mode == "train" {
		// gtl train's own step, optimiser and device settings.
		st, err := finetune.NewStepper(m, cfg.Train, dev)
		if err != nil {
			return BenchResult{}, err
		}
		defer st.Close()
		step = func() error { _, _, err := st.Step(x, y); return err }
	} else {
		if cuda {
			if err := torch.SetCuDNNBenchmark(cfg.Train.CuDNNBenchmark); err != nil {
				return BenchResult{}, err
			}
			if err := torch.SetAllowTF32(cfg.Train.TF32); err != nil {
				return BenchResult{}, err
			}
		}
		in := x
		if cfg.Train.ChannelsLast {
			if err := torch.SetChannelsLast(m.VS.TrainableVariables()...); err != nil {
				return BenchResult{}, err
			}
			cl, err := torch.ChannelsLast(x)
			if err != nil {
				return BenchResult{}, err
			}
			defer cl.MustDrop()
			in = cl
		}
		step = func() error {
			return torch.Inference(func() error {
				return torch.Autocast(dev, amp, func() error {
					out, err := m.Forward(in, false)
					if err != nil {
						return err
					}
					out.MustDrop()
					return nil
				})
			})
		}
	}
	sync := func() error {
		if cuda {
			return torch.CUDASynchronize(int(dev.Value))
		}
		return nil
	}
	for i := 0; i < cfg.Warmup; i++ {
		if err := step(); err != nil {
			return BenchResult{}, fmt.Errorf("warm-up step %d: %w", i+1, err)
		}
	}
	if err := sync(); err != nil {
		return BenchResult{}, err
	}
	if cuda {
		// Fails only where the peak cannot be read either; it is then -1.
		_ = torch.CUDAResetPeak(int(dev.Value))
	}
	times := make([]time.Duration, cfg.Steps)
	began := time.Now()
	for i := range times {
		t0 := time.Now()
		if err := step(); err != nil {
			return BenchResult{}, fmt.Errorf("step %d: %w", i+1, err)
		}
		if err := sync(); err != nil {
			return BenchResult{}, err
		}
		times[i] = time.Since(t0)
	}
	total := time.Since(began)

	res := BenchResult{
		Tool: "gtl", Model: cfg.Arch, Mode: cfg.Mode, Batch: batch, ImageSize: size,
		Device: "cpu", AMP: amp.String(), ChannelsLast: cfg.Train.ChannelsLast, Freeze: freeze,
		Threads: torch.NumThreadsHere(), Steps: cfg.Steps, Warmup: cfg.Warmup,
		ImagesPerSec: float64(batch*cfg.Steps) / total.Seconds(),
		StepP50Ms:    percentileMs(times, 0.5),
		StepP90Ms:    percentileMs(times, 0.9),
		PeakMemBytes: -1,
		Libtorch:     torch.Build().LibtorchVersion,
	}
	if dev.IsCuda() {
		res.Device = fmt.Sprintf("cuda:%d", dev.Value)
		res.PeakMemKind = "cuda_allocated"
		if devs := torch.CUDADevices(); int(dev.Value) < len(devs) {
			res.DeviceName = devs[dev.Value].Name
		}
		if n, err := torch.CUDAPeakAllocated(int(dev.Value)); err == nil {
			res.PeakMemBytes = n
		}
	} else {
		res.DeviceName = cpuName()
		res.PeakMemKind = "rss"
		res.PeakMemBytes = peakRSS()
	}
	return res, nil
}

// percentileMs returns the q-quantile of d in milliseconds (nearest rank on
// the sorted times, linear between neighbours, as numpy's default).
func percentileMs(d []time.Duration, q float64) float64 {
	s := slices.Clone(d)
	slices.Sort(s)
	pos := q * float64(len(s)-1)
	lo := int(pos)
	hi := min(lo+1, len(s)-1)
	f := pos - float64(lo)
	v := float64(s[lo])*(1-f) + float64(s[hi])*f
	return v / float64(time.Millisecond)
}

// peakRSS returns the process's peak resident set size in bytes (VmHWM in
// /proc/self/status), -1 when unknown.
func peakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	return parseVmHWM(b)
}

func parseVmHWM(status []byte) int64 {
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return -1
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return -1
		}
		return kb * 1024
	}
	return -1
}

// cpuName returns the CPU model from /proc/cpuinfo, or GOARCH.
func cpuName() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			k, v, ok := strings.Cut(line, ":")
			if ok && strings.TrimSpace(k) == "model name" {
				return strings.TrimSpace(v)
			}
		}
	}
	return runtime.GOARCH
}

// Check validates cfg as Bench would, without running anything.
func Check(cfg Config) error {
	_, err := cfg.withDefaults()
	return err
}
