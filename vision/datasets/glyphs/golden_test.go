package glyphs

import (
	"bytes"
	"flag"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/gtl-dev/gtl/npy"
)

var update = flag.Bool("update", false, "rewrite testdata/sheet_digits.png and testdata/pinned_digits.json from the current generator")

// TestGolden compares a contact sheet of generated images (classes as rows,
// the first 8 training images as columns, Go fonts only) with the one in
// testdata, so that a change to the generator, which changes every data set
// made from a seed, is seen and reviewed: look at the new sheet, then rerun
// with -update. Pixels may differ by 2 levels (floating-point rounding
// across CPUs); anything more fails.
func TestGolden(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "set")
	const cols = 8
	m, err := Generate(dir, Options{TrainPerClass: cols, ValPerClass: 1, Seed: 42, FontDirs: []string{fontDir(t)}})
	if err != nil {
		t.Fatal(err)
	}
	n := m.Size
	sheet := image.NewGray(image.Rect(0, 0, cols*n, len(m.Classes)*n))
	for r, c := range m.Classes {
		for k := range cols {
			img := readGray(t, filepath.Join(dir, "train", c, strconv.Itoa(k)+".png"))
			for y := range n {
				copy(sheet.Pix[(r*n+y)*sheet.Stride+k*n:][:n], img.Pix[y*img.Stride:][:n])
			}
		}
	}
	golden := filepath.Join("testdata", "sheet_digits.png")
	if *update {
		var buf bytes.Buffer
		if err := png.Encode(&buf, sheet); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := npy.WriteFileAtomic(golden, buf.Bytes()); err != nil {
			t.Fatal(err)
		}
		return
	}
	want := readGray(t, golden)
	if want.Bounds() != sheet.Bounds() {
		t.Fatalf("sheet %v, golden %v", sheet.Bounds(), want.Bounds())
	}
	worst, off := 0, 0
	for i, v := range sheet.Pix {
		d := int(v) - int(want.Pix[i])
		if d < 0 {
			d = -d
		}
		worst = max(worst, d)
		if d > 2 {
			off++
		}
	}
	if off > 0 {
		t.Fatalf("%d pixels differ from %s by more than 2 (worst %d): the generator changed; if that is intended, look at the new sheet and rerun with -update", off, golden, worst)
	}
}

func readGray(t *testing.T, path string) *image.Gray {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	g, ok := img.(*image.Gray)
	if !ok {
		t.Fatalf("%s: %T, want grey", path, img)
	}
	return g
}
