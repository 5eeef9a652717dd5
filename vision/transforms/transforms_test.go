package transforms

import (
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gtl-dev/gtl/npy"
)

// testImage makes a w×h picture with gradients, edges and noise, so that
// resampling errors would show.
func testImage(w, h int, seed uint64) *image.NRGBA {
	r := rand.New(rand.NewPCG(seed, 1))
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			c := color.NRGBA{uint8(x * 255 / w), uint8(y * 255 / h), uint8((x ^ y) & 0xff), 255}
			if (x/7+y/5)%3 == 0 {
				c.B = uint8(r.IntN(256))
			}
			m.SetNRGBA(x, y, c)
		}
	}
	return m
}

const pilScript = `
import sys, numpy as np
from PIL import Image
import torchvision.transforms as T
from torchvision.transforms import InterpolationMode as I
src, out, crop, resize, interp = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
img = Image.open(src).convert("RGB")
t = T.Compose([T.Resize(resize, interpolation=getattr(I, interp.upper())), T.CenterCrop(crop)])
np.save(out, np.asarray(t(img), dtype=np.uint8))
`

// TestEvalMatchesTorchvision compares Eval with torchvision's Resize +
// CenterCrop on PIL images, before normalisation. Decode uses the same
// libjpeg-turbo as PIL, so JPEG input must match exactly too.
func TestEvalMatchesTorchvision(t *testing.T) {
	py := "/usr/bin/python3"
	if _, err := os.Stat(py); err != nil {
		t.Fatal("needs Debian's python3-torchvision: run scripts/parity/setup.sh")
	}
	dir := t.TempDir()
	tests := []struct {
		name       string
		w, h       int
		crop, size int
		f          Filter
		jpeg       bool
		maxDiff    int
	}{
		{"landscape bilinear", 500, 375, 224, 256, Bilinear, false, 0},
		{"portrait bilinear", 301, 640, 224, 256, Bilinear, false, 0},
		{"upscale bilinear", 120, 90, 224, 256, Bilinear, false, 0},
		{"bicubic efficientnet_b3", 500, 375, 300, 320, Bicubic, false, 0},
		{"inception", 640, 480, 299, 342, Bilinear, false, 0},
		{"small crop odd offsets", 257, 300, 224, 225, Bilinear, false, 0},
		{"jpeg", 500, 375, 224, 256, Bilinear, true, 0}, // same libjpeg-turbo as PIL
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := filepath.Join(dir, fmt.Sprintf("img%d.png", i))
			f, _ := os.Create(src)
			img := testImage(tt.w, tt.h, uint64(i))
			if tt.jpeg {
				src = strings.TrimSuffix(src, ".png") + ".jpg"
				f.Close()
				f, _ = os.Create(src)
				// Smooth content so both decoders agree closely; the test bounds
				// the gap their IDCTs and chroma upsampling leave.
				for y := 0; y < tt.h; y++ {
					for x := 0; x < tt.w; x++ {
						img.SetNRGBA(x, y, color.NRGBA{uint8(x * 255 / tt.w), uint8(y * 255 / tt.h), 128, 255})
					}
				}
				if err := jpeg.Encode(f, img, &jpeg.Options{Quality: 95}); err != nil {
					t.Fatal(err)
				}
			} else if err := png.Encode(f, img); err != nil {
				t.Fatal(err)
			}
			f.Close()
			out := filepath.Join(dir, fmt.Sprintf("ref%d.npy", i))
			if b, err := exec.Command(py, "-c", pilScript, src, out, fmt.Sprint(tt.crop), fmt.Sprint(tt.size), tt.f.String()).CombinedOutput(); err != nil {
				t.Fatalf("torchvision: %v\n%s", err, b)
			}
			ref, err := npy.Read(out)
			if err != nil {
				t.Fatal(err)
			}
			in, err := Load(src)
			if err != nil {
				t.Fatal(err)
			}
			got := EvalPreset(tt.crop, tt.size, tt.f).Apply(in)
			if ref.Shape[0] != got.H || ref.Shape[1] != got.W {
				t.Fatalf("size %dx%d, torchvision %v", got.W, got.H, ref.Shape)
			}
			worst := 0
			for j, v := range ref.Uint8 {
				d := int(v) - int(got.Pix[j])
				worst = max(worst, d, -d)
			}
			if worst > tt.maxDiff {
				t.Errorf("max pixel difference %d/255, want ≤ %d", worst, tt.maxDiff)
			}
			t.Logf("max pixel difference %d/255", worst)
		})
	}
}

func TestCHW(t *testing.T) {
	img := RGB{W: 2, H: 1, Pix: []uint8{255, 0, 51, 0, 255, 102}}
	got := img.CHW([3]float32{0, 0.5, 0}, [3]float32{1, 0.5, 2})
	want := []float32{1, 0, -1, 1, 0.1, 0.2}
	for i := range want {
		if d := got[i] - want[i]; d > 1e-6 || d < -1e-6 {
			t.Fatalf("CHW = %v, want %v", got, want)
		}
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.jpg")
	os.WriteFile(bad, []byte("not an image"), 0o644)
	for _, p := range []string{bad, filepath.Join(dir, "missing.png")} {
		if _, err := Load(p); err == nil || !strings.Contains(err.Error(), p) {
			t.Errorf("Load(%s) err = %v, want an error naming the file", p, err)
		}
	}
	gray := image.NewGray(image.Rect(0, 0, 2, 1))
	gray.Pix = []uint8{10, 200}
	if got := FromImage(gray); fmt.Sprint(got.Pix) != "[10 10 10 200 200 200]" {
		t.Errorf("gray to RGB: %v", got.Pix)
	}
}
