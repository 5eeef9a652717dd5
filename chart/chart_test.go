package chart

import (
	"bytes"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// keep, when set, is a folder the charts drawn by the tests are copied to,
// for a person to look at: go test ./chart -keep /tmp/charts
var keep = flag.String("keep", "", "copy the test charts to this folder")

// drawFunc is one chart call under test.
type drawFunc func(path string) error

// checkPNG decodes path and checks its size and that it has drawing on it:
// enough non-white pixels in several colours, and some in colour ink (the
// first series' colour, or the darkest confusion cell).
func checkPNG(t *testing.T, path string, w, h int, ink color.RGBA) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if b := img.Bounds(); b != image.Rect(0, 0, w, h) {
		t.Fatalf("%s: %v, want %dx%d", path, b, w, h)
	}
	inked, inkPixels := 0, 0
	colours := map[[3]uint32]bool{}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			r, g, b, _ := img.At(x, y).RGBA()
			if r < 0xf000 || g < 0xf000 || b < 0xf000 {
				inked++
			}
			colours[[3]uint32{r >> 8, g >> 8, b >> 8}] = true
			if r>>8 == uint32(ink.R) && g>>8 == uint32(ink.G) && b>>8 == uint32(ink.B) {
				inkPixels++
			}
		}
	}
	if frac := float64(inked) / float64(w*h); frac < 0.002 || frac > 0.9 {
		t.Errorf("%s: %.1f%% of pixels drawn on, want a chart (0.2%%..90%%)", path, 100*frac)
	}
	if inkPixels < 20 {
		t.Errorf("%s: %d pixels of colour %v, want the data drawn in it", path, inkPixels, ink)
	}
	if len(colours) < 8 {
		t.Errorf("%s: %d colours, want a chart in colour", path, len(colours))
	}
	if *keep != "" {
		if err := os.WriteFile(filepath.Join(*keep, filepath.Base(path)), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return data
}

// runChart draws a chart twice and checks the PNG and that both drawings
// are byte-identical; a wantErr case checks the error instead.
func runChart(t *testing.T, name string, f drawFunc, w, h int, ink color.RGBA, wantErr string) {
	t.Helper()
	dir := t.TempDir()
	a, b := filepath.Join(dir, name+".png"), filepath.Join(dir, "again.png")
	err := f(a)
	if wantErr != "" {
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Fatalf("err %v, want %q", err, wantErr)
		}
		if _, serr := os.Stat(a); serr == nil {
			t.Fatalf("%s written despite the error", a)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	first := checkPNG(t, a, w, h, ink)
	if err := f(b); err != nil {
		t.Fatal(err)
	}
	second, _ := os.ReadFile(b)
	if !bytes.Equal(first, second) {
		t.Fatal("the same chart drawn twice gives different bytes")
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".*")); len(left) != 0 {
		t.Fatalf("temporary files left behind: %v", left)
	}
}

func TestLines(t *testing.T) {
	labels := []float64{5, 20, 100, 6000}
	tests := []struct {
		name    string
		c       LineChart
		w, h    int
		wantErr string
	}{
		{name: "lines_logx_errorbars", w: 640, h: 480, c: LineChart{
			Title: "Accuracy vs labels per class", XLabel: "labels per class", YLabel: "val accuracy", LogX: true,
			Series: []Series{
				{Name: "linear probe", X: labels, Y: []float64{0.61, 0.74, 0.80, 0.83}, Err: []float64{0.03, 0.02, 0.01, 0.005}},
				{Name: "gradual unfreeze", X: labels, Y: []float64{0.58, 0.77, 0.86, 0.91}, Err: []float64{0.04, 0.02, 0.01, 0.004}},
				{Name: "full fine-tune", X: labels, Y: []float64{0.52, 0.76, 0.88, 0.93}},
			}}},
		{name: "lines_linear_800x600", w: 800, h: 600, c: LineChart{
			Title: "Training loss", XLabel: "epoch", YLabel: "loss", YMin: 0, YMax: 2.5, Width: 800, Height: 600,
			Series: []Series{{Name: "train", X: []float64{1, 2, 3, 4}, Y: []float64{2.1, 1.2, 0.8, 0.6}},
				{Name: "val", X: []float64{1, 2, 3, 4}, Y: []float64{2.0, 1.4, 1.1, 1.05}}}}},
		{name: "one point", w: 640, h: 480, c: LineChart{Series: []Series{{Name: "a", X: []float64{3}, Y: []float64{1}}}}},
		{name: "no series", wantErr: "chart: lines ", c: LineChart{}},
		{name: "length mismatch", wantErr: `series "a": 2 x values and 1 y values`, c: LineChart{Series: []Series{{Name: "a", X: []float64{1, 2}, Y: []float64{1}}}}},
		{name: "error length", wantErr: `series "a": 1 error values for 2 points`, c: LineChart{Series: []Series{{Name: "a", X: []float64{1, 2}, Y: []float64{1, 2}, Err: []float64{1}}}}},
		{name: "nan", wantErr: `series "a": NaN or infinite`, c: LineChart{Series: []Series{{Name: "a", X: []float64{1}, Y: []float64{math.NaN()}}}}},
		{name: "log of zero", wantErr: `x = 0 on a log axis`, c: LineChart{LogX: true, Series: []Series{{Name: "a", X: []float64{0, 1}, Y: []float64{1, 2}}}}},
		{name: "bad size", wantErr: "size 50×480 pixels", c: LineChart{Width: 50, Series: []Series{{Name: "a", X: []float64{1}, Y: []float64{1}}}}},
		{name: "outside the fixed range", wantErr: `data outside the fixed range 0..2`, c: LineChart{YMin: 0, YMax: 2, Series: []Series{{Name: "a", X: []float64{1, 2}, Y: []float64{0, 3}}}}},
		{name: "error bars clipped to the fixed range", w: 640, h: 480, c: LineChart{YMin: 0, YMax: 100,
			Series: []Series{{Name: "a", X: []float64{1, 2}, Y: []float64{99, 1}, Err: []float64{3, 2}}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			runChart(t, tt.name, func(p string) error { return Lines(p, tt.c) }, tt.w, tt.h, palette[0], tt.wantErr)
		})
	}
}

func TestBars(t *testing.T) {
	tests := []struct {
		name    string
		c       BarChart
		wantErr string
	}{
		{name: "bars_grouped", c: BarChart{
			Title: "Time to 85% val accuracy", XLabel: "labels per class", YLabel: "seconds",
			Groups: []string{"5", "20", "100", "all"},
			Series: []BarSeries{
				{Name: "linear probe", Values: []float64{math.NaN(), math.NaN(), 12, 40}},
				{Name: "gradual unfreeze", Values: []float64{30, 22, 18, 55}},
				{Name: "full fine-tune", Values: []float64{45, 35, 25, 70}, Err: []float64{5, 3, math.NaN(), 0}},
			}}},
		{name: "error length", wantErr: `series "a": 1 error values for 2 groups`, c: BarChart{Groups: []string{"x", "y"}, Series: []BarSeries{{Name: "a", Values: []float64{1, 2}, Err: []float64{1}}}}},
		{name: "one bar", c: BarChart{Groups: []string{"x"}, Series: []BarSeries{{Name: "a", Values: []float64{3}}}}},
		{name: "no groups", wantErr: "0 groups and 1 series", c: BarChart{Series: []BarSeries{{Name: "a"}}}},
		{name: "value count", wantErr: `series "a": 1 values for 2 groups`, c: BarChart{Groups: []string{"x", "y"}, Series: []BarSeries{{Name: "a", Values: []float64{1}}}}},
		{name: "infinite", wantErr: `series "a": infinite value`, c: BarChart{Groups: []string{"x"}, Series: []BarSeries{{Name: "a", Values: []float64{math.Inf(1)}}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			runChart(t, tt.name, func(p string) error { return Bars(p, tt.c) }, 640, 480, palette[0], tt.wantErr)
		})
	}
}

func TestConfusion(t *testing.T) {
	cs := blues{}.Colors()
	darkest := cs[len(cs)-1].(color.RGBA)
	digits := []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}
	cm := func(n int) [][]int {
		m := make([][]int, n)
		for i := range m {
			m[i] = make([]int, n)
			for j := range m[i] {
				m[i][j] = (i*7 + j*3) % 5
			}
			m[i][i] = 150 + 10*i
		}
		m[0] = make([]int, n) // a perfect row: the darkest colour
		m[0][0] = 100
		return m
	}
	letters := strings.Split("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "")
	tests := []struct {
		name    string
		m       [][]int
		classes []string
		w, h    int
		wantErr string
	}{
		{name: "confusion_10", m: cm(10), classes: digits, w: 640, h: 560},
		{name: "confusion_26", m: cm(26), classes: letters, w: 1136, h: 1056},
		{name: "empty row", m: [][]int{{0, 0}, {0, 2}}, classes: []string{"a", "b"}, w: 640, h: 560},
		{name: "no classes", wantErr: "no classes"},
		{name: "rows", m: cm(2), classes: digits[:3], wantErr: "2 rows for 3 classes"},
		{name: "columns", m: [][]int{{1, 2}, {3}}, classes: []string{"a", "b"}, wantErr: "row 1 (b): 1 columns for 2 classes"},
		{name: "negative", m: [][]int{{1, -2}, {3, 4}}, classes: []string{"a", "b"}, wantErr: "row 0 (a), column 1: negative count -2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			runChart(t, tt.name, func(p string) error { return Confusion(p, tt.m, tt.classes, "Confusion ("+tt.name+")") }, tt.w, tt.h, darkest, tt.wantErr)
		})
	}
}

func TestNiceTicks(t *testing.T) {
	tests := []struct {
		lo, hi float64
		want   string // the labelled ticks
	}{
		{0, 1, "0.0 0.2 0.4 0.6 0.8 1.0"},
		{0.5, 0.93, "0.5 0.6 0.7 0.8 0.9"},
		{0.12, 0.19, "0.12 0.14 0.16 0.18"},
		{0, 88, "0 20 40 60 80"},
		{-3, 3, "-3 -2 -1 0 1 2 3"},
		{2, 2, "2"},
		// A grid whose runs all scored 20%, one of them with a rounding
		// error: looped appending ticks until memory ran out.
		{20, 20.000000000000004, "20"},
		{1e6, 1e6 + 1e-4, "1e+06"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.lo, "..", tt.hi), func(t *testing.T) {
			var got []string
			for _, tk := range (niceTicks{}).Ticks(tt.lo, tt.hi) {
				if tk.Label != "" {
					got = append(got, tk.Label)
				}
			}
			if s := strings.Join(got, " "); s != tt.want {
				t.Fatalf("ticks %q, want %q", s, tt.want)
			}
		})
	}
}

func TestPanels(t *testing.T) {
	epochs := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25}
	train, val, acc := make([]float64, 25), make([]float64, 25), make([]float64, 25)
	for i := range epochs {
		train[i] = 2.3 * math.Exp(-float64(i)/6)
		val[i] = 2.2 * math.Exp(-float64(i)/8)
		acc[i] = 1 - 0.9*math.Exp(-float64(i)/5)
	}
	val[3] = 2873 // a validation loss that blew up: on the log axis, not off the chart
	curves := PanelsChart{Title: "resnet18 on clothes (5 classes), strategy full", XLabel: "epoch", IntegerX: true, Panels: []Panel{
		{YLabel: "loss (log scale)", LogY: true, Series: []Series{{Name: "train loss", X: epochs, Y: train}, {Name: "val loss", X: epochs, Y: val}}},
		{YLabel: "val accuracy (%)", YMin: 0, YMax: 100, Series: []Series{{Name: "val accuracy", X: epochs, Y: scale(acc, 100)}},
			Refs: []Ref{{Name: "chance", Y: 20}}},
	}}
	tests := []struct {
		name    string
		c       PanelsChart
		wantErr string
	}{
		{name: "panels_curves", c: curves},
		{name: "one epoch", c: PanelsChart{IntegerX: true, Panels: []Panel{{Series: []Series{{Name: "a", X: []float64{1}, Y: []float64{0.5}}}}}}},
		{name: "no panels", wantErr: "chart: panels ", c: PanelsChart{}},
		{name: "empty panel", wantErr: "panel 2 (b): no series", c: PanelsChart{Panels: []Panel{{YLabel: "a", Series: []Series{{Name: "a", X: []float64{1}, Y: []float64{1}}}}, {YLabel: "b"}}}},
		{name: "log of zero", wantErr: `y = 0 on a log axis`, c: PanelsChart{Panels: []Panel{{LogY: true, Series: []Series{{Name: "a", X: []float64{1}, Y: []float64{0}}}}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			runChart(t, tt.name, func(p string) error { return Panels(p, tt.c) }, 640, 480, palette[0], tt.wantErr)
		})
	}
}

func scale(xs []float64, k float64) []float64 {
	out := make([]float64, len(xs))
	for i, x := range xs {
		out[i] = k * x
	}
	return out
}

// TestLegendsOffTheData: every legend lies right of its plot's data area,
// inside the image, and the stacked data areas are aligned.
func TestLegendsOffTheData(t *testing.T) {
	c := PanelsChart{Title: "t", XLabel: "epoch", Panels: []Panel{
		{YLabel: "loss", Series: []Series{{Name: "train loss", X: []float64{1, 2}, Y: []float64{2, 1}}, {Name: "a long validation name", X: []float64{1, 2}, Y: []float64{2, 1.5}}}},
		{YLabel: "accuracy (%)", Series: []Series{{Name: "val accuracy", X: []float64{1, 2}, Y: []float64{50, 60}}}},
	}}
	plots, legends, err := panelPlots(c, false)
	if err != nil {
		t.Fatal(err)
	}
	dc := draw.New(vgimg.NewWith(vgimg.UseWH(640*vg.Inch/dpi, 480*vg.Inch/dpi), vgimg.UseDPI(dpi)))
	lay := figureLayout(dc, plots, legends)
	for i, l := range lay {
		r := legends[i].Rectangle(l.legend)
		if r.Min.X < l.data.Max.X || r.Max.X > dc.Max.X || r.Min.Y < l.data.Min.Y-1 || r.Max.Y > l.data.Max.Y+1 {
			t.Errorf("panel %d: legend %v overlaps the data area %v or leaves the image %v", i, r, l.data.Rectangle, dc.Rectangle)
		}
		if l.data.Max.X-l.data.Min.X < 300 {
			t.Errorf("panel %d: data area %v narrower than 300 pt", i, l.data.Rectangle)
		}
		if l.data.Min.X != lay[0].data.Min.X || l.data.Max.X != lay[0].data.Max.X {
			t.Errorf("panel %d: data area %v not aligned with %v", i, l.data.Rectangle, lay[0].data.Rectangle)
		}
	}
}

func TestIntegerTicks(t *testing.T) {
	tests := []struct {
		lo, hi float64
		want   string
	}{
		{0.5, 1.5, "1"},
		{0.5, 3.5, "1 2 3"},
		{0, 25.5, "0 5 10 15 20 25"}, // never 2.5, 12.5, 22.5
		{0.5, 100.5, "10 20 30 40 50 60 70 80 90 100"},
		{0.2, 0.8, ""},
	}
	for _, tt := range tests {
		var got []string
		for _, tk := range (integerTicks{}).Ticks(tt.lo, tt.hi) {
			if tk.Label != "" {
				got = append(got, tk.Label)
			}
			if tk.Value != math.Trunc(tk.Value) {
				t.Errorf("%g..%g: a tick at %g", tt.lo, tt.hi, tk.Value)
			}
		}
		if s := strings.Join(got, " "); s != tt.want {
			t.Errorf("%g..%g: ticks %q, want %q", tt.lo, tt.hi, s, tt.want)
		}
	}
}

func TestLogTicks(t *testing.T) {
	tests := []struct {
		lo, hi float64
		want   string
	}{
		{0.05, 3, "0.05 0.1 0.2 0.5 1 2"},
		{0.01, 3000, "0.01 0.1 1 10 100 1000"},
		{1.1, 1.9, "1.1 1.9"},
	}
	for _, tt := range tests {
		var got []string
		for _, tk := range (logTicks{}).Ticks(tt.lo, tt.hi) {
			got = append(got, tk.Label)
		}
		if s := strings.Join(got, " "); s != tt.want {
			t.Errorf("%g..%g: ticks %q, want %q", tt.lo, tt.hi, s, tt.want)
		}
	}
}
