package main

import (
	"fmt"
	"testing"
)

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

// TestLossCell: losses keep 4 decimals until they would push the epoch
// table's columns apart.
func TestLossCell(t *testing.T) {
	for _, c := range []struct {
		v    float64
		want string
	}{{0.12345, "0.1235"}, {2.5787, "2.5787"}, {9999.5, "9999.5000"}, {12383691.2375, "1.24e+07"}, {-3e5, "-3e+05"}} {
		if got := lossCell(c.v); got != c.want {
			t.Errorf("lossCell(%g) = %q, want %q", c.v, got, c.want)
		}
	}
}

// TestCaseTwins: class names equal but for case are named together.
func TestCaseTwins(t *testing.T) {
	for _, c := range []struct {
		in   []string
		want string
	}{
		{[]string{"Red", "blue", "red"}, "[Red/red]"},
		{[]string{"a", "b"}, "[]"},
		{[]string{"CAT", "Cat", "cat", "dog"}, "[CAT/Cat CAT/cat]"},
	} {
		if got := fmt.Sprint(caseTwins(c.in)); got != c.want {
			t.Errorf("caseTwins(%q) = %s, want %s", c.in, got, c.want)
		}
	}
}
