package chart

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/gtl-dev/gtl/npy"
)

// legendFont is the legends' text size: smaller than the axis labels, so
// that the legend column takes little of the width.
const legendFont = 10

// newLegend returns an empty legend for the column beside a plot.
func newLegend() plot.Legend {
	l := plot.NewLegend()
	l.TextStyle.Font = font.From(plot.DefaultFont, legendFont)
	l.Top, l.Left = true, true
	l.Padding = vg.Points(3)
	l.ThumbnailWidth = vg.Points(16)
	return l
}

// drawFigure draws title, then plots stacked from the top, sharing the
// width, each with its legend in a column to the right of every plot's
// data area, so that no legend covers data; their data areas are aligned.
// It writes the PNG to path atomically.
func drawFigure(path string, w, h int, title string, plots []*plot.Plot, legends []plot.Legend) error {
	c, dc := figureCanvas(w, h, title)
	for i, l := range figureLayout(dc, plots, legends) {
		plots[i].Draw(l.plot)
		if i < len(legends) {
			legends[i].Draw(l.legend)
		}
	}
	return writePNG(path, c)
}

// figureCanvas returns a white w×h-pixel image with title drawn at its
// top, and the area below the title for the plots.
func figureCanvas(w, h int, title string) (*vgimg.Canvas, draw.Canvas) {
	c := vgimg.NewWith(
		vgimg.UseWH(vg.Length(w)*vg.Inch/dpi, vg.Length(h)*vg.Inch/dpi),
		vgimg.UseDPI(dpi),
		vgimg.UseBackgroundColor(color.White),
	)
	dc := draw.New(c)
	m := vg.Points(6) // so that nothing touches the image's edge
	dc = draw.Crop(dc, m, -m, m, -m)
	if title != "" {
		sty := plot.New().Title.TextStyle
		descent := sty.FontExtents().Descent
		dc.FillText(sty, vg.Point{X: dc.Center().X, Y: dc.Max.Y + descent}, title)
		dc.Max.Y -= sty.Rectangle(title).Size().Y + vg.Points(8)
	}
	return c, dc
}

// writePNG encodes c and writes it to path atomically.
func writePNG(path string, c *vgimg.Canvas) error {
	var buf bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: c}).WriteTo(&buf); err != nil {
		return fmt.Errorf("encode png: %w", err)
	}
	return npy.WriteFileAtomic(path, buf.Bytes())
}

// panelLayout is where one plot of a figure is drawn: the plot (axes
// included), its data area, and its legend's area.
type panelLayout struct {
	plot, data, legend draw.Canvas
}

// figureLayout places plots stacked in dc with their data areas aligned,
// and a legend column to the right of the data areas, as wide as the
// widest legend; each legend spans its plot's data area's height.
func figureLayout(dc draw.Canvas, plots []*plot.Plot, legends []plot.Legend) []panelLayout {
	var legendW vg.Length
	for i := range legends {
		if r := legends[i].Rectangle(dc); r.Size().X > legendW {
			legendW = r.Size().X
		}
	}
	plotsC := dc
	if legendW > 0 {
		legendW += vg.Points(12)
		plotsC = draw.Crop(dc, 0, -legendW, 0, 0)
	}
	// What each plot needs around its data area (axes, labels), measured
	// on the whole area: those lengths do not depend on its size.
	type margins struct{ left, right, bottom, top vg.Length }
	ms := make([]margins, len(plots))
	var left, right, around vg.Length
	for i, p := range plots {
		d := p.DataCanvas(plotsC)
		ms[i] = margins{d.Min.X - plotsC.Min.X, plotsC.Max.X - d.Max.X, d.Min.Y - plotsC.Min.Y, plotsC.Max.Y - d.Max.Y}
		left, right = max(left, ms[i].left), max(right, ms[i].right)
		around += ms[i].bottom + ms[i].top
	}
	gap := vg.Points(10)
	// Equal data heights, and data areas aligned left and right.
	dataH := (plotsC.Max.Y - plotsC.Min.Y - around - gap*vg.Length(len(plots)-1)) / vg.Length(len(plots))
	out := make([]panelLayout, len(plots))
	top := plotsC.Max.Y
	for i, p := range plots {
		c := plotsC
		c.Max.Y = top
		c.Min.Y = top - ms[i].top - dataH - ms[i].bottom
		c.Min.X += left - ms[i].left
		c.Max.X -= right - ms[i].right
		top = c.Min.Y - gap
		data := p.DataCanvas(c)
		lc := dc
		lc.Min.X, lc.Max.X = data.Max.X+vg.Points(10), dc.Max.X
		lc.Min.Y, lc.Max.Y = data.Min.Y, data.Max.Y
		out[i] = panelLayout{plot: c, data: data, legend: lc}
	}
	return out
}

// integerTicks labels an axis at whole numbers only (epochs), every 1, 2,
// 5, 10, … so that about ten or fewer are labelled, with unlabelled ticks
// at the whole numbers between when there are few.
type integerTicks struct{}

// Ticks implements plot.Ticker.
func (integerTicks) Ticks(lo, hi float64) []plot.Tick {
	first, last := math.Ceil(lo), math.Floor(hi)
	if last < first {
		return nil
	}
	step := 1.0
	for _, s := range []float64{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000} {
		step = s
		if (last-first)/s <= 10 {
			break
		}
	}
	var ticks []plot.Tick
	for v := first; v <= last && len(ticks) < 1000; v++ {
		t := plot.Tick{Value: v}
		if math.Mod(v, step) == 0 {
			t.Label = strconv.FormatFloat(v, 'f', 0, 64)
		} else if step > 2 {
			continue
		}
		ticks = append(ticks, t)
	}
	return ticks
}

// logTicks labels a log axis at 1, 2 and 5 times powers of ten (only at
// powers of ten over a wide range), with the values written plainly.
type logTicks struct{}

// Ticks implements plot.Ticker.
func (logTicks) Ticks(lo, hi float64) []plot.Tick {
	if !(lo > 0) || !(hi > lo) {
		return []plot.Tick{{Value: lo, Label: strconv.FormatFloat(lo, 'g', 3, 64)}}
	}
	mults := []float64{1, 2, 5}
	if math.Log10(hi/lo) > 4 {
		mults = []float64{1}
	}
	var ticks []plot.Tick
	for e := math.Floor(math.Log10(lo)); e <= math.Ceil(math.Log10(hi)); e++ {
		p := math.Pow(10, e)
		for _, m := range mults {
			v := m * p
			if v >= lo*(1-1e-9) && v <= hi*(1+1e-9) {
				ticks = append(ticks, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'g', 6, 64)})
			}
		}
	}
	if len(ticks) < 2 { // a narrow range: label its ends
		ticks = append(ticks, plot.Tick{Value: lo, Label: strconv.FormatFloat(lo, 'g', 3, 64)}, plot.Tick{Value: hi, Label: strconv.FormatFloat(hi, 'g', 3, 64)})
	}
	return ticks
}

// log10Ticks labels an axis that carries log10 of the values with the
// values, as logTicks places them.
type log10Ticks struct{}

// Ticks implements plot.Ticker.
func (log10Ticks) Ticks(lo, hi float64) []plot.Tick {
	ts := logTicks{}.Ticks(math.Pow(10, lo), math.Pow(10, hi))
	for i := range ts {
		ts[i].Value = math.Log10(ts[i].Value)
	}
	return ts
}
