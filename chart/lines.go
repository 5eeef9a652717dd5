package chart

import (
	"fmt"
	"math"
	"sort"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Series is one named line of a LineChart.
type Series struct {
	// Name is the series' legend entry.
	Name string
	// X and Y are the points, in order of drawing; equal lengths.
	X, Y []float64
	// Err, when set, draws an error bar of ±Err[i] at each point (for
	// example the standard deviation over seeds); same length as Y.
	Err []float64
}

// LineChart is a chart of named lines, such as accuracy against the number
// of labels per class. The zero value of each option means its default.
type LineChart struct {
	// Title, XLabel and YLabel are the chart's title and axis labels.
	Title, XLabel, YLabel string
	// Series are the lines, drawn in order, each in its own colour and
	// marker; at least one.
	Series []Series
	// LogX puts the x axis on a log scale, ticked at the series' x values
	// (every x must be positive). Default linear.
	LogX bool
	// YMin and YMax fix the y range when YMin < YMax; default the data's
	// range (error bars included).
	YMin, YMax float64
	// LegendTop and LegendLeft place the legend; default bottom right.
	LegendTop, LegendLeft bool
	// Width and Height are the image size in pixels; default 640×480.
	Width, Height int
}

// markers are the point shapes of successive series.
var markers = []draw.GlyphDrawer{
	draw.CircleGlyph{}, draw.SquareGlyph{}, draw.TriangleGlyph{}, draw.RingGlyph{},
	draw.BoxGlyph{}, draw.PyramidGlyph{}, draw.CrossGlyph{}, draw.PlusGlyph{},
}

// Lines draws c to path as a PNG.
func Lines(path string, c LineChart) error {
	if err := lines(path, c); err != nil {
		return fmt.Errorf("chart: lines %s: %w", path, err)
	}
	return nil
}

func lines(path string, c LineChart) error {
	w, h, err := size(c.Width, c.Height)
	if err != nil {
		return err
	}
	if len(c.Series) == 0 {
		return fmt.Errorf("no series")
	}
	xmin, xmax := math.Inf(1), math.Inf(-1)
	ymin, ymax := math.Inf(1), math.Inf(-1)
	xset := map[float64]bool{}
	for _, s := range c.Series {
		if len(s.X) != len(s.Y) || len(s.X) == 0 {
			return fmt.Errorf("series %q: %d x values and %d y values, want the same number, at least one", s.Name, len(s.X), len(s.Y))
		}
		if s.Err != nil && len(s.Err) != len(s.Y) {
			return fmt.Errorf("series %q: %d error values for %d points", s.Name, len(s.Err), len(s.Y))
		}
		if !finite(s.X) || !finite(s.Y) || !finite(s.Err) {
			return fmt.Errorf("series %q: NaN or infinite value", s.Name)
		}
		for j, y := range s.Y {
			e := 0.0
			if s.Err != nil {
				e = math.Abs(s.Err[j])
			}
			ymin, ymax = math.Min(ymin, y-e), math.Max(ymax, y+e)
		}
		for _, x := range s.X {
			if c.LogX && x <= 0 {
				return fmt.Errorf("series %q: x = %g on a log axis, want x > 0", s.Name, x)
			}
			xmin, xmax = math.Min(xmin, x), math.Max(xmax, x)
			xset[x] = true
		}
	}

	p := newPlot(c.Title, c.XLabel, c.YLabel)
	g := plotter.NewGrid()
	g.Vertical.Color, g.Horizontal.Color = gridColor, gridColor
	p.Add(g)
	for i, s := range c.Series {
		xys := make(plotter.XYs, len(s.X))
		for j := range s.X {
			xys[j] = plotter.XY{X: s.X[j], Y: s.Y[j]}
		}
		line, points, err := plotter.NewLinePoints(xys)
		if err != nil {
			return fmt.Errorf("series %q: %w", s.Name, err)
		}
		col := seriesColor(i)
		line.Color, line.Width = col, vg.Points(1.5)
		points.Color, points.Shape, points.Radius = col, markers[i%len(markers)], vg.Points(3)
		if s.Err != nil {
			errs := make(plotter.YErrors, len(s.Err))
			for j, e := range s.Err {
				errs[j] = struct{ Low, High float64 }{math.Abs(e), math.Abs(e)}
			}
			bars, err := plotter.NewYErrorBars(struct {
				plotter.XYs
				plotter.YErrors
			}{xys, errs})
			if err != nil {
				return fmt.Errorf("series %q: %w", s.Name, err)
			}
			bars.Color, bars.Width, bars.CapWidth = col, vg.Points(1), vg.Points(6)
			p.Add(bars)
		}
		p.Add(line, points)
		p.Legend.Add(s.Name, line, points)
	}
	p.Legend.Top, p.Legend.Left = c.LegendTop, c.LegendLeft
	p.Legend.Padding = vg.Points(4)

	// Leave a margin so that end points and their markers are not cut.
	if c.LogX {
		p.X.Scale = plot.LogScale{}
		xs := make([]float64, 0, len(xset))
		for x := range xset {
			xs = append(xs, x)
		}
		sort.Float64s(xs)
		ticks := make(plot.ConstantTicks, len(xs))
		for i, x := range xs {
			ticks[i] = plot.Tick{Value: x, Label: strconv.FormatFloat(x, 'g', 6, 64)}
		}
		p.X.Tick.Marker = ticks
		r := math.Pow(xmax/xmin, 0.05)
		if xmax == xmin {
			r = 2
		}
		p.X.Min, p.X.Max = xmin/r, xmax*r
	} else {
		pad := (xmax - xmin) * 0.04
		if pad == 0 {
			pad = 1
		}
		p.X.Min, p.X.Max = xmin-pad, xmax+pad
	}
	if c.YMin < c.YMax {
		p.Y.Min, p.Y.Max = c.YMin, c.YMax
	} else {
		pad := (ymax - ymin) * 0.05
		if pad == 0 {
			pad = math.Max(math.Abs(ymax)*0.1, 1)
		}
		p.Y.Min, p.Y.Max = ymin-pad, ymax+pad
	}
	p.Y.Tick.Marker = niceTicks{}
	return save(p, path, w, h)
}
