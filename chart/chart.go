package chart

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/gtl-dev/gtl/npy"
)

// Default chart size in pixels.
const (
	DefaultWidth  = 640
	DefaultHeight = 480
)

// dpi is the resolution charts are drawn at: 96 keeps gonum/plot's point
// sizes (10 pt ticks, 12 pt labels) readable at 640×480 pixels.
const dpi = 96

// palette is the series colours: Okabe and Ito's colour-blind-safe set.
var palette = []color.RGBA{
	{0, 114, 178, 255},   // blue
	{230, 159, 0, 255},   // orange
	{0, 158, 115, 255},   // green
	{204, 121, 167, 255}, // purple
	{86, 180, 233, 255},  // sky blue
	{213, 94, 0, 255},    // vermillion
	{240, 228, 66, 255},  // yellow
	{0, 0, 0, 255},       // black
}

// seriesColor is the i-th series' colour; colours repeat after eight.
func seriesColor(i int) color.Color { return palette[i%len(palette)] }

// size resolves a chart's pixel size: zero means the default.
func size(w, h int) (int, int, error) {
	if w == 0 {
		w = DefaultWidth
	}
	if h == 0 {
		h = DefaultHeight
	}
	if w < 100 || h < 100 || w > 10000 || h > 10000 {
		return 0, 0, fmt.Errorf("size %d×%d pixels: want 100..10000 each", w, h)
	}
	return w, h, nil
}

// save draws p at w×h pixels and writes it to path as PNG, atomically.
func save(p *plot.Plot, path string, w, h int) error {
	c := vgimg.NewWith(
		vgimg.UseWH(vg.Length(w)*vg.Inch/dpi, vg.Length(h)*vg.Inch/dpi),
		vgimg.UseDPI(dpi),
		vgimg.UseBackgroundColor(color.White),
	)
	dc := draw.New(c)
	m := vg.Points(6) // so that nothing touches the image's edge
	p.Draw(draw.Crop(dc, m, -m, m, -m))
	var buf bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: c}).WriteTo(&buf); err != nil {
		return fmt.Errorf("encode png: %w", err)
	}
	return npy.WriteFileAtomic(path, buf.Bytes())
}

// finite reports whether every value in xs is a finite number.
func finite(xs []float64) bool {
	for _, x := range xs {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return false
		}
	}
	return true
}

// newPlot makes a plot with the title and axis labels set and a light grid
// behind the data.
func newPlot(title, xLabel, yLabel string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = xLabel
	p.Y.Label.Text = yLabel
	p.Title.Padding = vg.Points(6)
	return p
}

// niceTicks labels an axis at 1, 2 or 5 times a power of ten, about six
// labels over the range, and marks minor ticks halfway between them.
type niceTicks struct{}

// Ticks implements plot.Ticker.
func (niceTicks) Ticks(lo, hi float64) []plot.Tick {
	// A range within rounding of its values (e.g. every run of a grid at
	// 20%, one of them 20.000000000000004) is flat: its steps would be too
	// small to move k below.
	if !(hi > lo) || hi-lo <= 1e-9*max(math.Abs(lo), math.Abs(hi)) {
		return []plot.Tick{{Value: lo, Label: strconv.FormatFloat(lo, 'g', 6, 64)}}
	}
	raw := (hi - lo) / 6
	pow := math.Pow(10, math.Floor(math.Log10(raw)))
	step := pow * 10
	for _, m := range []float64{1, 2, 5} {
		if m*pow >= raw {
			step = m * pow
			break
		}
	}
	decimals := max(0, int(-math.Floor(math.Log10(step)+1e-9)))
	var ticks []plot.Tick
	k0 := math.Ceil(lo/step - 0.5)
	for i := 0; i < 64; i++ { // about 13 half steps; the bound keeps any rounding from looping
		k := k0 + 0.5*float64(i)
		if k*step > hi+step/2 {
			break
		}
		v := k * step
		if v < lo-step*1e-9 || v > hi+step*1e-9 {
			continue
		}
		t := plot.Tick{Value: v}
		if k == math.Trunc(k) {
			t.Label = strconv.FormatFloat(v, 'f', decimals, 64)
			if t.Label == "-"+strconv.FormatFloat(0, 'f', decimals, 64) {
				t.Label = t.Label[1:]
			}
		}
		ticks = append(ticks, t)
	}
	return ticks
}
