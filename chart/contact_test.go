package chart

import (
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func solid(w, h int, c color.RGBA) image.Image {
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := 0; i < len(m.Pix); i += 4 {
		m.Pix[i], m.Pix[i+1], m.Pix[i+2], m.Pix[i+3] = c.R, c.G, c.B, c.A
	}
	return m
}

// TestContactSheet: the grid's size follows the tile count, each image is
// drawn scaled into its cell (its colour at the cell's centre), and the
// text under it darkens pixels below the image.
func TestContactSheet(t *testing.T) {
	red, blue := color.RGBA{255, 0, 0, 255}, color.RGBA{0, 0, 255, 255}
	tiles := []Tile{
		{Image: solid(32, 32, red), Lines: []string{"true cat", "pred dog 97.0%"}},
		{Image: solid(28, 28, blue), Lines: []string{"true dog", "pred cat 51.2%"}},
		{Image: solid(64, 32, red), Lines: []string{"wide"}},
	}
	for _, tt := range []struct {
		name       string
		cols       int
		wantW      int
		wantH      int
		centresRow []int // tile index whose centre pixel is checked
	}{
		{"auto columns", 0, 3 * (tileSide + 2*tilePad), tileSide + 2*tilePad + 2*lineHeight + titleSpace, []int{0, 1, 2}},
		{"two columns", 2, 2 * (tileSide + 2*tilePad), 2*(tileSide+2*tilePad+2*lineHeight) + titleSpace, []int{0, 1, 2}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "sheet.png")
			if err := ContactSheet(path, tiles, tt.cols, "top losses"); err != nil {
				t.Fatal(err)
			}
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			m, err := png.Decode(f)
			if err != nil {
				t.Fatal(err)
			}
			if b := m.Bounds(); b.Dx() != tt.wantW || b.Dy() != tt.wantH {
				t.Fatalf("size %v, want %dx%d", b, tt.wantW, tt.wantH)
			}
			cols := tt.cols
			if cols == 0 {
				cols = 3
			}
			cellH := tileSide + 2*tilePad + 2*lineHeight
			for _, i := range tt.centresRow {
				x := (i%cols)*(tileSide+2*tilePad) + tilePad + tileSide/2
				y := titleSpace + (i/cols)*cellH + tileSide/2
				r, g, b, _ := m.At(x, y).RGBA()
				want := tiles[i].Image.At(0, 0)
				wr, wg, wb, _ := want.RGBA()
				if r>>8 != wr>>8 || g>>8 != wg>>8 || b>>8 != wb>>8 {
					t.Errorf("tile %d centre (%d,%d) is %v, want %v", i, x, y, m.At(x, y), want)
				}
				// Text under the image: some dark pixel in the caption band.
				dark := false
				for yy := titleSpace + (i/cols)*cellH + tileSide + tilePad/2; yy < titleSpace+(i/cols)*cellH+tileSide+tilePad+lineHeight; yy++ {
					for xx := x - 40; xx < x+40; xx++ {
						if r, _, _, _ := m.At(xx, yy).RGBA(); r>>8 < 100 {
							dark = true
						}
					}
				}
				if !dark {
					t.Errorf("tile %d: no caption text under the image", i)
				}
			}
		})
	}
	for _, tt := range []struct {
		name  string
		tiles []Tile
		want  string
	}{
		{"none", nil, "no images"},
		{"nil image", []Tile{{Lines: []string{"x"}}}, "tile 0: no image"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := ContactSheet(filepath.Join(t.TempDir(), "x.png"), tt.tiles, 0, "")
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "chart: contact sheet ") {
				t.Errorf("got %v, want an error naming %q", err, tt.want)
			}
		})
	}
}
