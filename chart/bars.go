package chart

import (
	"fmt"
	"image/color"
	"math"

	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
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
}

// BarChart is a grouped bar chart, such as time to a target accuracy per
// strategy (series) for each training-set size (groups). The zero value of
// each option means its default.
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
		for _, v := range s.Values {
			if math.IsInf(v, 0) {
				return fmt.Errorf("series %q: infinite value", s.Name)
			}
			if !math.IsNaN(v) {
				top, bottom = math.Max(top, v), math.Min(bottom, v)
			}
		}
	}

	p := newPlot(c.Title, c.XLabel, c.YLabel)
	g := plotter.NewGrid()
	g.Vertical.Color = nil
	g.Horizontal.Color = gridColor
	p.Add(g)
	// Bars fill 80% of each group's share of the plot's width (the plot
	// area is about the canvas less 60 points of axis and margins).
	plotWidth := vg.Length(w)*vg.Inch/dpi - vg.Points(60)
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
		p.Legend.Add(s.Name, b)
	}
	p.NominalX(c.Groups...)
	p.X.Min, p.X.Max = -0.5, float64(len(c.Groups))-0.5
	p.Y.Tick.Marker = niceTicks{}
	p.Legend.Top = true
	p.Legend.Padding = vg.Points(4)
	// Head room above the tallest bar for the legend, one line per series.
	span := top - bottom
	if span == 0 {
		span = 1
	}
	p.Y.Min = bottom
	p.Y.Max = top + span*(0.05+0.07*float64(n))
	return save(p, path, w, h)
}
