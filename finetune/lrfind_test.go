package finetune

import (
	"context"
	"errors"
	"math"
	"path/filepath"
	"slices"
	"testing"

	"github.com/sugarme/gotch"

	"github.com/gtl-dev/gtl/torch"
	"github.com/gtl-dev/gtl/vision"
)

// TestSuggestLR checks the suggestion functions against fastai's
// (fastai/callback/schedule.py, v2.5+) on fixed curves, values worked out
// by hand from fastai's code, its quirks included: valley's start is one
// before the valley (max_end - its length), so that a valley from the
// first point gives index -1 + ..., which Python reads from the end.
func TestSuggestLR(t *testing.T) {
	seq := func(n int, k float64) []float64 {
		out := make([]float64, n)
		for i := range out {
			out[i] = float64(i+1) * k
		}
		return out
	}
	for _, tc := range []struct {
		name                string
		lrs, losses         []float64
		method              string
		lr, pointLR, pointY float64
	}{
		// Longest valley 5,4,3,2,1 (indices 0-4): max_start -1, sections 5/3,
		// idx -1+1+0 = 0.
		{"valley from the start", seq(7, 1e-3), []float64{5, 4, 3, 2, 1, 2, 3}, "valley", 1e-3, 1e-3, 5},
		// Gradients over log lr: -1/ln2, -1/ln1.5, -1/ln(4/3), -1/ln1.25,
		// then positive: steepest at index 3.
		{"steep", seq(7, 1e-3), []float64{5, 4, 3, 2, 1, 2, 3}, "steep", 4e-3, 4e-3, 2},
		{"minimum", seq(7, 1e-3), []float64{5, 4, 3, 2, 1, 2, 3}, "minimum", 5e-4, 5e-3, 1},
		// Valley 3,1 (indices 0-1): max_start -1, sections 2/3, idx -1: the
		// last point, as Python's lrs[-1].
		{"valley index -1", []float64{0.1, 0.2, 0.3}, []float64{3, 1, 2}, "valley", 0.3, 0.3, 2},
		// Longest decreasing subsequence 2,5→4,3,2,1.5: lds ends at index
		// 6 with length 5, max_start 1, sections 5/3, idx 1+1+0 = 2.
		{"valley mid-curve", seq(8, 1), []float64{1, 2, 5, 4, 3, 2, 1.5, 6}, "valley", 3, 3, 5},
		// Gradients -1/ln(4/3), -1/ln(5/4), -1/ln(6/5) = -5.48, -0.5/ln(7/6):
		// steepest at index 4.
		{"steep mid-curve", seq(8, 1), []float64{1, 2, 5, 4, 3, 2, 1.5, 6}, "steep", 5, 5, 3},
		{"minimum first", seq(8, 1), []float64{1, 2, 5, 4, 3, 2, 1.5, 6}, "minimum", 0.1, 1, 1},
		{"one point", []float64{0.01}, []float64{2}, "steep", 0.01, 0.01, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := SuggestLR(tc.method, tc.lrs, tc.losses)
			if err != nil {
				t.Fatal(err)
			}
			if s.LR != tc.lr || s.PointLR != tc.pointLR || s.PointLoss != tc.pointY || s.Method != tc.method {
				t.Errorf("%+v, want lr %g at (%g, %g)", s, tc.lr, tc.pointLR, tc.pointY)
			}
		})
	}
	if _, err := SuggestLR("slide", []float64{1}, []float64{1}); err == nil {
		t.Error("unknown method accepted")
	}
	if _, err := SuggestLR("valley", nil, nil); err == nil {
		t.Error("empty curve accepted")
	}
}

// TestLRRecorder checks the sweep's rates, the smoothing with bias
// correction and the stops against fastai's LRFinder: with beta 0.98,
// losses 1, 1, x give a third smoothed loss of (0.98·0.0396 + 0.02x) /
// (1 - 0.98³), which passes 4 (4× the best, 1) for x above 9.8212.
func TestLRRecorder(t *testing.T) {
	f, err := LRFindSpec{}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if f.Start != 1e-7 || f.End != 10 || f.Iters != 100 || f.Suggest != "valley" {
		t.Errorf("defaults %+v", f)
	}
	for i, want := range map[int]float64{0: 1e-7, 50: 1e-3, 100: 10} {
		if got := f.rate(i); math.Abs(got-want) > 1e-12*want {
			t.Errorf("rate(%d) = %g, want %g", i, got, want)
		}
	}
	for _, tc := range []struct {
		name     string
		losses   []float64
		stopAt   int // 1-based step that ends the sweep; 0: none
		diverged bool
		third    float64
	}{
		{"below 4x", []float64{1, 1, 9.8}, 0, false, 0.234808 / 0.058808},
		{"above 4x", []float64{1, 1, 9.9}, 3, true, 0.236808 / 0.058808},
		{"nan", []float64{1, 1, math.NaN()}, 3, true, math.NaN()},
		{"all steps", []float64{3, 2, 1, 1, 1, 1}, 6, false, (0.98*(0.98*0.06+0.04) + 0.02) / (1 - 0.98*0.98*0.98)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newLRRecorder(LRFindSpec{Start: 1e-3, End: 1, Iters: 6, Suggest: "valley"})
			stop := 0
			for i, l := range tc.losses {
				if r.observe(r.spec.rate(i), l) {
					stop = i + 1
					break
				}
			}
			if stop != tc.stopAt || r.res.Diverged != tc.diverged {
				t.Errorf("stopped at %d (diverged %v), want %d (%v)", stop, r.res.Diverged, tc.stopAt, tc.diverged)
			}
			if s := r.res.Smoothed[0]; math.Abs(s-tc.losses[0]) > 1e-12 {
				t.Errorf("first smoothed loss %g, want the loss itself (bias correction)", s)
			}
			got := r.res.Smoothed[2]
			if !(math.Abs(got-tc.third) < 1e-9) && !(math.IsNaN(got) && math.IsNaN(tc.third)) {
				t.Errorf("third smoothed loss %.9g, want %.9g", got, tc.third)
			}
		})
	}
	// fastai hands the suggestions the curve without its first num_it/10
	// and last 5 points, cut at the first NaN.
	lrs, losses := make([]float64, 100), make([]float64, 100)
	for i := range lrs {
		lrs[i], losses[i] = float64(i), float64(i)
	}
	losses[50] = math.NaN()
	if l, y := SuggestionCurve(lrs, losses, 100); len(l) != 40 || l[0] != 10 || y[39] != 49 {
		t.Errorf("curve %v", l)
	}
	if l, _ := SuggestionCurve(lrs[:15], losses[:15], 100); len(l) != 0 {
		t.Errorf("a 15-step sweep of 100 kept %d points, want 0", len(l))
	}
}

// TestLRFindThenTrain: a run with the LR finder hands its result to
// OnLRFind before OnStart, and trains exactly as a run given the found
// rate by hand — the finder restores the weights, the
// batch-norm statistics and the random state, and its optimiser is not the
// run's — while the sweep itself did train (its losses change).
func TestLRFindThenTrain(t *testing.T) {
	for _, tc := range []struct {
		name  string
		train TrainSpec
	}{
		{"sgd", TrainSpec{Epochs: 2, Batch: 8, LRDecay: 0.5}},
		{"adamw cosine", TrainSpec{Epochs: 2, Batch: 8, Optimizer: "adamw", Schedule: "cosine", Warmup: 0.2}},
		{"cached features", TrainSpec{Epochs: 2, Batch: 8, Freeze: "all"}},
		{"cached frozen prefix", TrainSpec{Epochs: 2, Batch: 8, Freeze: "2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if testing.Short() && tc.name != "sgd" {
				t.Skip("one case under -short")
			}
			train, val := randomImages(16, 16, 5), randomImages(6, 16, 6)
			spec := RunSpec{Model: ModelSpec{Arch: "resnet18"}, Data: DataSpec{ImageSize: 16}, Train: tc.train, Seed: 7}
			spec.Train.LRFind = &LRFindSpec{Start: 1e-4, End: 10, Iters: 10}
			if tc.train.Freeze != "" { // frozen stages need source weights: a seeded random resnet18's
				spec.Model.Weights = filepath.Join(t.TempDir(), "src.safetensors")
				if err := torch.Do(func() error {
					if err := torch.ManualSeed(11); err != nil {
						return err
					}
					m, err := vision.New("resnet18", 3, gotch.CPU)
					if err != nil {
						return err
					}
					defer m.Close()
					return m.SaveWeights(spec.Model.Weights, nil)
				}); err != nil {
					t.Fatal(err)
				}
			}
			var events []string // the hooks' order
			var told *LRFindResult
			hooks := RunHooks{OnLRFind: func(r *LRFindResult) { events, told = append(events, "lr find"), r },
				OnStart: func(RunStart) { events = append(events, "start") }}
			run := func(s RunSpec) (*RunResult, map[string][]float64) {
				events = nil
				res, err := Run(context.Background(), s, RunEnv{Data: NewData(train, val, 16), KeepModel: true, Hooks: hooks})
				if err != nil {
					t.Fatal(err)
				}
				var w map[string][]float64
				_ = torch.Do(func() error { w = snapshot(res.Model); res.Model.Close(); return nil })
				return res, w
			}
			a, wa := run(spec)
			// The result reaches the caller before training starts.
			if !slices.Equal(events, []string{"lr find", "start"}) || told != a.LRFind {
				t.Errorf("hooks called %v, OnLRFind given %p, want [lr find start] and the run's result %p", events, told, a.LRFind)
			}
			if tc.train.Freeze == "all" && !a.Config.CachedFeatures || tc.train.Freeze == "2" && (a.Config.FrozenCache == nil || !a.Config.FrozenCache.Used) {
				t.Errorf("data path: cached features %v, frozen cache %+v", a.Config.CachedFeatures, a.Config.FrozenCache)
			}
			f := a.LRFind
			if f == nil || len(f.LRs) < 7 || len(f.LRs) > 10 || a.Spec.Train.LR != f.LR || a.Config.LRFind == nil || a.Config.LRFind.LR != f.LR {
				t.Fatalf("lr find %+v, spec lr %g", f, a.Spec.Train.LR)
			}
			if !slices.Contains(f.LRs, f.LR) || slices.Equal(f.Losses, slices.Repeat(f.Losses[:1], len(f.Losses))) {
				t.Errorf("suggested %g from rates %v, losses %v", f.LR, f.LRs, f.Losses)
			}
			for i, lr := range f.LRs {
				if want := 1e-4 * math.Pow(1e5, float64(i)/10); math.Abs(lr-want) > 1e-12*want {
					t.Errorf("rate %d: %g, want %g", i, lr, want)
				}
			}
			byHand := spec
			byHand.Train.LRFind, byHand.Train.LR = nil, f.LR
			_, wb := run(byHand)
			if !slices.Equal(events, []string{"start"}) {
				t.Errorf("without the finder: hooks called %v, want [start]", events)
			}
			var diff []string
			for k := range wa {
				if !slices.Equal(wa[k], wb[k]) {
					diff = append(diff, k)
				}
			}
			if len(diff) > 0 || len(wa) != len(wb) {
				t.Errorf("%d of %d tensors differ from the run at the rate given by hand, e.g. %v", len(diff), len(wa), diff[:min(3, len(diff))])
			}
		})
	}
}

// TestLRFindResume: a run with the LR finder, interrupted after its first
// epoch and resumed, continues at the rate its first part found (no second
// sweep) and ends with the weights of the uninterrupted run.
func TestLRFindResume(t *testing.T) {
	if testing.Short() {
		t.Skip("three runs")
	}
	train, val := randomImages(16, 16, 5), randomImages(6, 16, 6)
	spec := RunSpec{Model: ModelSpec{Arch: "resnet18"}, Data: DataSpec{ImageSize: 16}, Seed: 4,
		Train: TrainSpec{Epochs: 3, Batch: 8, LRFind: &LRFindSpec{Start: 1e-4, End: 10, Iters: 10}}}
	var told *LRFindResult
	run := func(ctx context.Context, s RunSpec, onEpoch func()) (*RunResult, map[string][]float64) {
		told = nil
		hooks := RunHooks{OnLRFind: func(r *LRFindResult) { told = r }, OnEpochEnd: func(Epoch) error {
			if onEpoch != nil {
				onEpoch()
			}
			return nil
		}}
		res, err := Run(ctx, s, RunEnv{Data: NewData(train, val, 16), KeepModel: true, Hooks: hooks})
		if err != nil {
			t.Fatal(err)
		}
		var w map[string][]float64
		_ = torch.Do(func() error { w = snapshot(res.Model); res.Model.Close(); return nil })
		return res, w
	}
	whole, ww := run(context.Background(), spec, nil)
	s := spec
	s.Out = t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	first, _ := run(ctx, s, cancel) // stops after the first epoch
	if !first.Stopped || len(first.Result.Epochs) != 1 || first.Spec.Train.LR != whole.Spec.Train.LR {
		t.Fatalf("interrupted run: stopped %v, %d epochs, lr %g (whole run %g)", first.Stopped, len(first.Result.Epochs), first.Spec.Train.LR, whole.Spec.Train.LR)
	}
	s.Resume = true
	resumed, wr := run(context.Background(), s, nil)
	if resumed.Spec.Train.LR != whole.Spec.Train.LR || resumed.LRFind == nil || len(resumed.LRFind.LRs) != 0 || len(resumed.Result.Epochs) != 2 {
		t.Fatalf("resumed: lr %g, finder %+v, %d epochs", resumed.Spec.Train.LR, resumed.LRFind, len(resumed.Result.Epochs))
	}
	// The resumed run tells its caller the rate it continues with.
	if told == nil || told.LR != whole.Spec.Train.LR || len(told.LRs) != 0 {
		t.Errorf("resumed run's OnLRFind: %+v, want the first part's rate %g without a curve", told, whole.Spec.Train.LR)
	}
	for k := range ww {
		if !slices.Equal(ww[k], wr[k]) {
			t.Fatalf("resumed run's %s differs from the uninterrupted run's", k)
		}
	}
}

// TestLRFindWarnings: a sweep shorter than MinReliableSteps, and one whose
// smoothed loss is lowest at its last step, carry one warning each, naming
// the field to change. The last step's rate is Start·(End/Start)^((n-1)/
// Iters): 1e-7·10^7.2 = 1.58 for the tenth of 10, 1e-7·10^7.92 = 8.32 for
// the hundredth of 100.
func TestLRFindWarnings(t *testing.T) {
	curve := func(n int, f func(i int) float64) []float64 {
		out := make([]float64, n)
		for i := range out {
			out[i] = f(i)
		}
		return out
	}
	falling := func(i int) float64 { return 3 - 0.01*float64(i) }
	valley := func(i int) float64 { return 3 - 0.02*float64(i) + 0.0004*float64(i*i) } // lowest at 25
	for _, tc := range []struct {
		name     string
		iters    int
		smoothed []float64
		diverged bool
		want     []string
	}{
		{"ten steps, still falling", 10, curve(10, falling), false, []string{
			"finetune: Train.LRFind.Iters 10: too few steps for a reliable suggestion; give 20 or more (fastai's default: 100)",
			"finetune: the loss still fell at the end of the sweep (its minimum is at the last step, rate 1.58); raise Train.LRFind.End 10"}},
		{"diverged after 15 steps", 100, append(curve(14, falling), 20), true, []string{
			"finetune: the loss diverged after 15 of 100 steps: too few steps for a reliable suggestion; lower Train.LRFind.End 10"}},
		{"a valley", 100, curve(100, valley), false, nil},
		{"still falling", 100, curve(100, falling), false, []string{
			"finetune: the loss still fell at the end of the sweep (its minimum is at the last step, rate 8.32); raise Train.LRFind.End 10"}},
		{"falling, then diverged at the last step", 30, append(curve(29, falling), 50), true, nil},
		{"twenty steps, minimum before the last", 20, append(curve(19, falling), 2.9), false, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := LRFindSpec{Start: 1e-7, End: 10, Iters: tc.iters, Suggest: "valley"}
			if tc.name == "diverged after 15 steps" { // long enough for a suggestion; 3 steps are not
				r := newLRRecorder(LRFindSpec{Start: 1e-3, End: 1, Iters: 10, Suggest: "valley"})
				for _, l := range []float64{1, 1, 10} {
					r.observe(0, l)
				}
				_, err := r.finish()
				const want = "finetune: lr finder: the loss diverged after 3 of 10 steps, too early for a suggestion (fastai leaves out the first num_it/10 and the last 5 points): lower Train.LRFind.Start 0.001 or Train.LRFind.End 1"
				if err == nil || err.Error() != want {
					t.Errorf("3 of 10 steps: %v, want %s", err, want)
				}
			}
			r := &LRFindResult{Spec: spec, Smoothed: tc.smoothed, Diverged: tc.diverged}
			for i := range tc.smoothed {
				r.LRs = append(r.LRs, spec.rate(i))
			}
			var got []string
			for _, w := range lrFindWarnings(r) {
				got = append(got, w.Error())
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("warnings\n%q\nwant\n%q", got, tc.want)
			}
		})
	}
}

// TestLRFindDistRefused: a data-parallel run (RunEnv.Dist) refuses the LR
// finder before it opens the model (OnOpen is never called; the group is
// never used).
func TestLRFindDistRefused(t *testing.T) {
	spec := RunSpec{Model: ModelSpec{Arch: "resnet18"}, Data: DataSpec{ImageSize: 16}, Device: "cpu", Train: TrainSpec{LRFind: &LRFindSpec{}}}
	opened := false
	env := RunEnv{Dist: &torch.Group{}, Data: NewData(randomImages(4, 16, 1), randomImages(2, 16, 2), 16), Hooks: RunHooks{OnOpen: func(*vision.Opened) { opened = true }}}
	_, err := Run(context.Background(), spec, env)
	const want = "finetune: Train.LRFind (the LR finder) runs in one process: find the rate without a process group, then give it as Train.LR"
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != "Train.LRFind" || err.Error() != want || opened {
		t.Errorf("Run: %v (model opened: %v), want %s before the model opens", err, opened, want)
	}
}
