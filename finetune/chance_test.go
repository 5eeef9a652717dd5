package finetune

import (
	"math"
	"strings"
	"testing"
)

func TestAtChance(t *testing.T) {
	ln10 := math.Log(10)
	nan := math.NaN()
	tests := []struct {
		name    string
		e       Epoch
		classes int
		val     int
		want    bool
	}{
		{"uniform loss, chance accuracy", Epoch{TrainLoss: ln10, ValAccuracy: 0.1}, 10, 1000, true},
		{"uniform loss, a little above chance", Epoch{TrainLoss: ln10 * 1.05, ValAccuracy: 0.125}, 10, 1000, true},
		{"uniform loss, learning", Epoch{TrainLoss: ln10, ValAccuracy: 0.2}, 10, 1000, false},
		{"few images: wider margin", Epoch{TrainLoss: ln10, ValAccuracy: 0.2}, 10, 50, true},
		{"loss going down", Epoch{TrainLoss: 1.5, ValAccuracy: 0.1}, 10, 1000, false},
		{"loss blown up", Epoch{TrainLoss: 40, ValAccuracy: 0.1}, 10, 1000, false},
		{"no validation", Epoch{TrainLoss: math.Log(2), ValAccuracy: nan}, 2, 0, true},
		{"nan loss", Epoch{TrainLoss: nan, ValAccuracy: 0.1}, 10, 1000, false},
		{"one class predicted, loss far from uniform", Epoch{TrainLoss: 2.58, ValAccuracy: 1.0 / 3, ValBalancedAccuracy: 1.0 / 3}, 3, 60, true},
		{"one class predicted, but above chance", Epoch{TrainLoss: 2.58, ValAccuracy: 0.6, ValBalancedAccuracy: 1.0 / 3}, 3, 600, false},
		{"two classes predicted, loss far from uniform", Epoch{TrainLoss: 2.58, ValAccuracy: 1.0 / 3, ValBalancedAccuracy: 0.35}, 3, 60, false},
		{"one class", Epoch{TrainLoss: 0, ValAccuracy: 1}, 1, 10, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := AtChance(tt.e, tt.classes, tt.val); got != tt.want {
				t.Errorf("AtChance(%+v, %d, %d) = %v, want %v", tt.e, tt.classes, tt.val, got, tt.want)
			}
		})
	}
}

func TestChanceWatch(t *testing.T) {
	ln5 := math.Log(5)
	stuck := Epoch{TrainLoss: ln5, ValAccuracy: 0.2}
	learning := Epoch{TrainLoss: 0.9, ValAccuracy: 0.6}
	tests := []struct {
		name   string
		epochs []Epoch
		warnAt int // 1-based epoch of the one warning; 0: none
	}{
		{"stuck from the start", []Epoch{stuck, stuck, stuck, stuck}, 2},
		{"learns in epoch 2", []Epoch{stuck, learning, stuck, stuck}, 0},
		{"learns first, stuck later", []Epoch{learning, stuck, stuck}, 0},
		{"one epoch only", []Epoch{stuck}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := ChanceWatch{Classes: 5, ValImages: 500}
			got := 0
			for i, e := range tt.epochs {
				if msg := w.Observe(e); msg != "" {
					if got != 0 {
						t.Fatalf("a second warning at epoch %d", i+1)
					}
					got = i + 1
					want := "after 2 epochs the model is still at chance (train loss 1.609, ln 5 = 1.609, val accuracy 20.0% (chance 20.0%)); usual causes: a learning rate"
					if !strings.HasPrefix(msg, want) || strings.Contains(msg, "\n") {
						t.Errorf("warning %q, want one line starting %q", msg, want)
					}
				}
			}
			if got != tt.warnAt {
				t.Errorf("warned at epoch %d, want %d", got, tt.warnAt)
			}
		})
	}
	var off ChanceWatch
	if off.Observe(stuck) != "" || off.Observe(stuck) != "" {
		t.Error("the zero ChanceWatch warned")
	}
}
