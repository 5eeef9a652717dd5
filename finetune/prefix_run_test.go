package finetune

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRunFrozenCache runs Freeze 2 (resnet18: stem and layer1) from
// source weights: without anything that varies the frozen stages' output
// the run computes them once per image, with the uncached run's losses
// and accuracy; each reason against it makes the run train through them
// and says why, in the result and in config.json; and a cached run stopped
// after an epoch resumes to the uninterrupted run's weights.
func TestRunFrozenCache(t *testing.T) {
	dir, images, src := sourceRun(t)
	spec := func(out string) RunSpec {
		s := crashSpec(images, out, 0.5)
		s.Model.Weights = filepath.Join(src, "last.safetensors")
		s.Train.Freeze, s.Train.Epochs = "2", 2
		return s
	}
	var cached, uncached *RunResult
	firstLoss := map[string]float64{} // of each run's first step
	for _, tt := range []struct {
		name   string
		change func(*RunSpec)
		env    string // GTL_FROZEN_CACHE_MB
		want   string // reason; "" when cached
	}{
		{"cached", nil, "", ""},
		{"no-cache", func(s *RunSpec) { s.Train.NoCache = true }, "", "turned off (no-cache)"},
		{"unfreeze-at", func(s *RunSpec) { s.Train.UnfreezeAt = []int{1} }, "", "unfreeze-at changes the frozen stages"},
		{"augmentation", func(s *RunSpec) { s.Train.Augment = "light" }, "", "augmentation varies the images"},
		{"over the limit", func(s *RunSpec) { s.Train.CacheLimit = 1024 }, "", "over the cache limit 0.00 MiB"},
		{"env off", nil, "0", "turned off (cache limit 0: GTL_FROZEN_CACHE_MB=0)"},
		{"env limit", nil, "1", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("GTL_FROZEN_CACHE_MB", tt.env)
			out := filepath.Join(dir, tt.name)
			s := spec(out)
			if tt.change != nil {
				tt.change(&s)
			}
			env := RunEnv{Hooks: RunHooks{OnStep: func(st Step) {
				if st.Epoch == 1 && st.Step == 1 {
					firstLoss[tt.name] = st.Loss
				}
			}}}
			res, err := Run(context.Background(), s, env)
			if err != nil {
				t.Fatal(err)
			}
			p := res.Config.FrozenCache
			if p == nil || p.Used != (tt.want == "") || !strings.Contains(p.Reason, tt.want) {
				t.Fatalf("FrozenCache %+v, want reason %q", p, tt.want)
			}
			if (res.Result.PrefixCache != nil) != p.Used {
				t.Errorf("Result.PrefixCache %+v, want set when cached", res.Result.PrefixCache)
			}
			var conf struct {
				FrozenCache *PrefixCache `json:"frozen_cache"`
			}
			b, _ := os.ReadFile(filepath.Join(out, "config.json"))
			if err := json.Unmarshal(b, &conf); err != nil || conf.FrozenCache == nil || *conf.FrozenCache != *p {
				t.Errorf("config.json frozen_cache %+v (%v), want %+v", conf.FrozenCache, err, p)
			}
			switch tt.name {
			case "cached":
				cached = res
			case "no-cache":
				uncached = res
			}
		})
	}
	if cached == nil || uncached == nil {
		t.Fatal("the cached or the uncached run failed")
	}
	// The same forward pass: the first step's losses agree to rounding. (Later
	// steps are not compared here: on this fixture — a source trained one
	// epoch at a high rate, batch norms on four near-grey images — training
	// is chaotic, and the folded prefix's rounding, 3e-5 relative on
	// AVX-512 kernels, grows to whole units within an epoch on either path;
	// TestFitPrefixCachedEqualsFit compares whole runs where training is
	// stable.)
	if c, u := firstLoss["cached"], firstLoss["no-cache"]; c == 0 || math.Abs(c-u) > 1e-4*math.Max(1, u) {
		t.Errorf("first step: cached loss %v, uncached %v", c, u)
	}
	if cached.Result.Epochs[0].ValAccuracy < 0 || len(cached.Result.Epochs) != len(uncached.Result.Epochs) {
		t.Errorf("cached %+v, uncached %+v", cached.Result.Epochs, uncached.Result.Epochs)
	}
	// Stopped after epoch 1 and resumed: the cache is rebuilt and the run
	// ends where the uninterrupted one did.
	out := filepath.Join(dir, "stopped")
	s := spec(out)
	var env RunEnv
	env.Hooks.OnEpochEnd = func(e Epoch) error {
		if e.Epoch == 1 {
			return ErrStop
		}
		return nil
	}
	if res, err := Run(context.Background(), s, env); err != nil || !res.Stopped {
		t.Fatalf("stop after epoch 1: %v", err)
	}
	s = spec(out)
	s.Resume = true
	res, err := Run(context.Background(), s, RunEnv{})
	if err != nil {
		t.Fatal(err)
	}
	if p := res.Config.FrozenCache; p == nil || !p.Used {
		t.Errorf("resumed run: FrozenCache %+v, want cached", p)
	}
	want, _ := os.ReadFile(filepath.Join(dir, "cached", "last.safetensors"))
	got, _ := os.ReadFile(filepath.Join(out, "last.safetensors"))
	if len(want) == 0 || !bytes.Equal(got, want) {
		t.Error("stopped after epoch 1 and resumed: last.safetensors differs from the uninterrupted cached run's")
	}
}
