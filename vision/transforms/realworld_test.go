package transforms

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/gtl-dev/gtl/npy"
)

// realImages writes the corpus of scripts/parity/realworld_images.py into
// a temporary folder and returns it.
func realImages(t *testing.T) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	script := filepath.Join(filepath.Dir(file), "..", "..", "scripts", "parity", "realworld_images.py")
	dir := t.TempDir()
	if out, err := exec.Command("/usr/bin/python3", script, dir).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s\n(scripts/parity/setup.sh installs python3-pil)", script, err, out)
	}
	return dir
}

func pilPixels(t *testing.T, path string) (w, h int, pix []uint8) {
	t.Helper()
	a, err := npy.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	return a.Shape[1], a.Shape[0], a.Uint8
}

// TestRealWorldImages decodes the formats cameras, phones and the web
// write and compares the pixels with PIL's convert("RGB").
func TestRealWorldImages(t *testing.T) {
	dir := realImages(t)
	cases := []struct {
		file string
		tol  int // largest difference per sample allowed
	}{
		{"cmyk.jpg", 0}, {"cmyk-q60.jpeg", 0},
		{"photo.bmp", 0}, {"grey.bmp", 0},
		{"photo.tif", 0}, {"deflate.TIFF", 0},
		{"lossless.webp", 0}, {"alpha.webp", 0},
		// libwebp upsamples lossy chroma by interpolation ("fancy
		// upsampling"), x/image/webp by repetition: on this noisy pattern
		// the mean difference is 8.1 levels, the largest 26.
		{"lossy.webp", 32},
		{"palette.gif", 0}, {"animated.gif", 0},
		{"grey.png", 0}, {"palette.png", 0}, {"alpha.png", 0}, {"grey-alpha.png", 0}, {"rgb16.png", 0},
		{"png-named.JPG", 0},
	}
	if JPEGDecoder != "libjpeg-turbo" {
		cases[0].tol, cases[1].tol = 16, 16
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			w, h, want := pilPixels(t, filepath.Join(dir, c.file+".npy"))
			got, err := Load(filepath.Join(dir, c.file))
			if err != nil {
				t.Fatal(err)
			}
			if got.W != w || got.H != h {
				t.Fatalf("%dx%d, PIL %dx%d", got.W, got.H, w, h)
			}
			if d := maxDiff(want, got.Pix); d > c.tol {
				t.Errorf("max difference %d from PIL (mean %.2f), want ≤ %d", d, meanDiff(want, got.Pix), c.tol)
			}
		})
	}
}

// ycckWriter is a C program that writes a YCCK JPEG with libjpeg: a
// seeded 61×43 CMYK pattern, stored as YCCK (jpeg_set_colorspace with
// JCS_YCCK from JCS_CMYK input; libjpeg then writes the Adobe marker with
// transform 2). PIL cannot write YCCK, Photoshop and other print tools do.
// Usage: ycck OUT.jpg QUALITY
const ycckWriter = `
#include <stdio.h>
#include <stdlib.h>
#include <jpeglib.h>
int main(int argc, char **argv) {
	const int w = 61, h = 43;
	FILE *f = fopen(argv[1], "wb");
	if (!f) { perror(argv[1]); return 1; }
	struct jpeg_compress_struct c;
	struct jpeg_error_mgr e;
	c.err = jpeg_std_error(&e);
	jpeg_create_compress(&c);
	jpeg_stdio_dest(&c, f);
	c.image_width = w; c.image_height = h; c.input_components = 4; c.in_color_space = JCS_CMYK;
	jpeg_set_defaults(&c);
	jpeg_set_colorspace(&c, JCS_YCCK);
	jpeg_set_quality(&c, atoi(argv[2]), TRUE);
	jpeg_start_compress(&c, TRUE);
	unsigned char row[61 * 4];
	unsigned int s = 12345;
	for (int y = 0; y < h; y++) {
		for (int x = 0; x < w; x++) {
			s = s * 1103515245u + 12345u;
			int n = (s >> 16) % 40;
			row[x*4+0] = (unsigned char)(x * 200 / w + n);
			row[x*4+1] = (unsigned char)(y * 200 / h + n);
			row[x*4+2] = (unsigned char)((x + y) * 200 / (w + h) + n);
			row[x*4+3] = (unsigned char)(255 - (x * y) % 200);
		}
		JSAMPROW r = row;
		jpeg_write_scanlines(&c, &r, 1);
	}
	jpeg_finish_compress(&c);
	jpeg_destroy_compress(&c);
	return fclose(f) != 0;
}
`

// pilYCCK checks that PIL reads the file as an Adobe transform-2 (YCCK)
// JPEG and saves Image.open(f).convert("RGB") as .npy.
const pilYCCK = `
import sys
import numpy as np
from PIL import Image
im = Image.open(sys.argv[1])
assert im.mode == "CMYK" and im.info.get("adobe_transform") == 2, (im.mode, im.info)
np.save(sys.argv[2], np.asarray(im.convert("RGB")))
`

// TestYCCKJPEG decodes YCCK (Adobe) JPEGs made with libjpeg at test time
// and compares the pixels with PIL's convert("RGB").
func TestYCCKJPEG(t *testing.T) {
	cc, err := exec.LookPath("cc")
	if err != nil {
		t.Skip("no C compiler (cc) to build the YCCK JPEG writer against libjpeg: YCCK decoding untested")
	}
	dir := t.TempDir()
	src, bin := filepath.Join(dir, "ycck.c"), filepath.Join(dir, "ycck")
	if err := os.WriteFile(src, []byte(ycckWriter), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(cc, "-O1", "-o", bin, src, "-ljpeg").CombinedOutput(); err != nil {
		t.Fatalf("cc: %v\n%s\n(scripts/setup.sh installs libjpeg62-turbo-dev)", err, out)
	}
	for _, c := range []struct {
		quality string
		tol     int
	}{{"95", 0}, {"60", 0}} {
		t.Run("q"+c.quality, func(t *testing.T) {
			f := filepath.Join(dir, "ycck-q"+c.quality+".jpg")
			if out, err := exec.Command(bin, f, c.quality).CombinedOutput(); err != nil {
				t.Fatalf("ycck writer: %v\n%s", err, out)
			}
			if out, err := exec.Command("/usr/bin/python3", "-c", pilYCCK, f, f+".npy").CombinedOutput(); err != nil {
				t.Fatalf("PIL: %v\n%s", err, strings.TrimSpace(string(out)))
			}
			w, h, want := pilPixels(t, f+".npy")
			tol := c.tol
			if JPEGDecoder != "libjpeg-turbo" {
				tol = 16 // Go's image/jpeg upsamples and converts on its own
			}
			got, err := Load(f)
			if err != nil {
				t.Fatal(err)
			}
			if got.W != w || got.H != h {
				t.Fatalf("%dx%d, PIL %dx%d", got.W, got.H, w, h)
			}
			if d := maxDiff(want, got.Pix); d > tol {
				t.Errorf("max difference %d from PIL (mean %.2f), want ≤ %d", d, meanDiff(want, got.Pix), tol)
			}
			// Not trivially equal: the image has colour.
			lo, hi := 255, 0
			for _, v := range want {
				lo, hi = min(lo, int(v)), max(hi, int(v))
			}
			if hi-lo < 100 {
				t.Errorf("PIL's pixels span %d..%d: the pattern did not survive", lo, hi)
			}
		})
	}
}

// TestEXIFOrientation: by default an image is turned as its EXIF
// orientation says (PIL's ImageOps.exif_transpose); KeepOrientation leaves
// it as stored (PIL's plain open). JPEG, PNG and WebP, orientations 1 to 8.
func TestEXIFOrientation(t *testing.T) {
	dir := realImages(t)
	for o := 1; o <= 8; o++ {
		for _, ext := range []string{"jpg", "png", "webp"} {
			name := fmt.Sprintf("orient%d.%s", o, ext)
			t.Run(name, func(t *testing.T) {
				path := filepath.Join(dir, name)
				data, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				if got := Orientation(data); got != o {
					t.Fatalf("Orientation %d, want %d", got, o)
				}
				for _, keep := range []bool{false, true} {
					ref := path + ".transposed.npy"
					if keep {
						ref = path + ".npy"
					}
					w, h, want := pilPixels(t, ref)
					got, err := LoadWith(path, DecodeOptions{KeepOrientation: keep})
					if err != nil {
						t.Fatal(err)
					}
					if got.W != w || got.H != h || maxDiff(want, got.Pix) != 0 {
						t.Errorf("keep=%v: %dx%d, max difference %d from PIL's %dx%d", keep, got.W, got.H, maxDiff(want, got.Pix), w, h)
					}
				}
				// A crop of an oriented image is a crop of the turned image.
				full, _ := LoadWith(path, DecodeOptions{})
				crop, err := DecodeCrop(data, func(w, h int) image.Rectangle { return image.Rect(w/4, h/4, w/4+w/2, h/4+h/2) }, nil)
				if err != nil {
					t.Fatal(err)
				}
				if want := Crop(full, image.Rect(full.W/4, full.H/4, full.W/4+full.W/2, full.H/4+full.H/2)); maxDiff(want.Pix, crop.Pix) != 0 {
					t.Error("DecodeCrop differs from Decode then Crop")
				}
			})
		}
	}
}

// TestOrientationBroken: a damaged or absent tag is orientation 1, never an error.
func TestOrientationBroken(t *testing.T) {
	tiff := func(bo binary.AppendByteOrder, magic string, typ uint16, val uint32) []byte {
		b := []byte(magic)
		b = bo.AppendUint32(b, 8)
		b = bo.AppendUint16(b, 1)
		b = bo.AppendUint16(b, 0x0112)
		b = bo.AppendUint16(b, typ)
		b = bo.AppendUint32(b, 1)
		if typ == 3 {
			b = bo.AppendUint16(b, uint16(val))
			b = bo.AppendUint16(b, 0)
		} else {
			b = bo.AppendUint32(b, val)
		}
		return b
	}
	app1 := func(payload []byte) []byte {
		seg := append([]byte("Exif\x00\x00"), payload...)
		b := []byte{0xff, 0xd8, 0xff, 0xe1}
		b = binary.BigEndian.AppendUint16(b, uint16(len(seg)+2))
		return append(append(b, seg...), 0xff, 0xd9)
	}
	cases := []struct {
		name string
		data []byte
		want int
	}{
		{"big-endian short", app1(tiff(binary.BigEndian, "MM\x00*", 3, 6)), 6},
		{"little-endian long", app1(tiff(binary.LittleEndian, "II*\x00", 4, 8)), 8},
		{"out of range", app1(tiff(binary.LittleEndian, "II*\x00", 3, 9)), 1},
		{"wrong type", app1(tiff(binary.LittleEndian, "II*\x00", 2, 6)), 1},
		{"truncated IFD", app1(tiff(binary.LittleEndian, "II*\x00", 3, 6)[:14]), 1},
		{"bad magic", app1([]byte("XX*\x00\x08\x00\x00\x00")), 1},
		{"segment past the end", []byte{0xff, 0xd8, 0xff, 0xe1, 0xff, 0xff, 'E', 'x'}, 1},
		{"no exif", []byte{0xff, 0xd8, 0xff, 0xd9}, 1},
		{"empty", nil, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := Orientation(c.data); got != c.want {
				t.Errorf("Orientation %d, want %d", got, c.want)
			}
		})
	}
}

// pngHeaderOnly is a PNG that claims w×h pixels and holds none.
func pngHeaderOnly(w, h uint32) []byte {
	ihdr := binary.BigEndian.AppendUint32(nil, w)
	ihdr = binary.BigEndian.AppendUint32(ihdr, h)
	ihdr = append(ihdr, 8, 2, 0, 0, 0)
	b := []byte("\x89PNG\r\n\x1a\n")
	b = binary.BigEndian.AppendUint32(b, uint32(len(ihdr)))
	b = append(b, "IHDR"...)
	b = append(b, ihdr...)
	return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(append([]byte("IHDR"), ihdr...)))
}

// TestPixelLimit: an image whose header claims more pixels than the limit
// is refused before decoding, by name; the limit is PIL's by default.
func TestPixelLimit(t *testing.T) {
	dir := t.TempDir()
	bomb := filepath.Join(dir, "bomb.png")
	os.WriteFile(bomb, pngHeaderOnly(10000, 10000), 0o644)
	small := filepath.Join(dir, "small.png")
	os.WriteFile(small, pngHeaderOnly(100, 100), 0o644)
	var buf bytes.Buffer
	buf.Write(encodeJPEG(t, testImage(64, 48, 1), 90))
	jpg := filepath.Join(dir, "photo.jpg")
	os.WriteFile(jpg, buf.Bytes(), 0o644)
	cases := []struct {
		path  string
		o     DecodeOptions
		limit bool // refused for its size
	}{
		{bomb, DecodeOptions{}, true},
		{small, DecodeOptions{}, false},             // refused, but for its missing pixels
		{bomb, DecodeOptions{MaxPixels: -1}, false}, // no limit: the decoder finds no pixels
		{jpg, DecodeOptions{MaxPixels: 64*48 - 1}, true},
		{jpg, DecodeOptions{MaxPixels: 64 * 48}, false},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%s/%d", filepath.Base(c.path), c.o.MaxPixels), func(t *testing.T) {
			_, err := LoadWith(c.path, c.o)
			if got := errors.Is(err, ErrTooManyPixels); got != c.limit {
				t.Fatalf("error %v; refused for size: %v, want %v", err, got, c.limit)
			}
			if c.limit && !bytes.Contains([]byte(err.Error()), []byte(c.path)) {
				t.Errorf("error %q does not name the file", err)
			}
		})
	}
	if DefaultMaxPixels != 1024*1024*1024/4/3 {
		t.Errorf("DefaultMaxPixels %d, want PIL's MAX_IMAGE_PIXELS", DefaultMaxPixels)
	}
}
