package strategies

import (
	"bytes"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
)

// grid2 is a grid of strategies a and b at one size, evaluated on val
// images, with the given final accuracies by seed (1, 2, …).
func grid2(val int, a, b []float64) *Results {
	g := Grid{Model: "resnet18", Data: "d", Classes: []string{"x", "y"}, ValImages: val, Strategies: []string{"a", "b"}, Shots: []int{5}, Seeds: max(len(a), len(b))}
	r := &Results{Grid: g}
	for i, v := range a {
		r.Add(Record{Cell: Cell{"a", 5, uint64(i + 1)}, Outcome: Outcome{FinalAccuracy: v}})
	}
	for i, v := range b {
		r.Add(Record{Cell: Cell{"b", 5, uint64(i + 1)}, Outcome: Outcome{FinalAccuracy: v}})
	}
	return r
}

func TestVerdict(t *testing.T) {
	tests := []struct {
		name string
		r    *Results
		best string
		tied []string
		text string
	}{
		// The case: one seed, 62 against 60 right of 72 images.
		{"one seed, two images apart", grid2(72, []float64{62.0 / 72}, []float64{60.0 / 72}), "", []string{"a", "b"},
			"tie within noise: a, b (2.8 points apart, noise 6.0)"},
		{"one seed, far apart", grid2(1000, []float64{0.9}, []float64{0.6}), "a", nil, "a (ahead by 30.0 points, noise 1.8)"},
		// Seeds disagree on the level but agree on the order: paired over
		// seeds, b's 3-point lead is clear; the spread of either alone
		// (10 points) would call it a tie.
		{"paired over seeds", grid2(10000, []float64{0.60, 0.70, 0.80}, []float64{0.63, 0.731, 0.829}), "b", nil, "b (ahead by 3.0 points, noise 0.6)"},
		// The same means, but the order changes from seed to seed.
		{"inconsistent over seeds", grid2(10000, []float64{0.60, 0.70, 0.80}, []float64{0.70, 0.80, 0.689}), "", []string{"b", "a"},
			"tie within noise: b, a (3.0 points apart, noise 12.2)"},
		{"one strategy", grid2(100, []float64{0.5}, nil), "a", nil, "a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := tt.r.Verdict(5)
			if v.Best != tt.best || !slices.Equal(v.Tied, tt.tied) || v.String() != tt.text {
				t.Errorf("verdict %+v %q, want best %q tied %v %q", v, v.String(), tt.best, tt.tied, tt.text)
			}
			best, tied := tt.r.Best(5)
			if tt.best != "" && (best != tt.best || len(tied) != 0) || tt.best == "" && (best != tt.tied[0] || !slices.Equal(tied, tt.tied[1:])) {
				t.Errorf("Best = %q %v", best, tied)
			}
		})
	}
}

func TestPairNoise(t *testing.T) {
	r := grid2(100, []float64{0.5, 0.7}, []float64{0.4, 0.4})
	// diffs 0.1 and 0.3: std 0.1414; evaluation: sqrt(.6·.4/100 + .4·.6/100) = 0.0693.
	if got := r.PairNoise("a", "b", 5); math.Abs(got-math.Sqrt(0.02)) > 1e-12 {
		t.Errorf("PairNoise = %v, want %v", got, math.Sqrt(0.02))
	}
	r = grid2(100, []float64{0.6}, []float64{0.4})
	if got := r.PairNoise("a", "b", 5); math.Abs(got-math.Sqrt(0.0048)) > 1e-12 {
		t.Errorf("one seed: PairNoise = %v, want %v", got, math.Sqrt(0.0048))
	}
}

func TestFormatAccuracy(t *testing.T) {
	for _, tt := range []struct {
		s    Stat
		want string
	}{
		{Stat{Mean: 0.861, N: 1}, "86.1% (1 seed)"},
		{Stat{Mean: 0.861, Std: 0.004, N: 3}, "86.1 ± 0.4%"},
		{Stat{Mean: 0.861, N: 2}, "86.1 ± 0.0%"}, // two seeds that agree: a measured spread of zero
	} {
		if got := FormatAccuracy(tt.s); got != tt.want {
			t.Errorf("FormatAccuracy(%+v) = %q, want %q", tt.s, got, tt.want)
		}
	}
}

// TestResumeRefusesNarrowerGrid: --resume with a grid that leaves out
// finished runs is refused (its report would omit them); the runs are
// named.
func TestResumeRefusesNarrowerGrid(t *testing.T) {
	dir := t.TempDir()
	g := testGrid()
	r, _ := OpenResults(dir, g, false, false)
	r.Add(Record{Cell: Cell{"scratch", 5, 1}, Outcome: Outcome{FinalAccuracy: 0.5}})
	r.Add(Record{Cell: Cell{"linear", 5, 2}, Outcome: Outcome{FinalAccuracy: 0.6}})
	if err := r.Save(dir); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		change func(*Grid)
		want   string
	}{
		{"fewer strategies", func(g *Grid) { g.Strategies = []string{"linear"} },
			"1 finished run is not in this grid (scratch, 5 shots, seed 1; it was --strategies scratch,linear --shots 5,all --seeds 2)"},
		{"fewer seeds", func(g *Grid) { g.Seeds = 1 }, "(linear, 5 shots, seed 2; it was"},
		{"other shots", func(g *Grid) { g.Shots = []int{10} }, "2 finished runs are not in this grid (scratch, 5 shots, seed 1; linear, 5 shots, seed 2;"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := testGrid()
			tt.change(&o)
			_, err := OpenResults(dir, o, true, false)
			if !errors.Is(err, ErrDifferentGrid) || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "--overwrite") {
				t.Errorf("err %v, want %q", err, tt.want)
			}
		})
	}
	wider := testGrid()
	wider.Strategies = append(wider.Strategies, "full")
	if r, err := OpenResults(dir, wider, true, false); err != nil || len(r.Runs) != 2 {
		t.Errorf("a grid that adds to the finished one: %v", err)
	}
	if _, err := OpenResults(dir, testGrid(), false, true); err != nil {
		t.Errorf("--force: %v", err)
	}
}

// TestReportCoversEveryRun: the report says how many runs finished and
// names each diverged one.
func TestReportCoversEveryRun(t *testing.T) {
	r := &Results{Grid: testGrid()}
	r.Add(Record{Cell: Cell{"scratch", 5, 1}, Outcome: Outcome{FinalAccuracy: 0.6}})
	r.Add(Record{Cell: Cell{"linear", 5, 1}, Outcome: Outcome{FinalAccuracy: 0.8}})
	r.Add(Record{Cell: Cell{"scratch", 5, 2}, Diverged: "finetune: diverged at epoch 2 step 3: loss is NaN"})
	md := r.Markdown()
	for _, want := range []string{
		"3 of the grid's 8 runs finished; 1 diverged and are left out of the numbers above:\n\n- scratch, 5 shots, seed 2: finetune: diverged at epoch 2 step 3: loss is NaN\n",
		"| scratch | 60.0% (1 seed) |",
		"- 5 per class: **linear** (ahead by 20.0 points, noise 6.3)",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
	if strings.Contains(md, "± 0.0") {
		t.Errorf("a single seed shown with a spread:\n%s", md)
	}
}

func TestWriteSummary(t *testing.T) {
	r := grid2(72, []float64{62.0 / 72}, []float64{60.0 / 72})
	var b bytes.Buffer
	r.WriteSummary(&b)
	want := "accuracy      5 per class\n" +
		"a          86.1% (1 seed)\n" +
		"b          83.3% (1 seed)\n" +
		"best at 5 per class: tie within noise: a, b (2.8 points apart, noise 6.0)\n"
	if b.String() != want {
		t.Errorf("summary:\n%s\nwant:\n%s", b.String(), want)
	}
	// A multi-label grid is compared by mAP, and says so.
	r.Grid.MultiLabel = true
	b.Reset()
	r.WriteSummary(&b)
	if !strings.HasPrefix(b.String(), "mAP           5 per class\n") {
		t.Errorf("multi-label summary:\n%s", b.String())
	}
	md := r.Markdown()
	for _, want := range []string{"## Final mAP (mean", "## Final macro recall (mean recall", "leads every other's", "best mAP (mean)"} {
		if !strings.Contains(md, want) {
			t.Errorf("multi-label report lacks %q:\n%s", want, md)
		}
	}
	if strings.Contains(md, "accuracy") {
		t.Errorf("multi-label report speaks of accuracy:\n%s", md)
	}
}
