package augment

import (
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gtl-dev/gtl/npy"
	"github.com/gtl-dev/gtl/vision/transforms"
)

// parityScript applies torchvision.transforms.functional ops to a PIL
// image; each argv entry after the image and output folder is
// "name:python expression of img".
const parityScript = `
import sys, math, numpy as np
from PIL import Image
import torchvision.transforms.functional as F
from torchvision.transforms import InterpolationMode as I
from torchvision.transforms.autoaugment import _apply_op
img = Image.open(sys.argv[1]).convert("RGB")
for spec in sys.argv[3:]:
    name, expr = spec.split(":", 1)
    out = eval(expr)
    np.save(sys.argv[2] + "/" + name + ".npy", np.asarray(out, dtype=np.uint8))
`

func noiseImage(w, h int) transforms.RGB {
	img := transforms.RGB{W: w, H: h, Pix: make([]uint8, 3*w*h)}
	r := seeded(99)
	for i := range img.Pix {
		img.Pix[i] = uint8(r.IntN(256))
	}
	return img
}

func writePNG(t *testing.T, path string, img transforms.RGB) {
	m := image.NewNRGBA(image.Rect(0, 0, img.W, img.H))
	for i := 0; i < img.W*img.H; i++ {
		m.Pix[4*i], m.Pix[4*i+1], m.Pix[4*i+2], m.Pix[4*i+3] = img.Pix[3*i], img.Pix[3*i+1], img.Pix[3*i+2], 255
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := png.Encode(f, m); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestOpsMatchTorchvision compares the Pillow-level ops with fixed
// parameters against torchvision 0.14's functional transforms on PIL
// images, byte for byte.
func TestOpsMatchTorchvision(t *testing.T) {
	if testing.Short() {
		t.Skip("parity with torchvision: run without -short (needs Debian's /usr/bin/python3 with torchvision)")
	}
	py := "/usr/bin/python3"
	if _, err := os.Stat(py); err != nil {
		t.Fatal("needs Debian's python3-torchvision: run scripts/parity/setup.sh")
	}
	shear := func(m float64) float64 { return math.Atan(m) * degrees }
	var black [3]uint8
	tests := []struct {
		name string
		py   string
		fn   func(transforms.RGB) transforms.RGB
	}{
		{"hflip", "F.hflip(img)", func(m transforms.RGB) transforms.RGB { return HorizontalFlip{P: 1}.Apply(m, seeded(1)) }},
		{"resized_crop", "F.resized_crop(img, 5, 3, 20, 17, [32, 32], I.BILINEAR)", func(m transforms.RGB) transforms.RGB {
			return transforms.Resize(Crop(m, Window{X: 3, Y: 5, W: 17, H: 20}), 32, 32, transforms.Bilinear)
		}},
		{"brightness_0.4", "F.adjust_brightness(img, 0.4)", func(m transforms.RGB) transforms.RGB { return adjustBrightness(m, 0.4) }},
		{"brightness_1.7", "F.adjust_brightness(img, 1.7)", func(m transforms.RGB) transforms.RGB { return adjustBrightness(m, 1.7) }},
		{"contrast_0.3", "F.adjust_contrast(img, 0.3)", func(m transforms.RGB) transforms.RGB { return adjustContrast(m, 0.3) }},
		{"contrast_1.8", "F.adjust_contrast(img, 1.8)", func(m transforms.RGB) transforms.RGB { return adjustContrast(m, 1.8) }},
		{"saturation_0.2", "F.adjust_saturation(img, 0.2)", func(m transforms.RGB) transforms.RGB { return adjustSaturation(m, 0.2) }},
		{"saturation_1.9", "F.adjust_saturation(img, 1.9)", func(m transforms.RGB) transforms.RGB { return adjustSaturation(m, 1.9) }},
		{"sharpness_0.1", "F.adjust_sharpness(img, 0.1)", func(m transforms.RGB) transforms.RGB { return adjustSharpness(m, 0.1) }},
		{"sharpness_1.9", "F.adjust_sharpness(img, 1.9)", func(m transforms.RGB) transforms.RGB { return adjustSharpness(m, 1.9) }},
		{"hue_-0.3", "F.adjust_hue(img, -0.3)", func(m transforms.RGB) transforms.RGB { return adjustHue(m, -0.3) }},
		{"hue_0.2", "F.adjust_hue(img, 0.2)", func(m transforms.RGB) transforms.RGB { return adjustHue(m, 0.2) }},
		{"posterize_3", "F.posterize(img, 3)", func(m transforms.RGB) transforms.RGB { return posterize(m, 3) }},
		{"solarize_99.5", "F.solarize(img, 99.5)", func(m transforms.RGB) transforms.RGB { return solarize(m, 99.5) }},
		{"autocontrast", "F.autocontrast(img)", autocontrast},
		{"equalize", "F.equalize(img)", equalize},
		{"rotate_bilinear_23.7", "F.rotate(img, 23.7, I.BILINEAR, fill=0)", func(m transforms.RGB) transforms.RGB { return rotate(m, 23.7, Bilinear, black) }},
		{"rotate_bilinear_-131", "F.rotate(img, -131.0, I.BILINEAR, fill=0)", func(m transforms.RGB) transforms.RGB { return rotate(m, -131, Bilinear, black) }},
		{"rotate_nearest_-17.3", "F.rotate(img, -17.3, I.NEAREST, fill=None)", func(m transforms.RGB) transforms.RGB { return rotate(m, -17.3, Nearest, black) }},
		// Pillow transposes for 90 and 270 on square images (TrivialAugmentWide's bin 20 is 90).
		{"rotate_90", "F.rotate(img, 90.0, I.NEAREST)", func(m transforms.RGB) transforms.RGB { return rotate(m, 90, Nearest, black) }},
		{"rotate_-90", "F.rotate(img, -90.0, I.NEAREST)", func(m transforms.RGB) transforms.RGB { return rotate(m, -90, Nearest, black) }},
		{"rotate_bilinear_90", "F.rotate(img, 90.0, I.BILINEAR)", func(m transforms.RGB) transforms.RGB { return rotate(m, 90, Bilinear, black) }},
		{"rotate_180", "F.rotate(img, 180.0, I.NEAREST)", func(m transforms.RGB) transforms.RGB { return rotate(m, 180, Nearest, black) }},
		{"shear_x_0.3", "F.affine(img, angle=0.0, translate=[0, 0], scale=1.0, shear=[math.degrees(math.atan(0.3)), 0.0], interpolation=I.NEAREST, fill=None, center=[0, 0])", func(m transforms.RGB) transforms.RGB {
			return torchAffine(m, 0, 0, 0, shear(0.3), 0, &[2]float64{}, Nearest, black)
		}},
		{"shear_y_-0.66", "F.affine(img, angle=0.0, translate=[0, 0], scale=1.0, shear=[0.0, math.degrees(math.atan(-0.66))], interpolation=I.NEAREST, fill=None, center=[0, 0])", func(m transforms.RGB) transforms.RGB {
			return torchAffine(m, 0, 0, 0, 0, shear(-0.66), &[2]float64{}, Nearest, black)
		}},
		{"translate_x_7", "F.affine(img, angle=0.0, translate=[7, 0], scale=1.0, shear=[0.0, 0.0], interpolation=I.NEAREST, fill=None)", func(m transforms.RGB) transforms.RGB {
			return torchAffine(m, 0, 7, 0, 0, 0, nil, Nearest, black)
		}},
		{"translate_y_-5", "F.affine(img, angle=0.0, translate=[0, -5], scale=1.0, shear=[0.0, 0.0], interpolation=I.NEAREST, fill=None)", func(m transforms.RGB) transforms.RGB {
			return torchAffine(m, 0, 0, -5, 0, 0, nil, Nearest, black)
		}},
	}
	for _, a := range []float64{7.3, 45, 135, -163.2, 271.9} {
		for _, in := range []Interpolation{Bilinear, Nearest} {
			tests = append(tests, struct {
				name string
				py   string
				fn   func(transforms.RGB) transforms.RGB
			}{fmt.Sprintf("rotate_%s_%g", in, a), fmt.Sprintf("F.rotate(img, %v, I.%s, fill=[0, 0, 0])", a, strings.ToUpper(in.String())), func(img transforms.RGB) transforms.RGB {
				return rotate(img, a, in, black)
			}})
		}
	}
	for i, m := range []float64{0, 0.6, -0.33, -0.99, 13.4, -31, 97, -135, 0.9, 5, 255, 121.1} {
		for op := 1; op < len(autoOps); op++ {
			name := fmt.Sprintf("auto_%s_%g", autoOps[op], m)
			if i > 0 && op >= 12 || op == 10 && (m < 1 || m > 8) {
				continue // no magnitude, or not a bit count
			}
			tests = append(tests, struct {
				name string
				py   string
				fn   func(transforms.RGB) transforms.RGB
			}{name, fmt.Sprintf("_apply_op(img, %q, %v, I.NEAREST, None)", autoOps[op], m), func(img transforms.RGB) transforms.RGB {
				return applyAutoOp(img, op, m, black)
			}})
		}
	}
	images := []struct {
		name string
		img  transforms.RGB
	}{{"test64x48", testImage(64, 48)}, {"noise37x29", noiseImage(37, 29)}, {"noise32x32", noiseImage(32, 32)}, {"noise33x33", noiseImage(33, 33)}}
	for _, im := range images {
		dir := t.TempDir()
		src := filepath.Join(dir, "in.png")
		writePNG(t, src, im.img)
		args := []string{"-c", parityScript, src, dir}
		for _, tt := range tests {
			args = append(args, tt.name+":"+tt.py)
		}
		if b, err := exec.Command(py, args...).CombinedOutput(); err != nil {
			t.Fatalf("torchvision: %v\n%s", err, b)
		}
		for _, tt := range tests {
			t.Run(im.name+"/"+tt.name, func(t *testing.T) {
				ref, err := npy.Read(filepath.Join(dir, tt.name+".npy"))
				if err != nil {
					t.Fatal(err)
				}
				got := tt.fn(im.img)
				if ref.Shape[0] != got.H || ref.Shape[1] != got.W {
					t.Fatalf("size %dx%d, torchvision %v", got.W, got.H, ref.Shape)
				}
				diff, worst := 0, 0
				var where []string
				for j, v := range ref.Uint8 {
					d := int(v) - int(got.Pix[j])
					if d != 0 {
						diff++
						if len(where) < 4 {
							where = append(where, fmt.Sprintf("(%d,%d,c%d) %d vs %d", j/3%got.W, j/3/got.W, j%3, got.Pix[j], v))
						}
					}
					worst = max(worst, d, -d)
				}
				if diff > 0 {
					t.Errorf("%d samples differ from torchvision, worst by %d: %s", diff, worst, strings.Join(where, "; "))
				}
			})
		}
	}
}

// TestMagnitudeTablesMatchTorchvision compares the magnitude tables with
// torchvision's _augmentation_space, value for value within one float32
// ulp (see linspace).
func TestMagnitudeTablesMatchTorchvision(t *testing.T) {
	if testing.Short() {
		t.Skip("parity with torchvision: run without -short")
	}
	const script = `
import json
from torchvision.transforms import autoaugment as A
def dump(space):
    return [[k, v[0].tolist() if v[0].ndim > 0 else None, v[1]] for k, v in space.items()]
print(json.dumps({"trivial": dump(A.TrivialAugmentWide()._augmentation_space(31)),
                  "rand": dump(A.RandAugment()._augmentation_space(31, (48, 64)))}))
`
	b, err := exec.Command("/usr/bin/python3", "-c", script).Output()
	if err != nil {
		t.Fatalf("torchvision: %v", err)
	}
	var ref map[string][][3]any
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	for name, got := range map[string][len(autoOps)]magnitudes{"trivial": trivialSpace(31), "rand": randSpace(31, 64, 48)} {
		if len(ref[name]) != len(autoOps) {
			t.Fatalf("%s: torchvision has %d ops, want %d", name, len(ref[name]), len(autoOps))
		}
		for i, row := range ref[name] {
			if row[0] != autoOps[i] || row[2] != got[i].signed {
				t.Errorf("%s op %d: torchvision %v %v, got %s %v", name, i, row[0], row[2], autoOps[i], got[i].signed)
			}
			var want []float64
			if row[1] != nil {
				for _, v := range row[1].([]any) {
					want = append(want, v.(float64))
				}
			}
			if len(want) != len(got[i].bins) {
				t.Fatalf("%s %s: %d magnitudes, torchvision %d", name, autoOps[i], len(got[i].bins), len(want))
			}
			for j, w := range want {
				g := got[i].bins[j]
				if g != w && math.Nextafter32(float32(g), float32(w)) != float32(w) {
					t.Errorf("%s %s bin %d: magnitude %v, torchvision %v", name, autoOps[i], j, g, w)
				}
			}
		}
	}
}
