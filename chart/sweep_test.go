package chart

import (
	"image/color"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestSweep draws an LR-finder-like curve over eight decades with two
// marks, and refuses what a log axis cannot show.
func TestSweep(t *testing.T) {
	var xs, ys []float64
	for i := 0; i < 90; i++ {
		x := 1e-7 * math.Pow(1e8, float64(i)/90)
		xs, ys = append(xs, x), append(ys, 2.5-math.Exp(-math.Pow(math.Log10(x)+1, 2)))
	}
	ok := SweepChart{Title: "LR finder", XLabel: "learning rate", YLabel: "loss", X: xs, Y: ys,
		Marks: []Mark{{Name: "valley: 0.001", X: 1e-3, Y: 2.3}, {Name: "minimum: 0.01", X: 0.1, Y: 1.5}}}
	r, g, b, _ := seriesColor(0).RGBA()
	ink := color.RGBA{uint8(r >> 8), uint8(g >> 8), uint8(b >> 8), 255}
	for _, tc := range []struct {
		name    string
		c       SweepChart
		wantErr string
	}{
		{"curve", ok, ""},
		{"zero rate", SweepChart{X: []float64{0, 1}, Y: []float64{1, 2}}, "want x > 0"},
		{"nan loss", SweepChart{X: []float64{1, 2}, Y: []float64{1, math.NaN()}}, "NaN or infinite"},
		{"mark off the axis", SweepChart{X: []float64{1, 2}, Y: []float64{1, 2}, Marks: []Mark{{Name: "m", X: -1, Y: 1}}}, `mark "m"`},
		{"lengths", SweepChart{X: []float64{1}, Y: nil}, "want the same number"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			runChart(t, "sweep", func(path string) error { return Sweep(path, tc.c) }, 640, 480, ink, tc.wantErr)
		})
	}
}

// TestSweepTicks: the LR finder's x axis is labelled at powers of ten, at
// most ten of them (every other one over a wider range), and at 2 and 5
// times them only over two decades or less, so that labels never crowd
// ("5e-071e-06" at ten steps); a narrow range has its ends labelled.
func TestSweepTicks(t *testing.T) {
	for _, tc := range []struct {
		name       string
		lo, hi     float64
		labels     string
		unlabelled int
	}{
		{"fastai's default range", 1e-7 / 1.7, 10 * 1.7, "1e-07 1e-06 1e-05 0.0001 0.001 0.01 0.1 1 10", 0},
		{"ten steps: 3.2 decades", 1e-7 / 1.2, 1.6e-4 * 1.2, "1e-07 1e-06 1e-05 0.0001", 6},
		{"two decades", 0.9e-3, 0.11, "0.001 0.002 0.005 0.01 0.02 0.05 0.1", 0},
		{"14 decades", 1e-12, 100, "1e-12 1e-10 1e-08 1e-06 0.0001 0.01 1 100", 7},
		{"narrow", 1.1, 1.5, "1.1 1.5", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var labels []string
			unlabelled := 0
			for _, tk := range (sweepTicks{}).Ticks(tc.lo, tc.hi) {
				if tk.Label == "" {
					unlabelled++
				} else {
					labels = append(labels, tk.Label)
				}
			}
			if got := strings.Join(labels, " "); got != tc.labels || unlabelled != tc.unlabelled {
				t.Errorf("labels %q and %d unlabelled ticks, want %q and %d", got, unlabelled, tc.labels, tc.unlabelled)
			}
		})
	}
}

// TestSweepLegend: the legend goes inside the plot area, in the first
// corner (upper left, upper right, lower left, lower right) the curve and
// the marks leave free; when none is, the y axis grows at the top so that
// it fits above the curve in the upper left.
func TestSweepLegend(t *testing.T) {
	curve := func(n int, f func(l float64) float64) ([]float64, []float64) {
		var xs, ys []float64
		for i := 0; i < n; i++ {
			x := 1e-7 * math.Pow(1e8, float64(i)/float64(n))
			xs, ys = append(xs, x), append(ys, f(math.Log10(x)))
		}
		return xs, ys
	}
	marks := []Mark{{Name: "valley: 0.00145 (used)", X: 1e-3, Y: 2.2}, {Name: "steep: 0.0229", X: 0.02, Y: 1.8}}
	finder := func(l float64) float64 { // flat, falling, then rising far above its start
		y := 2.6 - 1.1/(1+math.Exp(-(l+2.5)*2))
		if l > -0.5 {
			y += 4.5 * (l + 0.5) * (l + 0.5)
		}
		return y
	}
	falling := func(l float64) float64 { return 2.6 - 0.1*(l+7) } // highest at the start
	zigzag := func(l float64) float64 { return 2 + math.Sin(l*20) }
	for _, tc := range []struct {
		name   string
		f      func(float64) float64
		corner string
		raised bool
	}{
		{"lr finder", finder, "upper left", false},
		{"still falling", falling, "upper right", false},
		{"every corner taken", zigzag, "upper left", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			xs, ys := curve(95, tc.f)
			m := marks
			if tc.name != "lr finder" {
				m = []Mark{{Name: "valley", X: xs[40], Y: ys[40]}}
			}
			path := filepath.Join(t.TempDir(), "sweep.png")
			lay, err := sweep(path, SweepChart{Title: "t", XLabel: "x", YLabel: "y", X: xs, Y: ys, Marks: m})
			if err != nil {
				t.Fatal(err)
			}
			top := slices.Max(ys)
			if lay.Corner != tc.corner || lay.Raised != tc.raised || tc.raised != (lay.YMax > top+0.06*(top-slices.Min(ys))) {
				t.Errorf("legend %+v (curve's top %g), want %s, raised %v", lay, top, tc.corner, tc.raised)
			}
		})
	}
}
