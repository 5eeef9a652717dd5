package bench

import (
	"cmp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gtl-dev/gtl/finetune"
	"github.com/gtl-dev/gtl/torch"
)

func TestConfigValidation(t *testing.T) {
	ok := Config{Arch: "resnet18"}
	tests := []struct {
		name    string
		edit    func(c *Config)
		wantErr string // "" for valid
	}{
		{"defaults", func(c *Config) {}, ""},
		{"no arch", func(c *Config) { c.Arch = "" }, "no architecture"},
		{"unknown arch", func(c *Config) { c.Arch = "resnet19" }, "resnet19"},
		{"mode", func(c *Config) { c.Mode = "eval" }, `mode "eval"`},
		{"batch", func(c *Config) { c.Train.Batch = -1 }, "batch -1"},
		{"steps", func(c *Config) { c.Steps = -2 }, "steps -2"},
		{"warmup", func(c *Config) { c.Warmup = -1 }, "warmup -1"},
		{"freeze", func(c *Config) { c.Train.Freeze = "-1" }, "freeze -1"},
		{"fp16 on cpu", func(c *Config) { c.Train.AMP = "fp16" }, "fp16 needs a CUDA device"},
		{"bf16 on cpu", func(c *Config) { c.Train.AMP = "bf16" }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok
			tt.edit(&c)
			err := Check(c)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("CheckBench = %v, want nil", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("CheckBench = %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestPercentileMs(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		d := make([]time.Duration, len(v))
		for i, x := range v {
			d[i] = time.Duration(x) * time.Millisecond
		}
		return d
	}
	tests := []struct {
		name string
		d    []time.Duration
		q    float64
		want float64
	}{
		{"one", ms(7), 0.9, 7},
		{"median odd, unsorted", ms(30, 10, 20), 0.5, 20},
		{"median even", ms(10, 20, 30, 40), 0.5, 25},
		{"p90 of 11", ms(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 100), 0.9, 9},
		{"p90 between", ms(10, 20), 0.9, 19},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := percentileMs(tt.d, tt.q); got < tt.want-1e-9 || got > tt.want+1e-9 {
				t.Errorf("percentileMs(%v, %g) = %g, want %g", tt.d, tt.q, got, tt.want)
			}
		})
	}
}

func TestParseVmHWM(t *testing.T) {
	tests := []struct {
		name, status string
		want         int64
	}{
		{"present", "Name:\tgtl\nVmPeak:\t  999 kB\nVmHWM:\t  2048 kB\nVmRSS:\t 1000 kB\n", 2048 * 1024},
		{"absent", "Name:\tgtl\n", -1},
		{"bad unit", "VmHWM:\t 12 MB\n", -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := parseVmHWM([]byte(tt.status)); got != tt.want {
				t.Errorf("parseVmHWM = %d, want %d", got, tt.want)
			}
		})
	}
	if peakRSS() <= 0 {
		t.Errorf("peakRSS() = %d on Linux, want > 0", peakRSS())
	}
}

func TestBenchRuns(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"train", Config{Arch: "resnet18", Mode: "train", ImageSize: 32, Steps: 2, Classes: 5, Train: finetune.TrainSpec{Batch: 2}}},
		{"train freeze 2", Config{Arch: "resnet18", Mode: "train", ImageSize: 32, Steps: 2, Classes: 5, Train: finetune.TrainSpec{Batch: 2, Freeze: "2"}}},
		{"infer bf16 channels-last", Config{Arch: "resnet18", Mode: "infer", ImageSize: 32, Steps: 3, Warmup: 1, Classes: 5, Train: finetune.TrainSpec{Batch: 2, AMP: "bf16", ChannelsLast: true}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := torch.NewWorker()
			defer w.Close()
			if err := w.SetNumThreads(1); err != nil {
				t.Fatal(err)
			}
			r, err := Bench(w, tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			if r.Tool != "gtl" || r.Model != "resnet18" || r.Mode != tt.cfg.Mode || r.Batch != 2 || r.ImageSize != 32 ||
				r.Steps != tt.cfg.Steps || r.Device != "cpu" || r.AMP != tt.cfg.Train.AMP || r.ChannelsLast != tt.cfg.Train.ChannelsLast || strconv.Itoa(r.Freeze) != cmp.Or(tt.cfg.Train.Freeze, "0") {
				t.Errorf("result does not echo the config: %+v", r)
			}
			if r.Threads != 1 {
				t.Errorf("Threads = %d, want the worker's 1", r.Threads)
			}
			if r.ImagesPerSec <= 0 || r.StepP50Ms <= 0 || r.StepP90Ms < r.StepP50Ms {
				t.Errorf("timings: %g img/s, p50 %g ms, p90 %g ms", r.ImagesPerSec, r.StepP50Ms, r.StepP90Ms)
			}
			if r.PeakMemKind != "rss" || r.PeakMemBytes <= 0 || r.Libtorch == "" {
				t.Errorf("peak memory %d (%s), libtorch %q", r.PeakMemBytes, r.PeakMemKind, r.Libtorch)
			}
		})
	}
}
