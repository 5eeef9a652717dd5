package finetune

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/sugarme/gotch"

	"github.com/gtl-dev/gtl/torch"
	"github.com/gtl-dev/gtl/vision/datasets"
)

// colourImages makes n images of size s×s whose class (of 3) is their
// dominant colour channel, with seeded noise: a task training learns
// smoothly, so two runs' losses can be compared step by step.
func colourImages(n, s int, seed uint64) *datasets.Images {
	r := rand.New(rand.NewPCG(seed, 3))
	im := &datasets.Images{Height: s, Width: s, Channels: 3, Classes: []string{"red", "green", "blue"}, Pix: make([]uint8, n*s*s*3)}
	for i := 0; i < n; i++ {
		im.Labels = append(im.Labels, i%3)
		for p := 0; p < s*s; p++ {
			for c := 0; c < 3; c++ {
				v := 40 + r.IntN(80)
				if c == i%3 {
					v += 100
				}
				im.Pix[(i*s*s+p)*3+c] = uint8(v)
			}
		}
	}
	return im
}

// TestAMPBFloat16TracksFloat32: the training step with bf16 autocast on the
// CPU (gtl train --amp bf16) trains the same seeded model on the same
// batches to losses that track float32's within bfloat16's precision, and
// leaves the weights in float32; fp16 on the CPU is refused naming the field.
func TestAMPBFloat16TracksFloat32(t *testing.T) {
	losses := map[string][]float64{}
	for _, amp := range []string{"none", "bf16"} {
		w := torch.NewWorker()
		m := newModel(t, w, "resnet18", 7)
		tr := Trainer{Train: TrainSpec{Epochs: 3, Batch: 8, LR: 0.002, AMP: amp}, Seed: 1, Worker: w, Normalize: ImageNetNorm,
			Hooks: Hooks{OnStep: func(s Step) { losses[amp] = append(losses[amp], s.Loss) }}}
		if _, err := tr.Fit(m, m.VS, colourImages(48, 32, 4), nil); err != nil {
			t.Fatal(err)
		}
		if err := w.Do(func() error {
			for name, v := range m.VS.Variables() {
				if v.DType() != gotch.Float && !strings.HasSuffix(name, "num_batches_tracked") {
					t.Errorf("%s: %s after training with amp %s, want float32", name, v.DType(), amp)
				}
			}
			m.Close()
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		w.Close()
	}
	fp, bf := losses["none"], losses["bf16"]
	if len(fp) != 18 || len(bf) != len(fp) {
		t.Fatalf("steps: fp32 %d, bf16 %d, want 18", len(fp), len(bf))
	}
	// The first step's forward pass in bfloat16 (8 bits of mantissa) lands
	// within 1% of float32's, and differs (autocast was on). After it the
	// runs part step by step (batch norm on 8 images magnifies rounding),
	// so each epoch's mean loss is compared: both fall by more than 5x, and
	// track each other within 0.1 or 30%.
	if d := math.Abs(bf[0]-fp[0]) / fp[0]; d == 0 || d > 0.01 {
		t.Errorf("first step: bf16 loss %v, fp32 %v", bf[0], fp[0])
	}
	mean := func(l []float64, e int) float64 {
		s := 0.0
		for _, v := range l[e*6 : e*6+6] {
			s += v
		}
		return s / 6
	}
	for e := 0; e < 3; e++ {
		b, f := mean(bf, e), mean(fp, e)
		if math.IsNaN(b) || math.Abs(b-f) > max(0.1, 0.3*f) {
			t.Errorf("epoch %d: mean loss bf16 %.4f, fp32 %.4f", e+1, b, f)
		}
	}
	if !(mean(bf, 2) < mean(bf, 0)/5 && mean(fp, 2) < mean(fp, 0)/5) {
		t.Errorf("losses did not fall: bf16 %v\nfp32 %v", bf, fp)
	}
	if err := (TrainSpec{AMP: "fp16"}).CheckOn("cpu"); err == nil || err.(*FieldError).Field != "Train.AMP" {
		t.Errorf("fp16 on the CPU: %v, want a Train.AMP field error", err)
	}
}
