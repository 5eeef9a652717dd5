package suggest

import (
	"slices"
	"testing"
)

func TestDistance(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"", "", 0},
		{"epochs", "epochs", 0},
		{"epoch", "epochs", 1},
		{"epcohs", "epochs", 1}, // a swap
		{"resnet-18", "resnet18", 1},
		{"ResNet18", "resnet18", 0}, // case does not count
		{"kitten", "sitting", 3},
		{"", "abc", 3},
		{"lr", "batch", 5},
	}
	for _, tt := range tests {
		t.Run(tt.a+"/"+tt.b, func(t *testing.T) {
			if got := Distance(tt.a, tt.b); got != tt.want {
				t.Errorf("Distance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
			}
			if got := Distance(tt.b, tt.a); got != tt.want {
				t.Errorf("Distance(%q, %q) = %d, want %d (symmetric)", tt.b, tt.a, got, tt.want)
			}
		})
	}
}

func TestClosest(t *testing.T) {
	flags := []string{"epochs", "eval-every", "batch", "lr", "lr-decay", "weights", "weights-key", "seed", "shots"}
	archs := []string{"resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "vgg16", "mobilenet_v2", "mobilenet_v3_small"}
	tests := []struct {
		name  string
		word  string
		cands []string
		n, d  int
		want  []string
	}{
		{"truncated flag", "epoch", flags, 1, 2, []string{"epochs"}},
		{"swapped letters", "ebatch", flags, 1, 2, []string{"batch"}},
		{"prefix of a longer flag", "lr-dec", flags, 1, 2, []string{"lr-decay"}},
		{"nothing close", "temperature", flags, 1, 2, []string{}},
		{"ties keep order", "bat", []string{"cat", "bag", "bot"}, 3, 1, []string{"cat", "bag", "bot"}},
		{"a prefix before a typo", "see", []string{"set", "seed"}, 1, 1, []string{"seed"}},
		{"the shortest prefix", "mod", []string{"model", "mode"}, 1, 1, []string{"mode"}},
		{"three models, no limit", "resnet-18", archs, 3, -1, []string{"resnet18", "resnet34", "resnet50"}},
		{"case", "MobileNet_V2", archs, 1, -1, []string{"mobilenet_v2"}},
		{"fewer candidates than n", "x", []string{"a", "b"}, 3, -1, []string{"a", "b"}},
		{"duplicates once", "a", []string{"a", "a", "b"}, 3, -1, []string{"a", "b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Closest(tt.word, tt.cands, tt.n, tt.d); !slices.Equal(got, tt.want) {
				t.Errorf("Closest(%q) = %q, want %q", tt.word, got, tt.want)
			}
		})
	}
}

func TestTypoDistance(t *testing.T) {
	for word, want := range map[string]int{"lr": 1, "epoch": 1, "epochs": 2, "weights-key": 3, "label-smoothing": 3} {
		if got := TypoDistance(word); got != want {
			t.Errorf("TypoDistance(%q) = %d, want %d", word, got, want)
		}
	}
}
