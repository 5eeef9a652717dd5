package chart

import (
	"fmt"
	"image/color"
	"math"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// SweepChart is one curve over a log x axis with named points marked on
// it, such as an LR finder's loss against the learning rate with its
// suggestions. The zero value of each option means its default.
type SweepChart struct {
	Title, XLabel, YLabel string
	// X and Y are the curve's points (every x > 0), at least one.
	X, Y []float64
	// Marks are points drawn over the curve, each in its own colour and
	// named in the legend with its name.
	Marks []Mark
	// Width and Height are the image size in pixels; default 640×480.
	Width, Height int
}

// Mark is a named point of a SweepChart.
type Mark struct {
	Name string
	X, Y float64
}

// Sweep draws c to path as a PNG. The x axis is logarithmic, labelled at
// powers of ten (every k-th over more than ten decades, and at 2 and 5
// times them over 2.5 decades or less) so that labels never crowd. The
// legend sits inside the plot area, in the first corner of upper-left,
// upper-right, lower-left and lower-right that no point of the curve or
// mark falls in; when none is free, the y axis grows at the top to make
// room for it in the upper left.
func Sweep(path string, c SweepChart) error {
	if _, err := sweep(path, c); err != nil {
		return fmt.Errorf("chart: sweep %s: %w", path, err)
	}
	return nil
}

// sweepLayout is where sweep put the legend: its corner ("upper left",
// "upper right", "lower left", "lower right") and whether the y axis grew
// to make room for it (its top, YMax, then above the data's).
type sweepLayout struct {
	Corner string
	Raised bool
	YMax   float64
}

func sweep(path string, c SweepChart) (sweepLayout, error) {
	var lay sweepLayout
	w, h, err := size(c.Width, c.Height)
	if err != nil {
		return lay, err
	}
	if len(c.X) != len(c.Y) || len(c.X) == 0 {
		return lay, fmt.Errorf("%d x values and %d y values, want the same number, at least one", len(c.X), len(c.Y))
	}
	if !finite(c.X) || !finite(c.Y) {
		return lay, fmt.Errorf("NaN or infinite value")
	}
	xmin, xmax := math.Inf(1), math.Inf(-1)
	ymin, ymax := math.Inf(1), math.Inf(-1)
	xys := make(plotter.XYs, len(c.X))
	add := func(x, y float64) error {
		if !(x > 0) || math.IsInf(x, 0) || math.IsNaN(y) || math.IsInf(y, 0) {
			return fmt.Errorf("point (%g, %g): want x > 0 on the log axis and a finite y", x, y)
		}
		xmin, xmax, ymin, ymax = math.Min(xmin, x), math.Max(xmax, x), math.Min(ymin, y), math.Max(ymax, y)
		return nil
	}
	for i := range c.X {
		if err := add(c.X[i], c.Y[i]); err != nil {
			return lay, err
		}
		xys[i] = plotter.XY{X: c.X[i], Y: c.Y[i]}
	}
	p := newPlot("", c.XLabel, c.YLabel)
	g := plotter.NewGrid()
	g.Vertical.Color, g.Horizontal.Color = gridColor, gridColor
	p.Add(g)
	leg := newLegend()
	line, err := plotter.NewLine(xys)
	if err != nil {
		return lay, err
	}
	line.Color, line.Width = seriesColor(0), vg.Points(1.5)
	p.Add(line)
	leg.Add("loss", line)
	for i, m := range c.Marks {
		if err := add(m.X, m.Y); err != nil {
			return lay, fmt.Errorf("mark %q: %w", m.Name, err)
		}
		pts, err := plotter.NewScatter(plotter.XYs{{X: m.X, Y: m.Y}})
		if err != nil {
			return lay, err
		}
		pts.Color, pts.Shape, pts.Radius = seriesColor(i+1), markers[(i+1)%len(markers)], vg.Points(5)
		p.Add(pts)
		leg.Add(m.Name, pts)
	}
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = sweepTicks{}
	r := math.Pow(xmax/xmin, 0.03)
	if xmax == xmin {
		r = 2
	}
	p.X.Min, p.X.Max = xmin/r, xmax*r
	pad := (ymax - ymin) * 0.05
	if pad == 0 {
		pad = math.Max(math.Abs(ymax)*0.1, 1)
	}
	p.Y.Min, p.Y.Max = ymin-pad, ymax+pad
	p.Y.Tick.Marker = niceTicks{}
	img, dc := figureCanvas(w, h, c.Title)
	var pts []vg.Point // what the legend must not cover, in data units for now
	for i := range c.X {
		pts = append(pts, vg.Point{X: vg.Length(c.X[i]), Y: vg.Length(c.Y[i])})
	}
	var marks []vg.Point
	for _, m := range c.Marks {
		marks = append(marks, vg.Point{X: vg.Length(m.X), Y: vg.Length(m.Y)})
	}
	data := p.DataCanvas(dc)
	box, corner, ok := legendCorner(p, data, leg, pts, marks)
	lay.Corner = corner
	if !ok { // no free corner: room above the curve for the legend, upper left
		size := legendSize(leg, data)
		hgt := float64(data.Max.Y - data.Min.Y)
		free := hgt - float64(size.Y+2*legendInset)
		if free > hgt/4 {
			p.Y.Max = p.Y.Min + (p.Y.Max-p.Y.Min)*hgt/free
		}
		data = p.DataCanvas(dc)
		box = legendBox(data, size, true, true)
		lay.Corner, lay.Raised = "upper left", true
	}
	lay.YMax = p.Y.Max
	p.Draw(dc)
	data.FillPolygon(color.White, []vg.Point{box.Min, {X: box.Max.X, Y: box.Min.Y}, box.Max, {X: box.Min.X, Y: box.Max.Y}})
	leg.Left, leg.Top = true, true
	leg.Draw(draw.Crop(draw.Canvas{Canvas: data.Canvas, Rectangle: box}, legendPad, -legendPad, legendPad, -legendPad))
	return lay, writePNG(path, img)
}

// The legend's inset from the data area's edges and its padding inside
// its white box.
const (
	legendInset = vg.Length(4)
	legendPad   = vg.Length(3)
)

// legendSize is the size of the legend's box, padding included.
func legendSize(leg plot.Legend, c draw.Canvas) vg.Point {
	s := leg.Rectangle(c).Size()
	return vg.Point{X: s.X + 2*legendPad, Y: s.Y + 2*legendPad}
}

// legendBox places a box of size in a corner of the data area.
func legendBox(data draw.Canvas, size vg.Point, top, left bool) vg.Rectangle {
	var r vg.Rectangle
	if left {
		r.Min.X = data.Min.X + legendInset
	} else {
		r.Min.X = data.Max.X - legendInset - size.X
	}
	if top {
		r.Min.Y = data.Max.Y - legendInset - size.Y
	} else {
		r.Min.Y = data.Min.Y + legendInset
	}
	r.Max = r.Min.Add(size)
	return r
}

// legendCorner returns the legend's box in the first corner of the data
// area (upper left, upper right, lower left, lower right) that the curve
// (pts, data units, joined by lines) and the marks (drawn 5 pt wide)
// leave free.
func legendCorner(p *plot.Plot, data draw.Canvas, leg plot.Legend, pts, marks []vg.Point) (vg.Rectangle, string, bool) {
	fx, fy := p.Transforms(&data)
	at := func(q vg.Point) vg.Point { return vg.Point{X: fx(float64(q.X)), Y: fy(float64(q.Y))} }
	size := legendSize(leg, data)
	for i, corner := range [][2]bool{{true, true}, {true, false}, {false, true}, {false, false}} {
		box := legendBox(data, size, corner[0], corner[1])
		hit := func(q vg.Point, r vg.Length) bool {
			return q.X >= box.Min.X-r && q.X <= box.Max.X+r && q.Y >= box.Min.Y-r && q.Y <= box.Max.Y+r
		}
		free := true
		for _, m := range marks {
			free = free && !hit(at(m), vg.Points(6))
		}
		for i := 0; free && i < len(pts); i++ {
			a := at(pts[i])
			b := a
			if i+1 < len(pts) {
				b = at(pts[i+1])
			}
			for k := 0; k <= 16 && free; k++ { // along the segment to the next point
				t := vg.Length(k) / 16
				free = !hit(vg.Point{X: a.X + t*(b.X-a.X), Y: a.Y + t*(b.Y-a.Y)}, vg.Points(2))
			}
		}
		if free {
			return box, []string{"upper left", "upper right", "lower left", "lower right"}[i], true
		}
	}
	return vg.Rectangle{}, "", false
}

// sweepTicks labels a log axis at powers of ten, every k-th so that at most
// ten are labelled (the others ticked without a label), and over 2.5
// decades or less also at 2 and 5 times them (ticked without a label over
// up to 4 decades): labels at least 0.3 decade apart.
type sweepTicks struct{}

// Ticks implements plot.Ticker.
func (sweepTicks) Ticks(lo, hi float64) []plot.Tick {
	if !(lo > 0) || !(hi > lo) {
		return []plot.Tick{{Value: lo, Label: strconv.FormatFloat(lo, 'g', 3, 64)}}
	}
	decades := math.Log10(hi / lo)
	first, last := math.Ceil(math.Log10(lo)-1e-9), math.Floor(math.Log10(hi)+1e-9)
	every := math.Max(1, math.Ceil((last-first+1)/10))
	var ticks []plot.Tick
	for e := math.Floor(math.Log10(lo)); e <= math.Ceil(math.Log10(hi)); e++ {
		for _, m := range []float64{1, 2, 5} {
			v := m * math.Pow(10, e)
			if v < lo*(1-1e-9) || v > hi*(1+1e-9) {
				continue
			}
			t := plot.Tick{Value: v}
			if m == 1 && math.Mod(e-first, every) == 0 || m != 1 && decades <= 2.5 {
				t.Label = strconv.FormatFloat(v, 'g', 6, 64)
			} else if m != 1 && decades > 4 {
				continue
			}
			ticks = append(ticks, t)
		}
	}
	labelled := 0
	for _, t := range ticks {
		if t.Label != "" {
			labelled++
		}
	}
	if labelled < 2 { // a narrow range: label its ends
		ticks = append(ticks, plot.Tick{Value: lo, Label: strconv.FormatFloat(lo, 'g', 3, 64)}, plot.Tick{Value: hi, Label: strconv.FormatFloat(hi, 'g', 3, 64)})
	}
	return ticks
}
