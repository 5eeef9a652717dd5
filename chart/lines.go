package chart

import (
	"fmt"
	"image/color"
	"math"
	"sort"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Series is one named line of a LineChart or a Panel.
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
// The legend is drawn beside the plot, never over the data.
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
	// range (error bars included). A range that leaves data out is an
	// error.
	YMin, YMax float64
	// Width and Height are the image size in pixels; default 640×480.
	Width, Height int
}

// Panel is one plot of a PanelsChart: its own y axis, the chart's x axis.
type Panel struct {
	// YLabel is the y axis' label.
	YLabel string
	// Series are the lines, as in a LineChart; at least one.
	Series []Series
	// YMin and YMax fix the y range when YMin < YMax (default: the data's,
	// error bars included). A range that leaves data out is an error.
	YMin, YMax float64
	// LogY puts the y axis on a log scale (every y must be positive).
	LogY bool
	// Refs are horizontal reference lines, such as chance accuracy: dashed
	// grey, named in the legend.
	Refs []Ref
}

// Ref is a horizontal reference line of a Panel.
type Ref struct {
	Name string
	Y    float64
}

// PanelsChart is a figure of panels stacked from the top that share the x
// axis, such as a run's losses above its accuracy. The zero value of each
// option means its default.
type PanelsChart struct {
	// Title is drawn above the first panel; XLabel under the last.
	Title, XLabel string
	// Panels are drawn from the top; at least one.
	Panels []Panel
	// IntegerX labels the x axis at whole numbers only (epochs).
	IntegerX bool
	// Width and Height are the image size in pixels; default 640×480.
	Width, Height int
}

// markers are the point shapes of successive series.
var markers = []draw.GlyphDrawer{
	draw.CircleGlyph{}, draw.SquareGlyph{}, draw.TriangleGlyph{}, draw.RingGlyph{},
	draw.BoxGlyph{}, draw.PyramidGlyph{}, draw.CrossGlyph{}, draw.PlusGlyph{},
}

// refColor is the colour of reference lines.
var refColor = color.Gray{Y: 110}

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
	pc := PanelsChart{Title: c.Title, XLabel: c.XLabel, Panels: []Panel{{YLabel: c.YLabel, Series: c.Series, YMin: c.YMin, YMax: c.YMax}}}
	plots, legends, err := panelPlots(pc, c.LogX)
	if err != nil {
		return err
	}
	return drawFigure(path, w, h, c.Title, plots, legends)
}

// Panels draws c to path as a PNG.
func Panels(path string, c PanelsChart) error {
	if err := panels(path, c); err != nil {
		return fmt.Errorf("chart: panels %s: %w", path, err)
	}
	return nil
}

func panels(path string, c PanelsChart) error {
	w, h, err := size(c.Width, c.Height)
	if err != nil {
		return err
	}
	plots, legends, err := panelPlots(c, false)
	if err != nil {
		return err
	}
	return drawFigure(path, w, h, c.Title, plots, legends)
}

// panelPlots builds one plot and legend per panel, on a shared x range.
func panelPlots(c PanelsChart, logX bool) ([]*plot.Plot, []plot.Legend, error) {
	if len(c.Panels) == 0 {
		return nil, nil, fmt.Errorf("no panels")
	}
	xmin, xmax := math.Inf(1), math.Inf(-1)
	xset := map[float64]bool{}
	for k, pn := range c.Panels {
		if len(pn.Series) == 0 {
			if len(c.Panels) == 1 {
				return nil, nil, fmt.Errorf("no series")
			}
			return nil, nil, fmt.Errorf("panel %d (%s): no series", k+1, pn.YLabel)
		}
		for _, s := range pn.Series {
			if len(s.X) != len(s.Y) || len(s.X) == 0 {
				return nil, nil, fmt.Errorf("series %q: %d x values and %d y values, want the same number, at least one", s.Name, len(s.X), len(s.Y))
			}
			if s.Err != nil && len(s.Err) != len(s.Y) {
				return nil, nil, fmt.Errorf("series %q: %d error values for %d points", s.Name, len(s.Err), len(s.Y))
			}
			if !finite(s.X) || !finite(s.Y) || !finite(s.Err) {
				return nil, nil, fmt.Errorf("series %q: NaN or infinite value", s.Name)
			}
			for _, x := range s.X {
				if logX && x <= 0 {
					return nil, nil, fmt.Errorf("series %q: x = %g on a log axis, want x > 0", s.Name, x)
				}
				xmin, xmax = math.Min(xmin, x), math.Max(xmax, x)
				xset[x] = true
			}
			for _, y := range s.Y {
				if pn.LogY && y <= 0 {
					return nil, nil, fmt.Errorf("series %q: y = %g on a log axis, want y > 0", s.Name, y)
				}
			}
			if pn.LogY && s.Err != nil {
				return nil, nil, fmt.Errorf("series %q: error bars on a log axis are not supported", s.Name)
			}
		}
	}
	plots := make([]*plot.Plot, len(c.Panels))
	legends := make([]plot.Legend, len(c.Panels))
	colour := 0 // series colours run on across panels: one colour, one quantity
	for k, pn := range c.Panels {
		xLabel := ""
		if k == len(c.Panels)-1 {
			xLabel = c.XLabel
		}
		p := newPlot("", xLabel, pn.YLabel)
		g := plotter.NewGrid()
		g.Vertical.Color, g.Horizontal.Color = gridColor, gridColor
		p.Add(g)
		leg := newLegend()
		ymin, ymax := math.Inf(1), math.Inf(-1)
		// A log axis is drawn as log10 of the values on a linear one,
		// labelled with the values: gonum's log scale places the axis
		// label at the arithmetic mean of the range and pads for it.
		ty := func(y float64) float64 { return y }
		if pn.LogY {
			ty = math.Log10
		}
		for _, s := range pn.Series {
			xys := make(plotter.XYs, len(s.X))
			for j := range s.X {
				xys[j] = plotter.XY{X: s.X[j], Y: ty(s.Y[j])}
				lo, hi := xys[j].Y, xys[j].Y
				if s.Err != nil && !(pn.YMin < pn.YMax) { // a fixed range clips the bars (below)
					lo, hi = lo-math.Abs(s.Err[j]), hi+math.Abs(s.Err[j])
				}
				ymin, ymax = math.Min(ymin, lo), math.Max(ymax, hi)
			}
			line, points, err := plotter.NewLinePoints(xys)
			if err != nil {
				return nil, nil, fmt.Errorf("series %q: %w", s.Name, err)
			}
			col := seriesColor(colour)
			line.Color, line.Width = col, vg.Points(1.5)
			points.Color, points.Shape, points.Radius = col, markers[colour%len(markers)], vg.Points(3)
			colour++
			if s.Err != nil {
				errs := make(plotter.YErrors, len(s.Err))
				for j, e := range s.Err {
					low, high := math.Abs(e), math.Abs(e)
					if pn.YMin < pn.YMax { // a bar ends at the fixed range: accuracy ± std stays in 0..100
						low, high = math.Min(low, xys[j].Y-ty(pn.YMin)), math.Min(high, ty(pn.YMax)-xys[j].Y)
						low, high = math.Max(low, 0), math.Max(high, 0)
					}
					errs[j] = struct{ Low, High float64 }{low, high}
				}
				bars, err := plotter.NewYErrorBars(struct {
					plotter.XYs
					plotter.YErrors
				}{xys, errs})
				if err != nil {
					return nil, nil, fmt.Errorf("series %q: %w", s.Name, err)
				}
				bars.Color, bars.Width, bars.CapWidth = col, vg.Points(1), vg.Points(6)
				p.Add(bars)
			}
			p.Add(line, points)
			leg.Add(s.Name, line, points)
		}
		for _, r := range pn.Refs {
			if pn.LogY && r.Y <= 0 {
				return nil, nil, fmt.Errorf("reference %q: y = %g on a log axis, want y > 0", r.Name, r.Y)
			}
			y := ty(r.Y)
			ref := plotter.NewFunction(func(float64) float64 { return y })
			ref.Color, ref.Width, ref.Dashes = refColor, vg.Points(1), []vg.Length{vg.Points(4), vg.Points(3)}
			p.Add(ref)
			leg.Add(r.Name, ref)
			ymin, ymax = math.Min(ymin, y), math.Max(ymax, y)
		}
		switch {
		case pn.YMin < pn.YMax:
			if ymin < ty(pn.YMin) || ymax > ty(pn.YMax) {
				return nil, nil, fmt.Errorf("panel %q: data outside the fixed range %g..%g", pn.YLabel, pn.YMin, pn.YMax)
			}
			p.Y.Min, p.Y.Max = ty(pn.YMin), ty(pn.YMax)
		case pn.LogY:
			pad := max((ymax-ymin)*0.05, 0.1)
			p.Y.Min, p.Y.Max = ymin-pad, ymax+pad
		default:
			pad := (ymax - ymin) * 0.05
			if pad == 0 {
				pad = math.Max(math.Abs(ymax)*0.1, 1)
			}
			p.Y.Min, p.Y.Max = ymin-pad, ymax+pad
		}
		p.Y.Tick.Marker = niceTicks{}
		if pn.LogY {
			p.Y.Tick.Marker = log10Ticks{}
		}
		setX(p, xmin, xmax, xset, logX, c.IntegerX)
		plots[k], legends[k] = p, leg
	}
	return plots, legends, nil
}

// setX sets a plot's x range, with a margin so that end points and their
// markers are not cut, and its ticks.
func setX(p *plot.Plot, xmin, xmax float64, xset map[float64]bool, logX, integer bool) {
	if logX {
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
		return
	}
	pad := (xmax - xmin) * 0.04
	if integer {
		pad = math.Max(pad, 0.5)
		p.X.Tick.Marker = integerTicks{}
	} else {
		p.X.Tick.Marker = niceTicks{}
	}
	if pad == 0 {
		pad = 1
	}
	p.X.Min, p.X.Max = xmin-pad, xmax+pad
}
