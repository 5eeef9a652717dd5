package main

import "testing"

// TestWithoutPackages: the package names Go errors begin with are removed
// from a message's start and from after each ": ", and nothing else is.
func TestWithoutPackages(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"--labels: datasets: labels x.csv: 1 bad row", "--labels: labels x.csv: 1 bad row"},
		{"finetune: resume: run/trainer-state.json: early stopping monitored val_loss", "resume: run/trainer-state.json: early stopping monitored val_loss"},
		{"--shots: strategies: shots \"0\": want 1 or more", "--shots: shots \"0\": want 1 or more"},
		{"vision: weights: x.pth: 2 tensors missing", "x.pth: 2 tensors missing"},
		{"--weights x.pth: no weights: the file is empty", "--weights x.pth: no weights: the file is empty"},
		{"glyphs: 1 of the 2 pinned fonts missing", "glyphs: 1 of the 2 pinned fonts missing"},
		{"visionary: ok", "visionary: ok"},
	} {
		if got := withoutPackages(c.in); got != c.want {
			t.Errorf("withoutPackages(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
