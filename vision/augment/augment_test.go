package augment

import (
	"bytes"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gtl-dev/gtl/vision/transforms"
)

// testImage is a deterministic w×h picture with gradients, a disc, a bar
// and thin text-like strokes, asymmetric so that flips and rotations show.
func testImage(w, h int) transforms.RGB {
	img := transforms.RGB{W: w, H: h, Pix: make([]uint8, 3*w*h)}
	cx, cy, rad := float64(w)*0.3, float64(h)*0.4, float64(h)*0.25
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			r, g, b := uint8(x*255/w), uint8(y*255/h), uint8(128)
			dx, dy := float64(x)-cx, float64(y)-cy
			if dx*dx+dy*dy < rad*rad {
				r, g, b = 230, 40, 40
			}
			if x > w*3/5 && x < w*3/5+w/10 && y > h/6 {
				r, g, b = 20, 20, 200
			}
			// "text": strokes in the lower right corner.
			if y > h*3/4 && y < h*3/4+h/8 && x > w/2 && (x%4 == 0 || y == h*3/4+1) {
				r, g, b = 255, 255, 255
			}
			i := 3 * (y*w + x)
			img.Pix[i], img.Pix[i+1], img.Pix[i+2] = r, g, b
		}
	}
	return img
}

func seeded(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0x5eed)) }

func TestFlipRate(t *testing.T) {
	const n = 20000
	img := transforms.RGB{W: 2, H: 1, Pix: []uint8{1, 2, 3, 4, 5, 6}}
	for _, p := range []float64{0, 0.1, 0.5, 1} {
		t.Run("", func(t *testing.T) {
			r := seeded(7)
			flips := 0
			for range n {
				if (HorizontalFlip{P: p}).Apply(img, r).Pix[0] == 4 {
					flips++
				}
			}
			rate := float64(flips) / n
			sigma := math.Sqrt(p * (1 - p) / n)
			if math.Abs(rate-p) > 4*sigma {
				t.Errorf("p=%g: flip rate %g, want within 4σ=%g", p, rate, 4*sigma)
			}
		})
	}
}

func TestFlip(t *testing.T) {
	img := transforms.RGB{W: 3, H: 2, Pix: []uint8{
		1, 2, 3, 4, 5, 6, 7, 8, 9,
		10, 11, 12, 13, 14, 15, 16, 17, 18,
	}}
	want := []uint8{
		7, 8, 9, 4, 5, 6, 1, 2, 3,
		16, 17, 18, 13, 14, 15, 10, 11, 12,
	}
	orig := append([]uint8(nil), img.Pix...)
	got := HorizontalFlip{P: 1}.Apply(img, seeded(1))
	if !bytes.Equal(got.Pix, want) {
		t.Errorf("flip = %v, want %v", got.Pix, want)
	}
	if !bytes.Equal(img.Pix, orig) {
		t.Error("flip wrote to its input")
	}
	owned := transforms.RGB{W: 3, H: 2, Pix: append([]uint8(nil), orig...)}
	if got := (HorizontalFlip{P: 1}).applyOwned(owned, seeded(1)); !bytes.Equal(got.Pix, want) {
		t.Errorf("in-place flip = %v, want %v", got.Pix, want)
	}
}

func TestRandomResizedCropParams(t *testing.T) {
	tests := []struct {
		name  string
		w, h  int
		scale [2]float64
		ratio [2]float64
	}{
		{"default 500x375", 500, 375, [2]float64{}, [2]float64{}},
		{"light 64x48", 64, 48, [2]float64{0.35, 1}, [2]float64{}},
		{"tall 20x300", 20, 300, [2]float64{}, [2]float64{}},
		{"wide ratio", 300, 100, [2]float64{0.5, 1}, [2]float64{2, 3}},
		{"tiny 1x1", 1, 1, [2]float64{}, [2]float64{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := RandomResizedCrop{Size: 8, Scale: tt.scale, Ratio: tt.ratio}.defaults()
			r := seeded(3)
			for i := range 2000 {
				win, fallback := c.Params(tt.w, tt.h, r)
				if win.X < 0 || win.Y < 0 || win.W <= 0 || win.H <= 0 || win.X+win.W > tt.w || win.Y+win.H > tt.h {
					t.Fatalf("draw %d: window %+v outside %dx%d", i, win, tt.w, tt.h)
				}
				if fallback {
					continue
				}
				// Rounding each side to an integer moves the share by at
				// most about one row and one column.
				share := float64(win.W*win.H) / float64(tt.w*tt.h)
				slack := float64(win.W+win.H+1) / float64(tt.w*tt.h)
				if share < c.Scale[0]-slack || share > c.Scale[1]+slack {
					t.Fatalf("draw %d: area share %g outside %v", i, share, c.Scale)
				}
			}
		})
	}
}

func TestRandomResizedCropFallback(t *testing.T) {
	// A 1000x10 image cannot hold any window with ratio in [3/4, 4/3] and
	// area share ≥ 0.08 (which needs a side of ~28), so every draw falls back
	// to the centred 13x10 window (round(10·4/3) = 13).
	win, fallback := RandomResizedCrop{Size: 4}.Params(1000, 10, seeded(1))
	if want := (Window{X: 493, Y: 0, W: 13, H: 10}); !fallback || win != want {
		t.Errorf("Params = %+v, %v; want %+v, true", win, fallback, want)
	}
}

func TestRandomResizedCropOutput(t *testing.T) {
	img := testImage(64, 48)
	for _, size := range []int{1, 17, 32, 100} {
		out := RandomResizedCrop{Size: size}.Apply(img, seeded(uint64(size)))
		if out.W != size || out.H != size || len(out.Pix) != 3*size*size {
			t.Errorf("size %d: got %dx%d (%d bytes)", size, out.W, out.H, len(out.Pix))
		}
	}
}

func TestPreset(t *testing.T) {
	img := testImage(64, 48)
	for _, name := range []string{PresetNone, PresetLight, PresetStrong} {
		t.Run(name, func(t *testing.T) {
			p, err := Preset(name, 32)
			if err != nil {
				t.Fatal(err)
			}
			orig := append([]uint8(nil), img.Pix...)
			out := p.Apply(img, seeded(1))
			if out.W != 32 || out.H != 32 {
				t.Errorf("output %dx%d, want 32x32", out.W, out.H)
			}
			if !bytes.Equal(img.Pix, orig) {
				t.Error("pipeline wrote to its input")
			}
		})
	}
	for _, bad := range []struct {
		name string
		size int
	}{{"heavy", 32}, {"light", 0}} {
		if _, err := Preset(bad.name, bad.size); err == nil {
			t.Errorf("Preset(%q, %d): no error", bad.name, bad.size)
		}
	}
	want := transforms.EvalPreset(32, 32, transforms.Bilinear).Apply(img)
	p, _ := Preset(PresetNone, 32)
	if got := p.Apply(img, seeded(1)); !bytes.Equal(got.Pix, want.Pix) {
		t.Error(`preset "none" differs from transforms.EvalPreset`)
	}
}

func TestDeterminism(t *testing.T) {
	img := testImage(64, 48)
	p, _ := Preset(PresetLight, 32)
	a := p.Apply(img, seeded(42))
	b := p.Apply(img, seeded(42))
	if !bytes.Equal(a.Pix, b.Pix) {
		t.Error("same seed gave different images")
	}
	differ := 0
	for s := uint64(1); s <= 5; s++ {
		if !bytes.Equal(a.Pix, p.Apply(img, seeded(42+s)).Pix) {
			differ++
		}
	}
	if differ == 0 {
		t.Error("five other seeds all gave the seed-42 image")
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		p    Pipeline
		ok   bool
	}{
		{"light", Pipeline{RandomResizedCrop{Size: 8, Scale: [2]float64{0.35, 1}}, HorizontalFlip{P: 0.5}}, true},
		{"all defaults", Pipeline{Eval{Size: 4}, Rotation{Degrees: 10}, ColorJitter{Hue: 0.5}, TrivialAugmentWide{}, RandAugment{}}, true},
		{"crop size 0", Pipeline{RandomResizedCrop{}}, false},
		{"scale reversed", Pipeline{RandomResizedCrop{Size: 8, Scale: [2]float64{0.9, 0.2}}}, false},
		{"scale above 1", Pipeline{RandomResizedCrop{Size: 8, Scale: [2]float64{0.5, 1.5}}}, false},
		{"flip p 2", Pipeline{HorizontalFlip{P: 2}}, false},
		{"hue 0.7", Pipeline{ColorJitter{Hue: 0.7}}, false},
		{"negative degrees", Pipeline{Rotation{Degrees: -5}}, false},
		{"magnitude past bins", Pipeline{RandAugment{M: 31}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.p.Validate(); (err == nil) != tt.ok {
				t.Errorf("Validate() = %v, want ok %v", err, tt.ok)
			}
		})
	}
	for _, name := range []string{PresetNone, PresetLight, PresetStrong} {
		p, _ := Preset(name, 224)
		if err := p.Validate(); err != nil {
			t.Errorf("preset %s: %v", name, err)
		}
	}
	if err := (RandomErasing{P: 0.5}).Validate(); err != nil {
		t.Error(err)
	}
	if err := (RandomErasing{P: 0.5, Scale: [2]float64{0.5, 0.1}}).Validate(); err == nil {
		t.Error("reversed erasing scale: no error")
	}
}

func TestIdentityCases(t *testing.T) {
	img := testImage(64, 48)
	tests := []struct {
		name string
		op   Op
	}{
		{"rotation 0", Rotation{}},
		{"jitter 0", ColorJitter{}},
		{"flip p 0", HorizontalFlip{}},
		{"empty pipeline", Pipeline{}},
		{"crop to full size", Pipeline{RandomResizedCrop{Size: 48, Scale: [2]float64{1, 1}, Ratio: [2]float64{1, 1}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := testImage(48, 48)
			if tt.name != "crop to full size" {
				src = img
			}
			for seed := range uint64(20) {
				if got := tt.op.Apply(src, seeded(seed)); !bytes.Equal(got.Pix, src.Pix) || got.W != src.W {
					t.Fatalf("seed %d: image changed", seed)
				}
			}
		})
	}
	for _, f := range []struct {
		name string
		fn   func(transforms.RGB) transforms.RGB
	}{
		{"brightness 1", func(m transforms.RGB) transforms.RGB { return adjustBrightness(m, 1) }},
		{"contrast 1", func(m transforms.RGB) transforms.RGB { return adjustContrast(m, 1) }},
		{"saturation 1", func(m transforms.RGB) transforms.RGB { return adjustSaturation(m, 1) }},
		{"sharpness 1", func(m transforms.RGB) transforms.RGB { return adjustSharpness(m, 1) }},
		// (No hue 0: like torchvision's, it goes through Pillow's lossy
		// 8-bit HSV and back; ColorJitter{Hue: 0} skips it.)
		{"posterize 8", func(m transforms.RGB) transforms.RGB { return posterize(m, 8) }},
		{"solarize 256", func(m transforms.RGB) transforms.RGB { return solarize(m, 256) }},
		{"rotate 360", func(m transforms.RGB) transforms.RGB { return rotate(m, 360, Bilinear, [3]uint8{}) }},
	} {
		if got := f.fn(img); !bytes.Equal(got.Pix, img.Pix) {
			t.Errorf("%s: image changed", f.name)
		}
	}
}

// TestOpDeterminism runs every random op with equal and with different
// seeds, and checks that none writes to its input.
func TestOpDeterminism(t *testing.T) {
	img := testImage(64, 48)
	orig := append([]uint8(nil), img.Pix...)
	ops := []Op{
		RandomResizedCrop{Size: 32},
		HorizontalFlip{P: 0.5},
		Rotation{Degrees: 30},
		ColorJitter{Brightness: 0.4, Contrast: 0.4, Saturation: 0.4, Hue: 0.1},
		TrivialAugmentWide{},
		RandAugment{},
		Pipeline{RandomResizedCrop{Size: 32}, HorizontalFlip{P: 0.5}, TrivialAugmentWide{}},
	}
	for _, op := range ops {
		t.Run(op.String(), func(t *testing.T) {
			outs := map[string]bool{}
			for seed := range uint64(8) {
				a, b := op.Apply(img, seeded(seed)), op.Apply(img, seeded(seed))
				if !bytes.Equal(a.Pix, b.Pix) {
					t.Fatalf("seed %d: two runs differ", seed)
				}
				outs[string(a.Pix)] = true
			}
			want := 3
			if _, ok := op.(HorizontalFlip); ok {
				want = 2
			}
			if len(outs) < want {
				t.Errorf("8 seeds gave only %d different images", len(outs))
			}
			if !bytes.Equal(img.Pix, orig) {
				t.Fatal("op wrote to its input")
			}
		})
	}
}

// TestPipelineOwnership checks that ops after the first work in place
// only on images the pipeline made, never on the caller's.
func TestPipelineOwnership(t *testing.T) {
	img := testImage(64, 48)
	orig := append([]uint8(nil), img.Pix...)
	twice := Pipeline{HorizontalFlip{P: 1}, HorizontalFlip{P: 1}}
	if got := twice.Apply(img, seeded(1)); !bytes.Equal(got.Pix, orig) {
		t.Error("two flips did not give the input back")
	}
	if !bytes.Equal(img.Pix, orig) {
		t.Error("pipeline wrote to its input")
	}
	crop := RandomResizedCrop{Size: 32}
	want := HorizontalFlip{P: 1}.Apply(crop.Apply(img, seeded(5)), seeded(5))
	if got := (Pipeline{crop, HorizontalFlip{P: 1}}).Apply(img, seeded(5)); !bytes.Equal(got.Pix, want.Pix) {
		t.Error("in-place flip after a crop differs from a copying flip")
	}
}
