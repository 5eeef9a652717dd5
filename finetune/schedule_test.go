package finetune

import (
	"math"
	"strings"
	"testing"

	"github.com/gtl-dev/gtl/torch"
)

func TestSchedules(t *testing.T) {
	tests := []struct {
		name   string
		warmup float64
		at     map[int]float64 // step -> multiplier, of 100 steps
	}{
		{"constant", 0, map[int]float64{0: 1, 99: 1}},
		{"constant", 0.1, map[int]float64{0: 1.0 / 11, 9: 10.0 / 11, 10: 1}},
		{"cosine", 0, map[int]float64{0: 1, 50: 0.5, 100: 0}},
		{"cosine", 0.2, map[int]float64{0: 1.0 / 21, 20: 1, 60: 0.5}},
		{"step", 0, map[int]float64{49: 1, 50: 0.1, 75: 0.01}},
		{"onecycle", 0, map[int]float64{0: 1.0 / 25, 30: 1, 100: 1e-4}},
	}
	for _, tt := range tests {
		s, err := ParseSchedule(tt.name, tt.warmup)
		if err != nil {
			t.Fatal(err)
		}
		for i, want := range tt.at {
			if got := s(i, 100); math.Abs(got-want) > 1e-9 {
				t.Errorf("%s warmup %g: step %d = %g, want %g", tt.name, tt.warmup, i, got, want)
			}
		}
	}
	for _, bad := range []struct {
		name   string
		warmup float64
	}{{"linear", 0}, {"cosine", 1}, {"cosine", -0.1}} {
		if _, err := ParseSchedule(bad.name, bad.warmup); err == nil {
			t.Errorf("ParseSchedule(%q, %g) accepted", bad.name, bad.warmup)
		}
	}
}

// TestTrainerAppliesSchedule checks the rates libtorch uses step by step
// (read back from the optimiser), for SGD and AdamW.
func TestTrainerAppliesSchedule(t *testing.T) {
	train, _ := fashion(t, 8) // 80 images: 10 steps of 8 per epoch
	for _, optName := range []string{"sgd", "adamw"} {
		t.Run(optName, func(t *testing.T) {
			w := torch.NewWorker()
			defer w.Close()
			m, vs := newCNN(t, w)
			var lrs, losses []float64
			tr := Trainer{Train: TrainSpec{Epochs: 2, Batch: 8, LR: 0.01, Optimizer: optName, Schedule: "cosine", Warmup: 0.2, LabelSmoothing: 0.1},
				Worker: w, Hooks: Hooks{OnStep: func(s Step) { lrs = append(lrs, s.LR); losses = append(losses, s.Loss) }}}
			if _, err := tr.Fit(m, vs, train, nil); err != nil {
				t.Fatal(err)
			}
			if len(lrs) != 20 {
				t.Fatalf("%d steps", len(lrs))
			}
			// 4 warm-up steps rising to the peak, then a cosine down to near 0.
			want := func(i int) float64 {
				if i < 4 {
					return 0.01 * float64(i+1) / 5
				}
				return 0.01 * 0.5 * (1 + math.Cos(math.Pi*float64(i-4)/16))
			}
			for i, lr := range lrs {
				if math.Abs(lr-want(i)) > 1e-12 {
					t.Fatalf("step %d: lr %g, want %g (all: %v)", i, lr, want(i), lrs)
				}
			}
			if !(losses[len(losses)-1] < losses[0]) {
				t.Errorf("loss did not fall: %v", losses)
			}
		})
	}
	if _, err := (&Trainer{Train: TrainSpec{Optimizer: "adam"}}).Fit(nil, nil, train, nil); err == nil || !strings.Contains(err.Error(), "Train.Optimizer adam: want sgd or adamw") {
		t.Errorf("unknown optimizer: %v", err)
	}
}
