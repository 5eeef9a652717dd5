package main

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"golang.org/x/image/font/gofont/goregular"
)

func TestGlyphsCommand(t *testing.T) {
	fonts := t.TempDir()
	if err := os.WriteFile(filepath.Join(fonts, "GoRegular.ttf"), goregular.TTF, 0o644); err != nil {
		t.Fatal(err)
	}
	foreign := t.TempDir()
	if err := os.WriteFile(filepath.Join(foreign, "notes.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	set := filepath.Join(t.TempDir(), "glyphs")
	small := []string{"--train-per-class", "3", "--val-per-class", "1", "--fonts", fonts}
	tests := []struct {
		name     string
		args     []string
		code     int
		stdoutRE string
		stderrRE string
	}{
		{name: "digits", args: append([]string{"glyphs", "--out", set}, small...),
			stdoutRE: `^wrote 40 images \(10 classes × 3 train \+ 1 val, 28×28\) from 1 fonts to .*glyphs in \d+\.\ds\n$`},
		{name: "rerun replaces the set", args: append([]string{"glyphs", "--out", set, "--set", "letters"}, small...),
			stdoutRE: `^wrote 104 images \(26 classes`},
		{name: "foreign folder", args: append([]string{"glyphs", "--out", foreign}, small...), code: 1,
			stderrRE: `^gtl: glyphs: --out .* is not empty and holds no glyphs\.json from a previous glyph set; pass --force`},
		{name: "foreign folder forced", args: append([]string{"glyphs", "--out", foreign, "--force"}, small...), stdoutRE: `^wrote 40 images`},
		{name: "missing font folder", args: []string{"glyphs", "--out", t.TempDir(), "--fonts", "/nonexistent/fonts"}, code: 1,
			stderrRE: `^gtl: glyphs: font directory /nonexistent/fonts: .*no such file or directory\n$`},
		{name: "no fonts", args: []string{"glyphs", "--out", filepath.Join(t.TempDir(), "x"), "--fonts", t.TempDir()}, code: 1,
			stderrRE: `^gtl: glyphs: no usable fonts with all of 0…9 in `},
		{name: "bad set", args: []string{"glyphs", "--out", t.TempDir(), "--set", "runes"}, code: 2, stderrRE: `^gtl: --set "runes": want digits or letters`},
		{name: "bad count", args: []string{"glyphs", "--out", t.TempDir(), "--val-per-class", "0"}, code: 2, stderrRE: `^gtl: --val-per-class 0: want at least 1`},
		{name: "bad size", args: []string{"glyphs", "--out", t.TempDir(), "--size", "2"}, code: 2, stderrRE: `^gtl: --size 2: want 8\.\.512`},
		{name: "no out", args: []string{"glyphs"}, code: 2, stderrRE: `^gtl: --out is required \(gtl glyphs --help lists the flags\)\n$`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := gtl(tt.args...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, out, errOut)
			}
			if tt.stdoutRE != "" && !regexp.MustCompile(tt.stdoutRE).MatchString(out) {
				t.Errorf("stdout does not match %q:\n%s", tt.stdoutRE, out)
			}
			if tt.stderrRE != "" && !regexp.MustCompile(tt.stderrRE).MatchString(errOut) {
				t.Errorf("stderr does not match %q:\n%s", tt.stderrRE, errOut)
			}
		})
	}
}
