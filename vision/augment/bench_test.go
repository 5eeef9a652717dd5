package augment

import "testing"

func benchPreset(b *testing.B, name string) {
	img := testImage(500, 375)
	p, err := Preset(name, 224)
	if err != nil {
		b.Fatal(err)
	}
	r := seeded(1)
	p.Apply(img, r) // warm up
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		p.Apply(img, r)
	}
}

// BenchmarkLight224 is the fine-tuning default on a typical 500×375 photo.
func BenchmarkLight224(b *testing.B) { benchPreset(b, PresetLight) }

// BenchmarkNone224 is the evaluation transform, for comparison.
func BenchmarkNone224(b *testing.B) { benchPreset(b, PresetNone) }
