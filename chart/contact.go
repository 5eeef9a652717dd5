package chart

import (
	"bytes"
	"fmt"
	"image"
	"image/color"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/gtl-dev/gtl/npy"
)

// Tile is one image of a contact sheet with the lines of text under it.
type Tile struct {
	Image image.Image
	Lines []string
}

// Contact-sheet layout, in pixels.
const (
	tileSide   = 160 // each image is drawn scaled to fit this square
	tilePad    = 12
	lineHeight = 15
	titleSpace = 34
)

// ContactSheet draws tiles to path as a PNG grid, cols images a row (0:
// up to 4), each image scaled to fit a 160-pixel square with its lines
// under it, and title above the grid, as fastai's plot_top_losses shows
// the most confidently wrong images with their true and predicted
// classes.
func ContactSheet(path string, tiles []Tile, cols int, title string) error {
	if err := contactSheet(path, tiles, cols, title); err != nil {
		return fmt.Errorf("chart: contact sheet %s: %w", path, err)
	}
	return nil
}

func contactSheet(path string, tiles []Tile, cols int, title string) error {
	if len(tiles) == 0 {
		return fmt.Errorf("no images")
	}
	if cols <= 0 {
		cols = min(4, len(tiles))
	}
	lines := 0
	for i, t := range tiles {
		if t.Image == nil || t.Image.Bounds().Empty() {
			return fmt.Errorf("tile %d: no image", i)
		}
		lines = max(lines, len(t.Lines))
	}
	rows := (len(tiles) + cols - 1) / cols
	cellW := tileSide + 2*tilePad
	cellH := tileSide + tilePad + lines*lineHeight + tilePad
	w, h := max(cols*cellW, 320), rows*cellH+titleSpace
	c := vgimg.NewWith(vgimg.UseWH(px(w), px(h)), vgimg.UseDPI(dpi), vgimg.UseBackgroundColor(color.White))
	dc := draw.New(c)
	style := func(size float64, bold bool) draw.TextStyle {
		f := plot.DefaultFont
		f.Size = vg.Points(size)
		if bold {
			f.Weight = 700
		}
		return draw.TextStyle{Color: color.Black, Font: f, Handler: plot.DefaultTextHandler, XAlign: draw.XCenter, YAlign: draw.YTop}
	}
	// vg's origin is the bottom left corner: y counts from the bottom.
	dc.FillText(style(12, true), vg.Point{X: px(w) / 2, Y: px(h - 10)}, title)
	text := style(9, false)
	for i, t := range tiles {
		col, row := i%cols, i/cols
		x0, top := col*cellW+tilePad, h-titleSpace-row*cellH
		b := t.Image.Bounds()
		scale := float64(tileSide) / float64(max(b.Dx(), b.Dy()))
		iw, ih := float64(b.Dx())*scale, float64(b.Dy())*scale
		left := float64(x0) + (tileSide-iw)/2
		bottom := float64(top) - (tileSide+ih)/2
		c.DrawImage(vg.Rectangle{Min: vg.Point{X: px64(left), Y: px64(bottom)}, Max: vg.Point{X: px64(left + iw), Y: px64(bottom + ih)}}, t.Image)
		for j, l := range t.Lines {
			y := top - tileSide - tilePad/2 - j*lineHeight
			dc.FillText(text, vg.Point{X: px(x0 + tileSide/2), Y: px(y)}, l)
		}
	}
	var buf bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: c}).WriteTo(&buf); err != nil {
		return fmt.Errorf("encode png: %w", err)
	}
	return npy.WriteFileAtomic(path, buf.Bytes())
}

// px is a length of n pixels at the charts' resolution.
func px(n int) vg.Length { return vg.Length(n) * vg.Inch / dpi }

func px64(n float64) vg.Length { return vg.Length(n) * vg.Inch / dpi }
