package chart

import (
	"image/color"
	"math"
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
