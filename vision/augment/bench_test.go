package augment

import (
	"testing"

	"github.com/gtl-dev/gtl/vision/transforms"
)

func benchOp(b *testing.B, op Op, img transforms.RGB) {
	r := seeded(1)
	op.Apply(img, r) // warm up
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		op.Apply(img, r)
	}
}

func benchPreset(b *testing.B, name string) {
	p, err := Preset(name, 224)
	if err != nil {
		b.Fatal(err)
	}
	benchOp(b, p, testImage(500, 375))
}

// BenchmarkLight224 is the fine-tuning default on a typical 500×375 photo.
func BenchmarkLight224(b *testing.B) { benchPreset(b, PresetLight) }

// BenchmarkStrong224 adds TrivialAugmentWide.
func BenchmarkStrong224(b *testing.B) { benchPreset(b, PresetStrong) }

// BenchmarkNone224 is the evaluation transform, for comparison.
func BenchmarkNone224(b *testing.B) { benchPreset(b, PresetNone) }

// The single ops on a 224×224 image, as they run after the crop.
func BenchmarkRotation224(b *testing.B) { benchOp(b, Rotation{Degrees: 30}, testImage(224, 224)) }
func BenchmarkColorJitter224(b *testing.B) {
	benchOp(b, ColorJitter{Brightness: 0.4, Contrast: 0.4, Saturation: 0.4, Hue: 0.1}, testImage(224, 224))
}
func BenchmarkTrivialAugmentWide224(b *testing.B) {
	benchOp(b, TrivialAugmentWide{}, testImage(224, 224))
}
func BenchmarkRandAugment224(b *testing.B) { benchOp(b, RandAugment{}, testImage(224, 224)) }

// BenchmarkMixCutMix64 mixes a batch of 64 normalised 224×224 images.
func BenchmarkMixCutMix64(b *testing.B) {
	const n, c, h, w = 64, 3, 224, 224
	batch := Batch{X: make([]float32, n*c*h*w), C: c, H: h, W: w, Labels: make([]int, n), Classes: 100}
	for i := range batch.Labels {
		batch.Labels[i] = i % 100
	}
	m := MixCutMix{MixupAlpha: 0.8, CutMixAlpha: 1, Smoothing: 0.1}
	r := seeded(1)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := m.Apply(batch, r); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEraseCHW224 erases one normalised 224×224 image with P 1.
func BenchmarkEraseCHW224(b *testing.B) {
	x := make([]float32, 3*224*224)
	e := RandomErasing{P: 1}
	r := seeded(1)
	for b.Loop() {
		e.EraseCHW(x, 3, 224, 224, r)
	}
}
