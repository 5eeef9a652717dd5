package main

import (
	"io"
	"slices"
	"strings"
	"testing"
)

// TestFlagsFirst: flags after positional arguments are moved before them
// with their values; "--" ends the flags.
func TestFlagsFirst(t *testing.T) {
	app := newApp(io.Discard, io.Discard)
	cases := []struct{ in, want string }{
		{"predict photo.jpg --top-k 3", "predict --top-k 3 photo.jpg"},
		{"predict photo.jpg -k 3 --quiet b.jpg", "predict -k 3 --quiet photo.jpg b.jpg"},
		{"predict photo.jpg --top-k=3", "predict --top-k=3 photo.jpg"},
		{"--threads 2 predict a.jpg --model resnet18", "--threads 2 predict --model resnet18 a.jpg"},
		{"predict --model resnet18 a.jpg", "predict --model resnet18 a.jpg"},
		{"predict a.jpg -- --odd.jpg --top-k", "predict -- a.jpg --odd.jpg --top-k"},
		{"predict a.jpg --quiet -- -b.jpg", "predict --quiet -- a.jpg -b.jpg"},
		{"predict --quiet --", "predict --quiet --"},
		{"models resnet18 --help", "models --help resnet18"},
		{"nosuch a --b", "nosuch a --b"},
		// Global flags after the command go before it.
		{"train --threads 2 --epochs 3", "--threads 2 train --epochs 3"},
		{"predict a.jpg --threads=2 -k 3", "--threads=2 predict -k 3 a.jpg"},
		{"--threads 1 train --epochs 3 --threads 2", "--threads 1 --threads 2 train --epochs 3"},
		// bench has a --threads of its own.
		{"bench --threads 2", "bench --threads 2"},
		{"", ""},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			in := append([]string{"gtl"}, strings.Fields(c.in)...)
			want := append([]string{"gtl"}, strings.Fields(c.want)...)
			if got := flagsFirst(app, in); !slices.Equal(got, want) {
				t.Errorf("got %q, want %q", got, want)
			}
		})
	}
}

// TestFlagsAfterArgs runs commands with their flags last.
func TestFlagsAfterArgs(t *testing.T) {
	_, errOut, code := gtl("predict", "nosuch.jpg", "--top-k", "0", "--model", "resnet18")
	if code != 2 || !strings.Contains(errOut, "--top-k") {
		t.Fatalf("predict nosuch.jpg --top-k 0: code %d, stderr %q; want the --top-k check, not a file named --top-k", code, errOut)
	}
}
