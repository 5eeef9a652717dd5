package chart

import (
	"fmt"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
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

// Sweep draws c to path as a PNG. The x axis is logarithmic, ticked at
// powers of ten (and 2 and 5 times them over a narrow range).
func Sweep(path string, c SweepChart) error {
	if err := sweep(path, c); err != nil {
		return fmt.Errorf("chart: sweep %s: %w", path, err)
	}
	return nil
}

func sweep(path string, c SweepChart) error {
	w, h, err := size(c.Width, c.Height)
	if err != nil {
		return err
	}
	if len(c.X) != len(c.Y) || len(c.X) == 0 {
		return fmt.Errorf("%d x values and %d y values, want the same number, at least one", len(c.X), len(c.Y))
	}
	if !finite(c.X) || !finite(c.Y) {
		return fmt.Errorf("NaN or infinite value")
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
			return err
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
		return err
	}
	line.Color, line.Width = seriesColor(0), vg.Points(1.5)
	p.Add(line)
	leg.Add("loss", line)
	for i, m := range c.Marks {
		if err := add(m.X, m.Y); err != nil {
			return fmt.Errorf("mark %q: %w", m.Name, err)
		}
		pts, err := plotter.NewScatter(plotter.XYs{{X: m.X, Y: m.Y}})
		if err != nil {
			return err
		}
		pts.Color, pts.Shape, pts.Radius = seriesColor(i+1), markers[(i+1)%len(markers)], vg.Points(5)
		p.Add(pts)
		leg.Add(m.Name, pts)
	}
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = logTicks{}
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
	return drawFigure(path, w, h, c.Title, []*plot.Plot{p}, []plot.Legend{leg})
}
