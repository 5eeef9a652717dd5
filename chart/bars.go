package chart

import (
	"fmt"
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// gridColor is the colour of the background grid lines.
var gridColor = color.Gray{Y: 220}

// BarSeries is one named set of bars of a BarChart: one bar per group.
type BarSeries struct {
	// Name is the series' legend entry.
	Name string
	// Values are the bar heights, one per group; NaN draws no bar (for
	// example a strategy that never reached the target accuracy).
	Values []float64
	// Err, when set, draws an error bar of ±Err[i] on each bar (for
	// example the standard deviation over seeds; NaN or 0: none); same
	// length as Values.
	Err []float64
}

// BarChart is a grouped bar chart, such as time to a target accuracy per
// strategy (series) for each training-set size (groups). The y axis starts
// at zero (or below, for negative values), and the legend is drawn beside
// the plot. The zero value of each option means its default.
type BarChart struct {
	// Title, XLabel and YLabel are the chart's title and axis labels.
	Title, XLabel, YLabel string
	// Groups label the positions along the x axis; at least one.
	Groups []string
	// Series are drawn side by side within each group, each in its own
	// colour; at least one.
	Series []BarSeries
	// Width and Height are the image size in pixels; default 640×480.
	Width, Height int
}

// Bars draws c to path as a PNG.
func Bars(path string, c BarChart) error {
	if err := bars(path, c); err != nil {
		return fmt.Errorf("chart: bars %s: %w", path, err)
	}
	return nil
}

func bars(path string, c BarChart) error {
	w, h, err := size(c.Width, c.Height)
	if err != nil {
		return err
	}
	if len(c.Groups) == 0 || len(c.Series) == 0 {
		return fmt.Errorf("%d groups and %d series, want at least one of each", len(c.Groups), len(c.Series))
	}
	top, bottom := 0.0, 0.0
	for _, s := range c.Series {
		if len(s.Values) != len(c.Groups) {
			return fmt.Errorf("series %q: %d values for %d groups", s.Name, len(s.Values), len(c.Groups))
		}
		if s.Err != nil && len(s.Err) != len(s.Values) {
			return fmt.Errorf("series %q: %d error values for %d groups", s.Name, len(s.Err), len(c.Groups))
		}
		for j, v := range s.Values {
			if math.IsInf(v, 0) || s.Err != nil && math.IsInf(s.Err[j], 0) {
				return fmt.Errorf("series %q: infinite value", s.Name)
			}
			if !math.IsNaN(v) {
				e := 0.0
				if s.Err != nil && !math.IsNaN(s.Err[j]) {
					e = math.Abs(s.Err[j])
				}
				top, bottom = math.Max(top, v+e), math.Min(bottom, v-e)
			}
		}
	}

	p := newPlot("", c.XLabel, c.YLabel)
	g := plotter.NewGrid()
	g.Vertical.Color = nil
	g.Horizontal.Color = gridColor
	p.Add(g)
	leg := newLegend()
	// Bars fill 80% of each group's share of the plot's width (the plot
	// area is about the canvas less 60 points of axis and margins and the
	// legend's column).
	plotWidth := vg.Length(w)*vg.Inch/dpi - vg.Points(60) - legendWidth(c.Series)
	n := len(c.Series)
	barWidth := plotWidth / vg.Length(len(c.Groups)) * 0.8 / vg.Length(n)
	for i, s := range c.Series {
		vals := make(plotter.Values, len(s.Values))
		for j, v := range s.Values {
			if !math.IsNaN(v) {
				vals[j] = v
			}
		}
		b, err := plotter.NewBarChart(vals, barWidth)
		if err != nil {
			return fmt.Errorf("series %q: %w", s.Name, err)
		}
		b.Color = seriesColor(i)
		b.LineStyle.Width = 0
		b.Offset = (vg.Length(i) - vg.Length(n-1)/2) * barWidth
		p.Add(b)
		leg.Add(s.Name, b)
		if s.Err != nil {
			eb := &errBars{offset: b.Offset, width: barWidth / 3}
			for j, v := range s.Values {
				if e := s.Err[j]; !math.IsNaN(v) && !math.IsNaN(e) && e != 0 {
					eb.pts = append(eb.pts, [3]float64{float64(j), v, math.Abs(e)})
				}
			}
			p.Add(eb)
		}
	}
	p.NominalX(c.Groups...)
	p.X.Min, p.X.Max = -0.5, float64(len(c.Groups))-0.5
	p.Y.Tick.Marker = niceTicks{}
	span := top - bottom
	if span == 0 {
		span = 1
	}
	p.Y.Min = bottom
	p.Y.Max = top + span*0.05
	return drawFigure(path, w, h, c.Title, []*plot.Plot{p}, []plot.Legend{leg})
}

// legendWidth estimates the legend column's width for the series' names.
func legendWidth(series []BarSeries) vg.Length {
	l := newLegend()
	widest := vg.Length(0)
	for _, s := range series {
		widest = max(widest, l.TextStyle.Rectangle(" "+s.Name).Max.X)
	}
	return widest + l.ThumbnailWidth + vg.Points(18)
}

// errBars draws a black error bar of ±e on each bar (group j, height v),
// offset as the bars of its series.
type errBars struct {
	pts           [][3]float64 // group, value, error
	offset, width vg.Length
}

// Plot implements plot.Plotter.
func (e *errBars) Plot(c draw.Canvas, p *plot.Plot) {
	tx, ty := p.Transforms(&c)
	sty := draw.LineStyle{Color: color.Black, Width: vg.Points(1)}
	for _, pt := range e.pts {
		x := tx(pt[0]) + e.offset
		lo, hi := ty(pt[1]-pt[2]), ty(pt[1]+pt[2])
		c.StrokeLine2(sty, x, lo, x, hi)
		c.StrokeLine2(sty, x-e.width/2, lo, x+e.width/2, lo)
		c.StrokeLine2(sty, x-e.width/2, hi, x+e.width/2, hi)
	}
}
