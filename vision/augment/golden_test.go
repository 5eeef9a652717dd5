package augment

import (
	"bytes"
	"flag"
	"image"
	"image/png"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/gtl-dev/gtl/npy"
	"github.com/gtl-dev/gtl/vision/transforms"
)

var update = flag.Bool("update", false, "rewrite testdata/golden/*.png")

// strip applies op to the test image with seeds 1..4 and lays the results
// side by side, so one golden shows how the op varies.
func strip(op Op) transforms.RGB {
	src := testImage(64, 48)
	var tiles []transforms.RGB
	for seed := uint64(1); seed <= 4; seed++ {
		tiles = append(tiles, op.Apply(src, seeded(seed)))
	}
	w, h := 0, 0
	for _, t := range tiles {
		w += t.W
		h = max(h, t.H)
	}
	out := transforms.RGB{W: w, H: h, Pix: make([]uint8, 3*w*h)}
	x0 := 0
	for _, t := range tiles {
		for y := 0; y < t.H; y++ {
			copy(out.Pix[3*(y*w+x0):], t.Pix[3*y*t.W:3*(y+1)*t.W])
		}
		x0 += t.W
	}
	return out
}

// fixed is an Op with no randomness, for the goldens of single ops.
type fixed struct {
	name string
	fn   func(transforms.RGB) transforms.RGB
}

func (f fixed) Apply(img transforms.RGB, _ *rand.Rand) transforms.RGB { return f.fn(img) }
func (f fixed) String() string                                        { return f.name }

func autoOp(name string, m float64) fixed {
	for i, n := range autoOps {
		if n == name {
			return fixed{name, func(img transforms.RGB) transforms.RGB { return applyAutoOp(img, i, m, [3]uint8{}) }}
		}
	}
	panic("no op " + name)
}

func toPNG(img transforms.RGB) []byte {
	m := image.NewNRGBA(image.Rect(0, 0, img.W, img.H))
	for i := 0; i < img.W*img.H; i++ {
		copy(m.Pix[4*i:], img.Pix[3*i:3*i+3])
		m.Pix[4*i+3] = 255
	}
	var b bytes.Buffer
	if err := png.Encode(&b, m); err != nil {
		panic(err)
	}
	return b.Bytes()
}

// TestGolden compares each op's output on the synthetic test image, pixel
// byte for pixel byte, with testdata/golden/<op>.png (four seeds side by
// side for random ops). Regenerate with go test ./vision/augment -update,
// and look at the pictures before committing them.
func TestGolden(t *testing.T) {
	light, _ := Preset(PresetLight, 48)
	strong, _ := Preset(PresetStrong, 48)
	none, _ := Preset(PresetNone, 48)
	tests := []struct {
		name string
		op   Op
	}{
		{"input", fixed{"input", func(img transforms.RGB) transforms.RGB { return img }}},
		{"eval", Eval{Size: 40, ResizeSize: 44}},
		{"random_resized_crop", RandomResizedCrop{Size: 48}},
		{"horizontal_flip", HorizontalFlip{P: 0.5}},
		{"rotation", Rotation{Degrees: 30}},
		{"rotation_nearest_fill", Rotation{Degrees: 45, Interp: Nearest, Fill: [3]uint8{0, 255, 0}}},
		{"color_jitter", ColorJitter{Brightness: 0.4, Contrast: 0.4, Saturation: 0.4, Hue: 0.1}},
		{"trivial_augment_wide", TrivialAugmentWide{}},
		{"rand_augment", RandAugment{}},
		{"preset_none", none},
		{"preset_light", light},
		{"preset_strong", strong},
		{"op_shear_x", autoOp("ShearX", 0.3)},
		{"op_shear_y", autoOp("ShearY", -0.3)},
		{"op_translate_x", autoOp("TranslateX", 10)},
		{"op_translate_y", autoOp("TranslateY", -8)},
		{"op_rotate", autoOp("Rotate", 30)},
		{"op_brightness", autoOp("Brightness", 0.6)},
		{"op_color", autoOp("Color", 0.9)},
		{"op_contrast", autoOp("Contrast", -0.6)},
		{"op_sharpness", autoOp("Sharpness", 0.9)},
		{"op_posterize", autoOp("Posterize", 2)},
		{"op_solarize", autoOp("Solarize", 128)},
		{"op_autocontrast", autoOp("AutoContrast", 0)},
		{"op_equalize", autoOp("Equalize", 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := strip(tt.op)
			path := filepath.Join("testdata", "golden", tt.name+".png")
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := npy.WriteFileAtomic(path, toPNG(got)); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := transforms.Load(path)
			if err != nil {
				t.Fatalf("%v (regenerate with -update)", err)
			}
			if want.W != got.W || want.H != got.H {
				t.Fatalf("%s: got %dx%d, golden %dx%d", tt.op, got.W, got.H, want.W, want.H)
			}
			if !bytes.Equal(want.Pix, got.Pix) {
				diff := 0
				for i := range want.Pix {
					if want.Pix[i] != got.Pix[i] {
						diff++
					}
				}
				t.Errorf("%s: %d of %d samples differ from %s", tt.op, diff, len(want.Pix), path)
			}
		})
	}
}
