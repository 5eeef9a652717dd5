package chart

import (
	"fmt"
	"image/color"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Confusion draws the confusion matrix m (m[i][j]: images of true class i
// predicted as class j) to path as a PNG heat map: true classes as rows
// from the top, predicted classes as columns, each cell shaded by its share
// of its row and labelled with its count. classes names the rows and
// columns. The image is 640×560 pixels, larger for more than 12 classes.
func Confusion(path string, m [][]int, classes []string, title string) error {
	if err := confusion(path, m, classes, title); err != nil {
		return fmt.Errorf("chart: confusion %s: %w", path, err)
	}
	return nil
}

// cmGrid is a row-normalised confusion matrix as a plotter.GridXYZ: column
// c, row r of the grid is predicted class c, true class n-1-r (so that the
// first true class is the top row).
type cmGrid struct{ norm [][]float64 }

func (g cmGrid) Dims() (c, r int)   { return len(g.norm), len(g.norm) }
func (g cmGrid) Z(c, r int) float64 { return g.norm[len(g.norm)-1-r][c] }
func (g cmGrid) X(c int) float64    { return float64(c) }
func (g cmGrid) Y(r int) float64    { return float64(r) }

// blues is a white to dark blue ramp for the cells.
type blues struct{}

func (blues) Colors() []color.Color {
	const n = 256
	cs := make([]color.Color, n)
	for i := range cs {
		t := float64(i) / (n - 1)
		cs[i] = color.RGBA{
			R: uint8(247 + t*(8-247)),
			G: uint8(251 + t*(48-251)),
			B: uint8(255 + t*(107-255)),
			A: 255,
		}
	}
	return cs
}

func confusion(path string, m [][]int, classes []string, title string) error {
	n := len(classes)
	if n == 0 {
		return fmt.Errorf("no classes")
	}
	if len(m) != n {
		return fmt.Errorf("%d rows for %d classes", len(m), n)
	}
	norm := make([][]float64, n)
	for i, row := range m {
		if len(row) != n {
			return fmt.Errorf("row %d (%s): %d columns for %d classes", i, classes[i], len(row), n)
		}
		sum := 0
		for j, v := range row {
			if v < 0 {
				return fmt.Errorf("row %d (%s), column %d: negative count %d", i, classes[i], j, v)
			}
			sum += v
		}
		norm[i] = make([]float64, n)
		for j, v := range row {
			if sum > 0 {
				norm[i][j] = float64(v) / float64(sum)
			}
		}
	}

	p := newPlot(title, "predicted class", "true class")
	hm := plotter.NewHeatMap(cmGrid{norm}, blues{})
	hm.Min, hm.Max = 0, 1
	p.Add(hm)

	// Counts in the cells, white on dark cells; smaller text in small cells.
	side := max(640, 36*n+200)
	fontSize := vg.Points(10)
	if n > 12 {
		fontSize = vg.Points(8)
	}
	var labels plotter.XYLabels
	var dark []bool // cells dark enough for white text
	for i, row := range m {
		for j, v := range row {
			labels.XYs = append(labels.XYs, plotter.XY{X: float64(j), Y: float64(n - 1 - i)})
			labels.Labels = append(labels.Labels, strconv.Itoa(v))
			dark = append(dark, norm[i][j] > 0.5)
		}
	}
	l, err := plotter.NewLabels(labels)
	if err != nil {
		return err
	}
	for k := range l.TextStyle {
		st := l.TextStyle[k]
		st.Font.Size = fontSize
		st.XAlign, st.YAlign = draw.XCenter, draw.YCenter
		st.Color = color.Black
		if dark[k] {
			st.Color = color.White
		}
		l.TextStyle[k] = st
	}
	p.Add(l)

	xt := make(plot.ConstantTicks, n)
	yt := make(plot.ConstantTicks, n)
	for i, c := range classes {
		xt[i] = plot.Tick{Value: float64(i), Label: c}
		yt[i] = plot.Tick{Value: float64(n - 1 - i), Label: c}
	}
	p.X.Tick.Marker, p.Y.Tick.Marker = xt, yt
	p.X.Min, p.X.Max = -0.5, float64(n)-0.5
	p.Y.Min, p.Y.Max = -0.5, float64(n)-0.5
	return save(p, path, side, side-80)
}
