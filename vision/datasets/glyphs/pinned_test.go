package glyphs

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/goregular"
)

// goPins writes Go Regular and Go Bold to a temporary folder and returns
// them as a pinned list from the made-up package fonts-go.
func goPins(t *testing.T) []PinnedFont {
	t.Helper()
	dir := t.TempDir()
	var pins []PinnedFont
	for _, f := range []struct {
		name, style string
		data        []byte
	}{{"GoRegular.ttf", "Regular", goregular.TTF}, {"GoBold.ttf", "Bold", gobold.TTF}} {
		p := filepath.Join(dir, f.name)
		if err := os.WriteFile(p, f.data, 0o644); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(f.data)
		pins = append(pins, PinnedFont{Package: "fonts-go", Path: p, Family: "Go", Style: f.style, SHA256: hex.EncodeToString(sum[:])})
	}
	return pins
}

func TestPinnedFaces(t *testing.T) {
	digits := []rune("0123456789")
	tests := []struct {
		name    string
		edit    func(pins []PinnedFont) []PinnedFont
		chars   []rune
		missing []string // base names
		changed []string
		wantErr string // regexp
	}{
		{name: "all there"},
		{name: "order is the list's", edit: func(p []PinnedFont) []PinnedFont { return []PinnedFont{p[1], p[0]} }},
		{name: "one missing", edit: func(p []PinnedFont) []PinnedFont {
			p[1].Path = filepath.Join(filepath.Dir(p[1].Path), "GoMissing.ttf")
			return p
		}, missing: []string{"GoMissing.ttf"},
			wantErr: `^glyphs: 1 of the \d+ pinned fonts missing: /.*/GoMissing\.ttf \(from fonts-go\); install with: apt-get install --no-install-recommends fonts-go$`},
		{name: "two missing from two packages", edit: func(p []PinnedFont) []PinnedFont {
			p[0].Path, p[1].Path, p[1].Package = "/nonexistent/a/A.ttf", "/nonexistent/b/B.ttf", "fonts-dejavu-core"
			return p
		}, missing: []string{"A.ttf", "B.ttf"},
			wantErr: `^glyphs: 2 of the \d+ pinned fonts missing: /nonexistent/a/A\.ttf \(from fonts-go\), /nonexistent/b/B\.ttf \(from fonts-dejavu-core 2\.37-6\); install with: apt-get install --no-install-recommends fonts-go fonts-dejavu-core$`},
		{name: "two missing from one folder", edit: func(p []PinnedFont) []PinnedFont {
			p[0].Path, p[1].Path = "/nonexistent/A.ttf", "/nonexistent/B.ttf"
			return p
		}, missing: []string{"A.ttf", "B.ttf"},
			wantErr: `^glyphs: 2 of the \d+ pinned fonts missing: /nonexistent/\{A\.ttf, B\.ttf\} \(from fonts-go\); install`},
		{name: "another file", edit: func(p []PinnedFont) []PinnedFont {
			p[0].SHA256 = strings.Repeat("0", 64)
			return p
		}, changed: []string{"GoRegular.ttf"},
			wantErr: `^glyphs: pinned font /.*/GoRegular\.ttf \(from fonts-go\) has SHA-256 [0-9a-f]{64}, want 0{64} \(another version of the package\?\)$`},
		{name: "missing and another file", edit: func(p []PinnedFont) []PinnedFont {
			p[0].SHA256 = strings.Repeat("0", 64)
			p[1].Path = "/nonexistent/B.ttf"
			return p
		}, missing: []string{"B.ttf"}, changed: []string{"GoRegular.ttf"},
			wantErr: `^glyphs: 1 of the \d+ pinned fonts missing: /nonexistent/B\.ttf \(from fonts-go\); install with: apt-get install --no-install-recommends fonts-go; pinned font /.*/GoRegular\.ttf .* has SHA-256 `},
		{name: "a character the font lacks", chars: []rune("0\u4e00"), wantErr: `^glyphs: pinned font /.*/GoRegular\.ttf: no drawable outline for every one of 0`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pins := goPins(t)
			if tt.edit != nil {
				pins = tt.edit(pins)
			}
			chars := digits
			if tt.chars != nil {
				chars = tt.chars
			}
			faces, err := pinnedFaces(pins, chars)
			if tt.wantErr != "" {
				if err == nil || !regexp.MustCompile(tt.wantErr).MatchString(err.Error()) {
					t.Fatalf("err %v, want %q", err, tt.wantErr)
				}
				var pe *PinnedFontsError
				if tt.missing == nil && tt.changed == nil {
					if errors.As(err, &pe) {
						t.Fatalf("err %T, want a plain error", err)
					}
					return
				}
				if !errors.As(err, &pe) {
					t.Fatalf("err %T, want *PinnedFontsError", err)
				}
				var missing, changed []string
				for _, f := range pe.Missing {
					missing = append(missing, filepath.Base(f.Path))
				}
				for _, f := range pe.Changed {
					changed = append(changed, filepath.Base(f.Path))
					if len(f.Found) != 64 || f.Found == f.SHA256 {
						t.Errorf("changed %s: found %q, pinned %q", f.Path, f.Found, f.SHA256)
					}
				}
				if !reflect.DeepEqual(missing, tt.missing) || !reflect.DeepEqual(changed, tt.changed) {
					t.Fatalf("missing %v, changed %v; want %v, %v", missing, changed, tt.missing, tt.changed)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(faces) != len(pins) {
				t.Fatalf("%d faces for %d pins", len(faces), len(pins))
			}
			for i, f := range faces {
				p := pins[i]
				want := FontInfo{Path: p.Path, Name: "Go " + p.Style, Family: p.Family, Style: p.Style, Package: p.Package, SHA256: p.SHA256}
				if f.info != want || len(f.outlines) != len(chars) {
					t.Errorf("face %d: %+v with %d outlines, want %+v with %d", i, f.info, len(f.outlines), want, len(chars))
				}
			}
		})
	}
}

// TestPinnedList checks the pinned list against itself and against the
// packages scripts/setup.sh installs.
func TestPinnedList(t *testing.T) {
	pkgs := map[string]bool{}
	var names []string
	for _, p := range PinnedPackages {
		if p.Version == "" || pkgs[p.Name] {
			t.Errorf("package %+v: want a version, once", p)
		}
		pkgs[p.Name] = true
		names = append(names, p.Name)
	}
	used := map[string]bool{}
	hexRE := regexp.MustCompile(`^[0-9a-f]{64}$`)
	for i, f := range PinnedFonts {
		if !pkgs[f.Package] || !filepath.IsAbs(f.Path) || f.Family == "" || f.Style == "" || !hexRE.MatchString(f.SHA256) {
			t.Errorf("pinned font %+v: want a package of PinnedPackages, an absolute path, family, style and a SHA-256", f)
		}
		if i > 0 && PinnedFonts[i-1].Path >= f.Path {
			t.Errorf("pinned fonts %s, %s: want paths in increasing order", PinnedFonts[i-1].Path, f.Path)
		}
		if excluded(f.Family, f.Path) {
			t.Errorf("pinned font %s is one ExcludedFonts leaves out", f.Path)
		}
		used[f.Package] = true
	}
	if len(PinnedFonts) != 79 || len(used) != len(pkgs) {
		t.Errorf("%d pinned fonts from %d of %d packages, want 79 from all", len(PinnedFonts), len(used), len(pkgs))
	}
	setup, err := os.ReadFile("../../../scripts/setup.sh")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^FONT_PACKAGES=\(([^)]*)\)$`).FindSubmatch(setup)
	if m == nil {
		t.Fatal("scripts/setup.sh: no FONT_PACKAGES=(...) line")
	}
	got := strings.Fields(string(m[1]))
	sort.Strings(got)
	sort.Strings(names)
	if !reflect.DeepEqual(got, names) {
		t.Errorf("scripts/setup.sh installs %v, the pinned fonts come from %v", got, names)
	}
}

// imagesDigest recomputes a set's images digest from the files on disk.
func imagesDigest(t *testing.T, dir string) (string, int) {
	t.Helper()
	sums := hashTree(t, dir)
	var paths []string
	for p := range sums {
		if strings.HasSuffix(p, ".png") {
			paths = append(paths, p)
		}
	}
	sort.Strings(paths)
	h := sha256.New()
	for _, p := range paths {
		fmt.Fprintf(h, "%s  %s\n", sums[p], filepath.ToSlash(p))
	}
	return hex.EncodeToString(h.Sum(nil)), len(paths)
}

// TestManifestDigest: glyphs.json's image digest is that of the files
// written (in Go, and by the shell pipeline the Manifest documents), and
// the manifest is byte-identical for any number of workers.
func TestManifestDigest(t *testing.T) {
	fonts := fontDir(t)
	var first []byte
	for _, workers := range []int{1, 5} {
		t.Run(fmt.Sprintf("%d workers", workers), func(t *testing.T) {
			// 11 per class: 10.png sorts before 2.png.
			dir := filepath.Join(t.TempDir(), "set")
			m, err := Generate(dir, Options{TrainPerClass: 11, ValPerClass: 1, Seed: 3, FontDirs: []string{fonts}, Workers: workers})
			if err != nil {
				t.Fatal(err)
			}
			want, n := imagesDigest(t, dir)
			if m.ImagesSHA256 != want || m.Images != n || n != 120 {
				t.Fatalf("manifest: %d images, digest %s; files: %d, %s (want 120)", m.Images, m.ImagesSHA256, n, want)
			}
			js, err := os.ReadFile(filepath.Join(dir, ManifestName))
			if err != nil {
				t.Fatal(err)
			}
			var back Manifest
			if err := json.Unmarshal(js, &back); err != nil || back.ImagesSHA256 != want || back.FontSource != FontsDirs {
				t.Fatalf("glyphs.json: %v, digest %q, font source %q", err, back.ImagesSHA256, back.FontSource)
			}
			if first == nil {
				first = js
			} else if !bytes.Equal(js, first) {
				t.Fatalf("glyphs.json with %d workers differs from 1 worker's:\n%s\nwant\n%s", workers, js, first)
			}
			if _, err := exec.LookPath("sha256sum"); err != nil {
				return
			}
			sh := exec.Command("bash", "-c", `find train val -name '*.png' | LC_ALL=C sort | xargs sha256sum | sha256sum`)
			sh.Dir = dir
			out, err := sh.Output()
			if err != nil || !strings.HasPrefix(string(out), want+" ") {
				t.Fatalf("shell digest %q (%v), want %s", out, err, want)
			}
		})
	}
}

// TestAllFonts: AllFonts searches DefaultFontDirs, skipping those that do
// not exist, and cannot be combined with FontDirs.
func TestAllFonts(t *testing.T) {
	fonts := fontDir(t)
	saved := DefaultFontDirs
	t.Cleanup(func() { DefaultFontDirs = saved })
	DefaultFontDirs = []string{"/nonexistent/fonts", fonts}
	m, err := Generate(filepath.Join(t.TempDir(), "set"), Options{TrainPerClass: 1, ValPerClass: 1, AllFonts: true})
	if err != nil {
		t.Fatal(err)
	}
	if m.FontSource != FontsAll || !slices.Equal(m.FontDirs, DefaultFontDirs) || len(m.Fonts) != 3 {
		t.Fatalf("font source %q, dirs %v, %d fonts; want all, %v, the 3 Go fonts", m.FontSource, m.FontDirs, len(m.Fonts), DefaultFontDirs)
	}
	_, err = Generate(filepath.Join(t.TempDir(), "set"), Options{AllFonts: true, FontDirs: []string{fonts}})
	if err == nil || !strings.Contains(err.Error(), "glyphs: all fonts and font folders "+fonts+": want one of them") {
		t.Fatalf("AllFonts with FontDirs: %v", err)
	}
}

// TestPinnedGolden draws a small digit set from the real pinned fonts with
// 1 and 2 workers and compares its glyphs.json, byte for byte, with
// testdata/pinned_digits.json: two machines with the pinned packages write
// the same manifest, image digest included. Skipped where the pinned fonts
// are not installed (scripts/setup.sh installs them); rerun with -update
// after a deliberate change to the generator or the list.
func TestPinnedGolden(t *testing.T) {
	golden := filepath.Join("testdata", "pinned_digits.json")
	for _, workers := range []int{1, 2} {
		dir := filepath.Join(t.TempDir(), "set")
		m, err := Generate(dir, Options{TrainPerClass: 11, ValPerClass: 1, Seed: 5, Workers: workers})
		var pe *PinnedFontsError
		if errors.As(err, &pe) && len(pe.Changed) == 0 {
			t.Skipf("pinned fonts not installed: %v", err)
		}
		if err != nil {
			t.Fatal(err)
		}
		if m.FontSource != FontsPinned || len(m.Fonts) != len(PinnedFonts) || m.FontDirs != nil {
			t.Fatalf("font source %q, %d fonts, dirs %v; want pinned, %d, none", m.FontSource, len(m.Fonts), m.FontDirs, len(PinnedFonts))
		}
		js, err := os.ReadFile(filepath.Join(dir, ManifestName))
		if err != nil {
			t.Fatal(err)
		}
		if *update && workers == 1 {
			if err := os.WriteFile(golden, js, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(js, want) {
			var w Manifest
			_ = json.Unmarshal(want, &w)
			t.Fatalf("glyphs.json with %d workers differs from %s (images digest %s, want %s)", workers, golden, m.ImagesSHA256, w.ImagesSHA256)
		}
	}
}
