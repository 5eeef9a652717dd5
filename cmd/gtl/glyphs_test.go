package main

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/image/font/gofont/goregular"

	"github.com/gtl-dev/gtl/vision/datasets/glyphs"
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
	// The pinned list is Go Regular here, so that the tests need no
	// installed fonts; missing is a list whose file is not there.
	sum := sha256.Sum256(goregular.TTF)
	goPin := []glyphs.PinnedFont{{Package: "fonts-go", Path: filepath.Join(fonts, "GoRegular.ttf"), Family: "Go", Style: "Regular", SHA256: hex.EncodeToString(sum[:])}}
	missing := []glyphs.PinnedFont{goPin[0], goPin[0]}
	missing[1].Path, missing[1].Package = "/nonexistent/fonts/GoBold.ttf", "fonts-dejavu-extra"
	saved := glyphs.PinnedFonts
	t.Cleanup(func() { glyphs.PinnedFonts = saved })
	tests := []struct {
		name     string
		args     []string
		pins     []glyphs.PinnedFont // default goPin
		code     int
		stdoutRE string
		stderrRE string
	}{
		{name: "pinned fonts by default", args: []string{"glyphs", "--out", filepath.Join(t.TempDir(), "p"), "--train-per-class", "2", "--val-per-class", "1"},
			stdoutRE: `^wrote 30 images \(10 classes × 2 train \+ 1 val, 28×28\) from the 1 pinned fonts to `},
		{name: "pinned fonts named", args: []string{"glyphs", "--out", filepath.Join(t.TempDir(), "p"), "--train-per-class", "2", "--val-per-class", "1", "--fonts", "pinned"},
			stdoutRE: `^wrote 30 images .* from the 1 pinned fonts to `},
		{name: "pinned font missing", args: []string{"glyphs", "--out", filepath.Join(t.TempDir(), "p")}, pins: missing, code: 1,
			stderrRE: `^gtl: glyphs: 1 of the 2 pinned fonts missing: /nonexistent/fonts/GoBold\.ttf \(from fonts-dejavu-extra 2\.37-6\); install with: apt-get install --no-install-recommends fonts-dejavu-extra; or draw from the fonts installed with --fonts all\n$`},
		{name: "all fonts with a folder", args: []string{"glyphs", "--out", t.TempDir(), "--fonts", "all", "--fonts", fonts}, code: 2,
			stderrRE: `^gtl: --fonts all: not with other --fonts values \(a folder named all: write \./all\)\n$`},
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
			glyphs.PinnedFonts = goPin
			if tt.pins != nil {
				glyphs.PinnedFonts = tt.pins
			}
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

// TestFontsCheck: gtl doctor warns, naming the file and the packages to
// install, when a pinned font is missing.
func TestFontsCheck(t *testing.T) {
	saved := glyphs.PinnedFonts
	t.Cleanup(func() { glyphs.PinnedFonts = saved })
	glyphs.PinnedFonts = []glyphs.PinnedFont{{Package: "fonts-liberation2", Path: "/nonexistent/LiberationSans-Regular.ttf", Family: "Liberation Sans", Style: "Regular", SHA256: strings.Repeat("0", 64)}}
	c := fontsCheck()
	if c.level != warn || !strings.Contains(c.text, "1 of the 1 pinned fonts missing: /nonexistent/LiberationSans-Regular.ttf (from fonts-liberation2 2.1.5-1)") ||
		!strings.HasPrefix(c.fix, "sudo apt-get install --no-install-recommends fonts-dejavu-core ") {
		t.Fatalf("fonts check %+v", c)
	}
}
