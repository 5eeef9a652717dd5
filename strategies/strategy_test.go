package strategies

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gtl-dev/gtl/finetune"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name     string
		transfer bool
		freeze   int
		err      string
	}{
		{"scratch", false, 0, ""},
		{"linear", true, -1, ""},
		{"freeze-2", true, 2, ""},
		{"full", true, 0, ""},
		{"gradual", true, 0, ""},
		{"freeze-0", false, 0, "unknown strategy"},
		{"freeze-x", false, 0, "unknown strategy"},
		{"finetune", false, 0, "unknown strategy"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Parse(tc.name)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || s.Transfer != tc.transfer || s.Freeze != tc.freeze {
				t.Fatalf("got %+v, %v", s, err)
			}
		})
	}
	if _, err := ParseList("linear,full,linear"); err == nil {
		t.Error("a repeated strategy was accepted")
	}
}

func TestResolve(t *testing.T) {
	const stages = 6 // resnet18: stem, layer1-4, head
	for _, tc := range []struct {
		strategy   string
		images     int
		equal      int
		wantFreeze string
		cached     bool
		unfreeze   []int
		minSteps   int
		lr         float64
	}{
		{"scratch", 500, 0, "0", false, nil, 200, 0.05},
		{"linear", 500, 0, "all", true, nil, 300, 0.05},
		{"freeze-2", 500, 0, "2", false, nil, 100, 0.01},
		{"full", 25, 0, "0", false, nil, 100, 0.01},
		{"gradual", 5000, 0, "5", false, []int{0, 1, 2, 3}, 100, 0.01},
	} {
		t.Run(tc.strategy, func(t *testing.T) {
			s, _ := Parse(tc.strategy)
			p, err := s.Resolve(Size{Images: tc.images, Stages: stages}, tc.equal)
			if err != nil {
				t.Fatal(err)
			}
			if p.Freeze != tc.wantFreeze || p.Cached() != tc.cached || p.LR != tc.lr {
				t.Errorf("plan %+v", p)
			}
			perEpoch := max(1, tc.images/p.Batch)
			if p.Steps != p.Epochs*perEpoch || p.Steps < tc.minSteps {
				t.Errorf("steps %d (epochs %d × %d), want ≥ %d", p.Steps, p.Epochs, perEpoch, tc.minSteps)
			}
			if tc.unfreeze != nil {
				// One stage more at each listed epoch, strictly increasing, before the last.
				if len(p.UnfreezeAt) == 0 || !slices.IsSorted(p.UnfreezeAt) || p.UnfreezeAt[len(p.UnfreezeAt)-1] >= p.Epochs || p.UnfreezeAt[0] < 1 {
					t.Errorf("unfreeze at %v over %d epochs", p.UnfreezeAt, p.Epochs)
				}
			}
		})
	}
	s, _ := Parse("freeze-6")
	if _, err := s.Resolve(Size{Images: 10, Stages: stages}, 0); err == nil {
		t.Error("freeze-6 of 6 stages was accepted")
	}
	for _, name := range []string{"scratch", "linear", "full"} {
		s, _ := Parse(name)
		p, _ := s.Resolve(Size{Images: 500, Stages: stages}, 160)
		if p.Steps < 160 || p.Steps >= 160+500/p.Batch {
			t.Errorf("%s with an equal budget of 160 steps: %d", name, p.Steps)
		}
	}
}

func acc(v float64) *float64 { return &v }

func TestTimeTo(t *testing.T) {
	curve := []Point{{Epoch: 1, Seconds: 1, ValAccuracy: acc(0.5)}, {Epoch: 2, Seconds: 2}, {Epoch: 3, Seconds: 3, ValAccuracy: acc(0.9)}, {Epoch: 4, Seconds: 4, ValAccuracy: acc(0.95)}}
	for _, tc := range []struct {
		target float64
		epoch  int
		secs   float64
	}{{0.4, 1, 1}, {0.6, 3, 3}, {0.95, 4, 4}, {0.99, 0, 0}} {
		if e, s := TimeTo(curve, tc.target); e != tc.epoch || s != tc.secs {
			t.Errorf("TimeTo(%g) = %d, %g; want %d, %g", tc.target, e, s, tc.epoch, tc.secs)
		}
	}
}

func testGrid() Grid {
	return Grid{Model: "resnet18", Weights: "src.safetensors", Data: "fashion-mnist", Classes: []string{"a", "b"}, ValImages: 100,
		ImageSize: 32, Strategies: []string{"scratch", "linear"}, Shots: []int{5, All}, Seeds: 2}
}

func TestResultsResumeAndRefusals(t *testing.T) {
	dir := t.TempDir()
	g := testGrid()
	r, err := OpenResults(dir, g, false, false)
	if err != nil || len(r.Runs) != 0 {
		t.Fatalf("fresh folder: %v, %d runs", err, len(r.Runs))
	}
	r.Add(Record{Cell: Cell{"scratch", 5, 1}, Outcome: Outcome{FinalAccuracy: 0.5}})
	if err := r.Save(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenResults(dir, g, false, false); err == nil || !strings.Contains(err.Error(), "--resume") {
		t.Errorf("same grid without --resume: %v", err)
	}
	r2, err := OpenResults(dir, g, true, false)
	if err != nil || len(r2.Runs) != 1 {
		t.Fatalf("resume: %v, %+v", err, r2)
	}
	other := g
	other.Classes = []string{"c", "d"}
	if _, err := OpenResults(dir, other, true, false); !errors.Is(err, ErrDifferentGrid) {
		t.Errorf("different grid with --resume: %v", err)
	}
	// A wider grid (another seed) keeps the finished runs under --resume.
	wider := g
	wider.Seeds = 3
	r4, err := OpenResults(dir, wider, true, false)
	if err != nil || len(r4.Runs) != 1 || len(wider.Cells()) != 12 {
		t.Errorf("wider grid: %v, %d runs, %d cells", err, len(r4.Runs), len(wider.Cells()))
	}
	csv, _ := os.ReadFile(filepath.Join(dir, "results.csv"))
	if !strings.Contains(string(csv), "scratch,5,1,") {
		t.Errorf("results.csv:\n%s", csv)
	}
	// --force (--overwrite) discards them, files included.
	r3, err := OpenResults(dir, other, false, true)
	if err != nil || len(r3.Runs) != 0 {
		t.Errorf("--force: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "results.json")); !os.IsNotExist(err) {
		t.Errorf("--force kept results.json: %v", err)
	}
}

func TestSummariesAndBest(t *testing.T) {
	r := &Results{Grid: testGrid()}
	for seed, a := range map[uint64][2]float64{1: {0.50, 0.70}, 2: {0.60, 0.72}} {
		curve := []Point{{Epoch: 1, Seconds: 1, ValAccuracy: acc(a[0] / 2)}, {Epoch: 2, Seconds: 2, ValAccuracy: acc(a[0])}}
		r.Add(Record{Cell: Cell{"scratch", 5, seed}, Outcome: Outcome{FinalAccuracy: a[0], Curve: curve}})
		r.Add(Record{Cell: Cell{"linear", 5, seed}, Outcome: Outcome{FinalAccuracy: a[1], Curve: curve}})
		r.Add(Record{Cell: Cell{"scratch", All, seed}, Outcome: Outcome{FinalAccuracy: 0.90 + float64(seed)/100, TrainImages: 1000}})
		r.Add(Record{Cell: Cell{"linear", All, seed}, Outcome: Outcome{FinalAccuracy: 0.91}})
	}
	r.Add(Record{Cell: Cell{"full", 5, 1}, Outcome: Outcome{FinalAccuracy: 1}}) // not in the grid
	sums := r.Summaries()
	if len(sums) != 4 {
		t.Fatalf("%d summaries", len(sums))
	}
	s := sums[0]
	if s.Strategy != "scratch" || s.Shots != 5 || math.Abs(s.Accuracy.Mean-0.55) > 1e-9 || math.Abs(s.Accuracy.Std-math.Sqrt(0.005)) > 1e-9 {
		t.Errorf("scratch at 5 shots: %+v", s)
	}
	if best, tied := r.Best(5); best != "linear" || len(tied) != 0 {
		t.Errorf("best at 5 shots: %s %v", best, tied)
	}
	if best, tied := r.Best(All); best != "scratch" || !slices.Equal(tied, []string{"linear"}) {
		t.Errorf("best with all images: %s %v", best, tied)
	}
	if md := r.Markdown(); !strings.Contains(md, "| linear | 71.0 ± 1.4% |") {
		t.Errorf("report:\n%s", md)
	}
	dir := t.TempDir()
	if err := WriteReport(dir, r); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{PlotAccuracy, PlotTimeTo95, "curves-5.png", "report.md"} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	page, _ := os.ReadFile(filepath.Join(dir, "report.html"))
	if n := strings.Count(string(page), "src=\"data:image/png;base64,"); n != 3 {
		t.Errorf("report.html embeds %d plots, want 3 (accuracy, time, curves at 5 shots)", n)
	}
}

func TestPlace(t *testing.T) {
	for _, tc := range []struct {
		perClass int
		gain     float64
		want     string
	}{
		{20, 0.8, "linear"},
		{20, 0.1, "freeze-2"},
		{LargePerClass, 0.8, "freeze-3"},
		{LargePerClass * 10, SimilarGain - 0.01, "full"},
		{20, -0.5, "scratch"},
		{LargePerClass, UnrelatedGain - 0.01, "scratch"},
	} {
		p := Place(&Measurement{PerClass: tc.perClass, Gain: tc.gain}, 6)
		if p.Strategy != tc.want || p.Reason == "" {
			t.Errorf("%d per class, gain %.2f: %s (%s), want %s", tc.perClass, tc.gain, p.Strategy, p.Reason, tc.want)
		}
		if _, err := Parse(p.Strategy); err != nil {
			t.Error(err)
		}
	}
}

func TestConvergence(t *testing.T) {
	g := testGrid()
	g.Shots = []int{5}
	r := &Results{Grid: g}
	plan := Plan{TrainSpec: finetune.TrainSpec{Epochs: 4}, Steps: 40} // 10 steps an epoch
	curve := func(accs ...float64) []Point {
		var c []Point
		for i, a := range accs {
			p := Point{Epoch: i + 1, Seconds: float64(i+1) * 1.5}
			if a >= 0 {
				p.ValAccuracy = acc(a)
			}
			c = append(c, p)
		}
		return c
	}
	// linear's mean final accuracy is 0.9, so the target is 0.81.
	r.Add(Record{Cell: Cell{"linear", 5, 1}, Plan: plan, Outcome: Outcome{FinalAccuracy: 0.90, Curve: curve(0.5, 0.82, 0.85, 0.90)}})
	r.Add(Record{Cell: Cell{"linear", 5, 2}, Plan: plan, Outcome: Outcome{FinalAccuracy: 0.90, Curve: curve(0.81, -1, 0.88, 0.90)}})
	// scratch: seed 1 reaches 0.81 at epoch 4 (the unvalidated epoch 3 does not count), seed 2 never.
	r.Add(Record{Cell: Cell{"scratch", 5, 1}, Plan: plan, Outcome: Outcome{FinalAccuracy: 0.85, Curve: curve(0.2, 0.5, -1, 0.85)}})
	r.Add(Record{Cell: Cell{"scratch", 5, 2}, Plan: plan, Outcome: Outcome{FinalAccuracy: 0.70, Curve: curve(0.2, 0.5, 0.6, 0.70)}})
	sums := r.Summaries()
	if len(sums) != 2 {
		t.Fatalf("%d summaries", len(sums))
	}
	for _, tc := range []struct {
		i           int
		strategy    string
		reached     int
		steps, secs float64
		cell        string
	}{
		{0, "scratch", 1, 40, 6, "40 steps (6.0 s), 1/2 seeds"},
		{1, "linear", 2, 15, 2.25, "15 steps (2.2 s)"},
	} {
		s := sums[tc.i]
		if s.Strategy != tc.strategy || math.Abs(s.Target-0.81) > 1e-9 || s.Reached != tc.reached ||
			math.Abs(s.StepsToTarget.Mean-tc.steps) > 1e-9 || math.Abs(s.SecondsToTarget.Mean-tc.secs) > 1e-9 {
			t.Errorf("%s: %+v", tc.strategy, s)
		}
		if c := ConvergenceCell(s); c != tc.cell {
			t.Errorf("%s: cell %q, want %q", tc.strategy, c, tc.cell)
		}
	}
	if c := ConvergenceCell(Summary{Accuracy: Stat{N: 2}}); c != "–" {
		t.Errorf("none reached: %q", c)
	}
	if md := r.Markdown(); !strings.Contains(md, "| scratch | 40 steps (6.0 s), 1/2 seeds |") || !strings.Contains(md, "5 per class: 81.0%") {
		t.Errorf("report:\n%s", md)
	}
	// results.json carries the summaries, with null for what has no value.
	dir := t.TempDir()
	r.Add(Record{Cell: Cell{"linear", 5, 3}, Plan: plan, Outcome: Outcome{FinalAccuracy: 0.1}}) // outside the grid (2 seeds)
	g2 := r.Grid
	g2.Strategies = []string{"scratch", "linear", "full"}
	r.Grid = g2
	if err := r.Save(dir); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "results.json"))
	var back struct {
		Summary []struct {
			Strategy string  `json:"strategy"`
			Target   float64 `json:"target_accuracy"`
			Steps    struct {
				Mean *float64 `json:"mean"`
				N    int      `json:"n"`
			} `json:"steps_to_target"`
		} `json:"summary"`
	}
	if err := json.Unmarshal(b, &back); err != nil || len(back.Summary) != 2 || back.Summary[1].Steps.Mean == nil || *back.Summary[1].Steps.Mean != 15 {
		t.Fatalf("results.json summary: %v %s", err, b)
	}
}

func TestStepsToNotReached(t *testing.T) {
	r := &Results{Grid: testGrid()}
	r.Add(Record{Cell: Cell{"scratch", 5, 1}, Plan: Plan{TrainSpec: finetune.TrainSpec{Epochs: 2}, Steps: 8}, Outcome: Outcome{FinalAccuracy: 0.5,
		Curve: []Point{{Epoch: 1, ValAccuracy: acc(0.2)}, {Epoch: 2, ValAccuracy: acc(0.5)}}}})
	s := r.Summaries()[0]
	if s.Reached != 1 || s.StepsToTarget.Mean != 8 {
		t.Errorf("%+v", s)
	}
	if n, _, ok := StepsTo([]Point{{Epoch: 1, ValAccuracy: acc(0.2)}}, 5, 0.3); ok || n != 0 {
		t.Errorf("StepsTo on an unreached target: %d %v", n, ok)
	}
	b, err := json.Marshal(Stat{Mean: math.NaN(), Std: math.NaN()})
	if err != nil || string(b) != `{"mean":null,"n":0,"std":null}` {
		t.Errorf("NaN stat: %s %v", b, err)
	}
}

func TestFolds(t *testing.T) {
	for _, tc := range []struct {
		perClass, folds, fit, score int
	}{
		{5, 5, 8, 2},      // leave-one-out per class: 2 classes × 4 fit, 1 scored
		{4, 4, 6, 2},      //
		{20, 1, 28, 12},   // 70/30 from CVPerClass on
		{100, 1, 140, 60}, //
	} {
		var labels, idx []int
		for c := 0; c < 2; c++ {
			for i := 0; i < tc.perClass; i++ {
				idx = append(idx, len(labels))
				labels = append(labels, c)
			}
		}
		labels = append(labels, 0) // an image not in idx is never used
		f := Folds(labels, 2, idx, 3)
		if len(f) != tc.folds {
			t.Fatalf("%d per class: %d folds, want %d", tc.perClass, len(f), tc.folds)
		}
		scored := map[int]int{}
		for _, sp := range f {
			if len(sp[0]) != tc.fit || len(sp[1]) != tc.score {
				t.Errorf("%d per class: fit %d score %d, want %d %d", tc.perClass, len(sp[0]), len(sp[1]), tc.fit, tc.score)
			}
			perClass := map[int]int{}
			for _, i := range sp[1] {
				scored[i]++
				perClass[labels[i]]++
			}
			if perClass[0] != perClass[1] {
				t.Errorf("%d per class: unbalanced score set %v", tc.perClass, perClass)
			}
			for _, i := range sp[0] {
				if slices.Contains(sp[1], i) || i == len(labels)-1 {
					t.Errorf("%d per class: image %d both fitted and scored, or outside idx", tc.perClass, i)
				}
			}
		}
		if tc.folds > 1 && len(scored) != len(idx) {
			t.Errorf("%d per class: cross-validation scored %d of %d images", tc.perClass, len(scored), len(idx))
		}
	}
}
