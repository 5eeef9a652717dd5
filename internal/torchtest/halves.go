package torchtest

import (
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"testing"
)

// Halves is one image of WriteHalves: its file name and its tags.
type Halves struct {
	Name        string
	Left, Right bool // which half is bright
}

// Tags returns the image's tags, "left" and/or "right".
func (h Halves) Tags() []string {
	var tags []string
	if h.Left {
		tags = append(tags, "left")
	}
	if h.Right {
		tags = append(tags, "right")
	}
	return tags
}

// WriteHalves writes n PNGs of 16×16 into dir, a multi-label set whose
// image i has its left half bright, its right half, or both (i mod 3 = 0,
// 1, 2: at least one tag each), over a fixed faint texture, and
// returns them in order.
func WriteHalves(t testing.TB, dir string, n int) []Halves {
	t.Helper()
	out := make([]Halves, n)
	for i := range out {
		h := Halves{Name: fmt.Sprintf("img%02d.png", i), Left: i%3 != 1, Right: i%3 != 0}
		m := image.NewRGBA(image.Rect(0, 0, 16, 16))
		for y := 0; y < 16; y++ {
			for x := 0; x < 16; x++ {
				v := uint8(20 + (i*7+x*3+y*5)%30)
				if x < 8 && h.Left || x >= 8 && h.Right {
					v += 180
				}
				o := m.PixOffset(x, y)
				m.Pix[o], m.Pix[o+1], m.Pix[o+2], m.Pix[o+3] = v, v, v, 255
			}
		}
		f, err := os.Create(filepath.Join(dir, h.Name))
		if err != nil {
			t.Fatal(err)
		}
		if err := png.Encode(f, m); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		out[i] = h
	}
	return out
}
