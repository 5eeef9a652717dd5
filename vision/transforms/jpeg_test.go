package transforms

import (
	"bytes"
	"flag"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/gtl-dev/gtl/npy"
)

var jpegDir = flag.String("jpegdir", "", "folder of .jpg files for BenchmarkDecode (default: a generated 500x375 q90 image)")

// encodeJPEG encodes m at quality q (Go's encoder: 4:2:0 chroma).
func encodeJPEG(t testing.TB, m image.Image, q int) []byte {
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, m, &jpeg.Options{Quality: q}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

const pilDecodeScript = `
import sys, numpy as np
from PIL import Image
np.save(sys.argv[2], np.asarray(Image.open(sys.argv[1]).convert("RGB"), dtype=np.uint8))
`

// TestDecodeMatchesPIL checks that Decode gives exactly PIL's pixels (both
// use Debian's libjpeg-turbo with the same settings) and bounds how far Go's
// image/jpeg is from them.
func TestDecodeMatchesPIL(t *testing.T) {
	py := "/usr/bin/python3"
	if _, err := os.Stat(py); err != nil {
		t.Fatal("needs Debian's python3-pil: run scripts/parity/setup.sh")
	}
	if JPEGDecoder != "libjpeg-turbo" {
		t.Skip("built without cgo: Decode uses image/jpeg")
	}
	gray := image.NewGray(image.Rect(0, 0, 97, 61))
	for i := range gray.Pix {
		gray.Pix[i] = uint8(i * 7 % 251)
	}
	dir := t.TempDir()
	tests := []struct {
		name   string
		img    image.Image
		q      int
		goMean float64 // the most Go's decoder may differ by on average
	}{
		{"photo-like 500x375 q90", testImage(500, 375, 1), 90, 6},
		{"odd size q75", testImage(333, 201, 2), 75, 6},
		{"q100", testImage(128, 96, 3), 100, 6},
		{"grayscale", gray, 90, 0.5},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := encodeJPEG(t, tt.img, tt.q)
			src := filepath.Join(dir, fmt.Sprintf("%d.jpg", i))
			os.WriteFile(src, data, 0o644)
			out := filepath.Join(dir, fmt.Sprintf("%d.npy", i))
			if b, err := exec.Command(py, "-c", pilDecodeScript, src, out).CombinedOutput(); err != nil {
				t.Fatalf("PIL: %v\n%s", err, b)
			}
			ref, err := npy.Read(out)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Decode(data)
			if err != nil {
				t.Fatal(err)
			}
			if d := maxDiff(ref.Uint8, got.Pix); d != 0 || ref.Shape[0] != got.H || ref.Shape[1] != got.W {
				t.Errorf("libjpeg-turbo: %dx%d, max difference %d from PIL (%v), want identical", got.W, got.H, d, ref.Shape)
			}
			g, err := DecodeGo(data)
			if err != nil {
				t.Fatal(err)
			}
			// Go upsamples chroma by repetition, libjpeg by interpolation
			// ("fancy upsampling"), and their IDCTs round differently: colour
			// edges differ a lot, the average little.
			d, mean := maxDiff(ref.Uint8, g.Pix), meanDiff(ref.Uint8, g.Pix)
			if mean > tt.goMean {
				t.Errorf("image/jpeg: mean difference %.2f from PIL, want ≤ %g", mean, tt.goMean)
			}
			t.Logf("image/jpeg differs from PIL by %.2f/255 on average, up to %d/255", mean, d)
		})
	}
}

func maxDiff(a, b []uint8) int {
	if len(a) != len(b) {
		return 256
	}
	worst := 0
	for i := range a {
		d := int(a[i]) - int(b[i])
		worst = max(worst, d, -d)
	}
	return worst
}

func meanDiff(a, b []uint8) float64 {
	var sum int
	for i := range a {
		d := int(a[i]) - int(b[i])
		sum += max(d, -d)
	}
	return float64(sum) / float64(len(a))
}

// TestDecodeBad checks that broken files are errors with every decoder,
// never a silently padded image.
func TestDecodeBad(t *testing.T) {
	good := encodeJPEG(t, testImage(64, 48, 4), 90)
	var pngBuf bytes.Buffer
	if err := png.Encode(&pngBuf, testImage(64, 48, 5)); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		data []byte
	}{
		{"zero bytes", nil},
		{"garbage", []byte("not an image at all")},
		{"jpeg header only", good[:200]},
		{"truncated jpeg", good[:len(good)*2/3]},
		{"jpeg without end", good[:len(good)-2]},
		{"truncated png", pngBuf.Bytes()[:pngBuf.Len()/2]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if img, err := Decode(tt.data); err == nil {
				t.Errorf("Decode: no error, got %dx%d", img.W, img.H)
			}
			if img, err := DecodeGo(tt.data); err == nil && tt.name != "jpeg without end" {
				t.Errorf("DecodeGo: no error, got %dx%d", img.W, img.H)
			}
		})
	}
	if _, err := Decode(good); err != nil {
		t.Errorf("good JPEG: %v", err)
	}
}

func TestDecodeScaled(t *testing.T) {
	data := encodeJPEG(t, testImage(500, 375, 6), 90)
	for _, tt := range []struct{ denom, w, h int }{{1, 500, 375}, {2, 250, 188}, {4, 125, 94}, {8, 63, 47}} {
		img, err := DecodeScaled(data, tt.denom, nil)
		if JPEGDecoder != "libjpeg-turbo" {
			if tt.denom != 1 && err == nil {
				t.Errorf("denom %d without libjpeg-turbo: no error", tt.denom)
			}
			continue
		}
		if err != nil || img.W != tt.w || img.H != tt.h {
			t.Errorf("denom %d: %dx%d, %v; want %dx%d", tt.denom, img.W, img.H, err, tt.w, tt.h)
		}
	}
	if _, err := DecodeScaled(data, 3, nil); err == nil {
		t.Error("denom 3: no error")
	}
}

// benchJPEGs returns the files of -jpegdir, or one generated photo-like
// 500x375 quality-90 JPEG.
func benchJPEGs(b *testing.B) [][]byte {
	if *jpegDir == "" {
		return [][]byte{encodeJPEG(b, testImage(500, 375, 7), 90)}
	}
	files, _ := filepath.Glob(filepath.Join(*jpegDir, "*", "*.jpg"))
	if len(files) > 200 {
		files = files[:200]
	}
	var out [][]byte
	for _, f := range files {
		d, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		out = append(out, d)
	}
	if len(out) == 0 {
		b.Fatalf("no %s/<class>/*.jpg files", *jpegDir)
	}
	return out
}

// BenchmarkDecode compares the JPEG decoders on one core (run with
// -cpu 1): go test -bench Decode -cpu 1 ./vision/transforms -jpegdir DIR
func BenchmarkDecode(b *testing.B) {
	files := benchJPEGs(b)
	var px int64
	for _, d := range files {
		m, _ := jpeg.DecodeConfig(bytes.NewReader(d))
		px += int64(m.Width * m.Height)
	}
	b.Run("libjpeg-turbo", func(b *testing.B) {
		var buf []uint8
		cpu := threadCPU(b)
		defer cpu.report(b)
		for i := 0; b.Loop(); i++ {
			img, err := DecodeInto(files[i%len(files)], buf)
			if err != nil {
				b.Fatal(err)
			}
			buf = img.Pix
		}
		b.ReportMetric(float64(px)/float64(len(files))*float64(b.N)/b.Elapsed().Seconds()/1e6, "Mpx/s")
	})
	b.Run("libjpeg-turbo-window", func(b *testing.B) {
		// A window of RandomResizedCrop's mean area (54%), aspect 1, at a
		// random place: what Config.Crop decodes for a training image.
		r := rand.New(rand.NewPCG(1, 2))
		var buf []uint8
		cpu := threadCPU(b)
		defer cpu.report(b)
		for i := 0; b.Loop(); i++ {
			img, err := DecodeCrop(files[i%len(files)], func(w, h int) image.Rectangle {
				s := int(math.Sqrt(0.54 * float64(w*h)))
				s = min(s, w, h)
				x, y := r.IntN(w-s+1), r.IntN(h-s+1)
				return image.Rect(x, y, x+s, y+s)
			}, buf)
			if err != nil {
				b.Fatal(err)
			}
			buf = img.Pix
		}
	})
	b.Run("image-jpeg", func(b *testing.B) {
		cpu := threadCPU(b)
		defer cpu.report(b)
		for i := 0; b.Loop(); i++ {
			if _, err := jpeg.Decode(bytes.NewReader(files[i%len(files)])); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(px)/float64(len(files))*float64(b.N)/b.Elapsed().Seconds()/1e6, "Mpx/s")
	})
	b.Run("image-jpeg-to-rgb", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			if _, err := DecodeGo(files[i%len(files)]); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkResize times a typical RandomResizedCrop resize: a 350×260
// window of a photo to 224×224, bilinear.
func BenchmarkResize(b *testing.B) {
	img := FromImage(testImage(350, 260, 8))
	cpu := threadCPU(b)
	for b.Loop() {
		Resize(img, 224, 224, Bilinear)
	}
	cpu.report(b)
}

// threadCPU measures the CPU time of the benchmark's own thread, which a
// busy shared machine disturbs much less than wall time.
type cpuClock struct{ start time.Duration }

func threadCPU(b *testing.B) cpuClock {
	runtime.LockOSThread()
	b.Cleanup(runtime.UnlockOSThread)
	return cpuClock{threadTime()}
}

func (c cpuClock) report(b *testing.B) {
	b.ReportMetric(float64(threadTime()-c.start)/float64(b.N), "cpu-ns/op")
}

func threadTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(1, &ru) // RUSAGE_THREAD
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestDecodeCrop checks that decoding a window gives exactly the pixels of
// a full decode cropped, for windows anywhere: at the edges, on and off
// block boundaries, one pixel, the whole image.
func TestDecodeCrop(t *testing.T) {
	gray := image.NewGray(image.Rect(0, 0, 97, 61))
	for i := range gray.Pix {
		gray.Pix[i] = uint8(i * 7 % 251)
	}
	images := []struct {
		name string
		data []byte
	}{
		{"4:2:0 500x375", encodeJPEG(t, testImage(500, 375, 11), 90)},
		{"4:2:0 odd 333x201", encodeJPEG(t, testImage(333, 201, 12), 75)},
		{"grayscale", encodeJPEG(t, gray, 90)},
	}
	r := rand.New(rand.NewPCG(3, 4))
	for _, im := range images {
		t.Run(im.name, func(t *testing.T) {
			full, err := Decode(im.data)
			if err != nil {
				t.Fatal(err)
			}
			W, H := full.W, full.H
			windows := []image.Rectangle{image.Rect(0, 0, W, H), image.Rect(0, 0, 1, 1), image.Rect(W-1, H-1, W, H),
				image.Rect(16, 16, 32, 32), image.Rect(15, 17, 49, 33), image.Rect(0, H/2, W, H/2+1), image.Rect(W/2, 0, W/2+1, H)}
			for range 60 {
				x0, y0 := r.IntN(W), r.IntN(H)
				windows = append(windows, image.Rect(x0, y0, x0+1+r.IntN(W-x0), y0+1+r.IntN(H-y0)))
			}
			for _, win := range windows {
				got, err := DecodeCrop(im.data, func(w, h int) image.Rectangle {
					if w != W || h != H {
						t.Fatalf("choose got %dx%d, want %dx%d", w, h, W, H)
					}
					return win
				}, nil)
				if err != nil {
					t.Fatalf("%v: %v", win, err)
				}
				want := Crop(full, win)
				if got.W != want.W || got.H != want.H || maxDiff(got.Pix, want.Pix) != 0 {
					t.Fatalf("window %v: %dx%d differs from the full decode's crop by up to %d", win, got.W, got.H, maxDiff(got.Pix, want.Pix))
				}
			}
		})
	}
	for _, win := range []image.Rectangle{image.Rect(0, 0, 501, 10), image.Rect(-1, 0, 10, 10), image.Rect(5, 5, 5, 9)} {
		if _, err := DecodeCrop(images[0].data, func(int, int) image.Rectangle { return win }, nil); err == nil {
			t.Errorf("window %v: no error", win)
		}
	}
	if _, err := DecodeCrop(images[0].data[:3000], func(w, h int) image.Rectangle { return image.Rect(0, 300, w, h) }, nil); err == nil {
		t.Error("truncated JPEG: no error")
	}
}

// TestDecodeCropFiles runs TestDecodeCrop's check on the JPEGs of
// -jpegdir (real photos, PIL's encoder), 20 random windows each.
func TestDecodeCropFiles(t *testing.T) {
	if *jpegDir == "" {
		t.Skip("no -jpegdir")
	}
	files, _ := filepath.Glob(filepath.Join(*jpegDir, "*", "*.jpg"))
	r := rand.New(rand.NewPCG(5, 6))
	for _, f := range files {
		data, _ := os.ReadFile(f)
		full, err := Decode(data)
		if err != nil {
			t.Fatal(err)
		}
		for range 20 {
			x0, y0 := r.IntN(full.W), r.IntN(full.H)
			win := image.Rect(x0, y0, x0+1+r.IntN(full.W-x0), y0+1+r.IntN(full.H-y0))
			got, err := DecodeCrop(data, func(int, int) image.Rectangle { return win }, nil)
			if err != nil {
				t.Fatal(err)
			}
			if d := maxDiff(got.Pix, Crop(full, win).Pix); d != 0 {
				t.Fatalf("%s window %v: differs by up to %d", f, win, d)
			}
		}
	}
	t.Logf("%d files, 20 windows each: identical", len(files))
}
