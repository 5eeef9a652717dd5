package glyphs

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/goitalic"
	"golang.org/x/image/font/gofont/goregular"

	"github.com/gtl-dev/gtl/vision/datasets"
)

// fontDir writes the Go fonts (shipped inside golang.org/x/image, so the
// tests need no installed fonts) to a temporary folder.
func fontDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for name, data := range map[string][]byte{
		"GoRegular.ttf": goregular.TTF, "GoBold.ttf": gobold.TTF, "GoItalic.ttf": goitalic.TTF,
		"readme.txt": []byte("not a font"), "broken.ttf": []byte("not a font either"),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// hashTree maps each file under dir (relative path) to its SHA-256.
func hashTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	sums := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		s := sha256.Sum256(data)
		sums[rel] = hex.EncodeToString(s[:])
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return sums
}

func TestClasses(t *testing.T) {
	tests := []struct {
		set     Set
		n       int
		first   string
		last    string
		wantErr string
	}{
		{set: Digits, n: 10, first: "0", last: "9"},
		{set: Letters, n: 26, first: "A", last: "Z"},
		{set: "kanji", wantErr: `glyphs: unknown set "kanji"`},
	}
	for _, tt := range tests {
		t.Run(string(tt.set), func(t *testing.T) {
			cs, err := tt.set.Classes()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(cs) != tt.n || cs[0] != tt.first || cs[len(cs)-1] != tt.last {
				t.Fatalf("classes %v: want %d from %s to %s", cs, tt.n, tt.first, tt.last)
			}
		})
	}
}

func TestGenerateLayout(t *testing.T) {
	fonts := fontDir(t)
	tests := []struct {
		name  string
		opt   Options
		nCls  int
		first string
	}{
		{"digits", Options{TrainPerClass: 4, ValPerClass: 2, Seed: 1}, 10, "0"},
		{"letters 32px", Options{Set: Letters, TrainPerClass: 3, ValPerClass: 1, Size: 32, Seed: 2}, 26, "A"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "set")
			tt.opt.FontDirs = []string{fonts}
			m, err := Generate(dir, tt.opt)
			if err != nil {
				t.Fatal(err)
			}
			size := max(tt.opt.Size, 28)
			if len(m.Fonts) != 3 {
				t.Fatalf("fonts %+v: want the 3 Go fonts (not the broken or text files)", m.Fonts)
			}
			if !IsGlyphSet(dir) {
				t.Fatal("IsGlyphSet = false after Generate")
			}
			for split, per := range map[string]int{"train": tt.opt.TrainPerClass, "val": tt.opt.ValPerClass} {
				items, classes, err := datasets.ListImageFolder(filepath.Join(dir, split))
				if err != nil {
					t.Fatal(err)
				}
				if len(classes) != tt.nCls || classes[0] != tt.first || len(items) != tt.nCls*per {
					t.Fatalf("%s: %d classes from %s, %d images; want %d from %s, %d", split, len(classes), classes[0], len(items), tt.nCls, tt.first, tt.nCls*per)
				}
				for _, it := range items {
					checkImage(t, it.Path, size)
				}
			}
		})
	}
}

// checkImage checks that a generated image decodes as size×size grey, has a
// dark border (black background) and a bright glyph of sensible area.
func checkImage(t *testing.T, path string, size int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	g, ok := img.(*image.Gray)
	if !ok || g.Bounds() != image.Rect(0, 0, size, size) {
		t.Fatalf("%s: %T %v, want %dx%d grey", path, img, img.Bounds(), size, size)
	}
	var border, n, bright, peak int
	for y := range size {
		for x := range size {
			v := int(g.GrayAt(x, y).Y)
			if x == 0 || y == 0 || x == size-1 || y == size-1 {
				border += v
				n++
			}
			if v > 128 {
				bright++
			}
			peak = max(peak, v)
		}
	}
	if border/n > 40 {
		t.Errorf("%s: mean border %d, want a dark background", path, border/n)
	}
	if peak < 200 || bright < size*size/30 || bright > size*size/2 {
		t.Errorf("%s: peak %d, %d bright pixels of %d: want a white glyph covering 3%%..50%%", path, peak, bright, size*size)
	}
}

func TestGenerateDeterministic(t *testing.T) {
	fonts := fontDir(t)
	gen := func(seed uint64, workers int) map[string]string {
		dir := filepath.Join(t.TempDir(), "set")
		if _, err := Generate(dir, Options{TrainPerClass: 5, ValPerClass: 2, Seed: seed, FontDirs: []string{fonts}, Workers: workers}); err != nil {
			t.Fatal(err)
		}
		return hashTree(t, dir)
	}
	base := gen(7, 1)
	if len(base) != 10*7+1 {
		t.Fatalf("%d files, want 71", len(base))
	}
	tests := []struct {
		name    string
		seed    uint64
		workers int
		same    bool
	}{
		{"same seed", 7, 1, true},
		{"same seed, 4 workers", 7, 4, true},
		{"other seed", 8, 1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := gen(tt.seed, tt.workers)
			differ := 0
			for k, v := range base {
				if got[k] != v {
					differ++
				}
			}
			if tt.same && differ != 0 {
				t.Fatalf("%d of %d files differ, want byte-identical", differ, len(base))
			}
			// Only glyphs.json (the seed) and the images may differ; nearly all images should.
			if !tt.same && differ < len(base)*9/10 {
				t.Fatalf("only %d of %d files differ with another seed", differ, len(base))
			}
		})
	}
}

func TestGenerateFolders(t *testing.T) {
	fonts := fontDir(t)
	opt := func(force bool) Options {
		return Options{TrainPerClass: 1, ValPerClass: 1, FontDirs: []string{fonts}, Force: force}
	}
	tests := []struct {
		name    string
		setup   func(t *testing.T, dir string)
		opt     Options
		wantErr string
		isErr   error
	}{
		{name: "missing folder is created", opt: opt(false)},
		{name: "empty folder", setup: func(t *testing.T, dir string) { mkdir(t, dir) }, opt: opt(false)},
		{name: "foreign folder refused", setup: foreign, opt: opt(false), wantErr: "glyphs: ", isErr: ErrNotEmpty},
		{name: "foreign folder forced", setup: foreign, opt: opt(true)},
		{name: "previous set replaced", setup: func(t *testing.T, dir string) {
			o := opt(false)
			o.TrainPerClass = 3
			if _, err := Generate(dir, o); err != nil {
				t.Fatal(err)
			}
		}, opt: opt(false)},
		{name: "missing font folder", opt: Options{FontDirs: []string{"/nonexistent/fonts"}}, wantErr: "glyphs: font directory /nonexistent/fonts: "},
		{name: "font folder is a file", opt: Options{FontDirs: []string{filepath.Join(fonts, "readme.txt")}}, wantErr: "not a directory"},
		{name: "no usable fonts", setup: func(t *testing.T, dir string) { mkdir(t, dir+"-fonts") }, opt: Options{}, wantErr: "glyphs: no usable fonts with all of 0…9 in "},
		{name: "bad size", opt: Options{Size: 4, FontDirs: []string{fonts}}, wantErr: "glyphs: image size 4: want 8..512"},
		{name: "bad count", opt: Options{TrainPerClass: -1, FontDirs: []string{fonts}}, wantErr: "glyphs: train images per class -1"},
		{name: "bad set", opt: Options{Set: "emoji", FontDirs: []string{fonts}}, wantErr: `glyphs: unknown set "emoji"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "set")
			if tt.setup != nil {
				tt.setup(t, dir)
			}
			if tt.name == "no usable fonts" {
				tt.opt.FontDirs = []string{dir + "-fonts"}
			}
			_, err := Generate(dir, tt.opt)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want %q", err, tt.wantErr)
				}
				if tt.isErr != nil && !errors.Is(err, tt.isErr) {
					t.Fatalf("err %v is not %v", err, tt.isErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			files := hashTree(t, dir)
			var names []string
			for k := range files {
				if !strings.HasPrefix(k, "other") {
					names = append(names, k)
				}
			}
			sort.Strings(names)
			if len(names) != 21 || names[0] != "glyphs.json" {
				t.Fatalf("files %v: want glyphs.json and one train and one val image per class", names)
			}
		})
	}
}

func mkdir(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
}

// foreign makes a folder that holds something other than a glyph set.
func foreign(t *testing.T, dir string) {
	mkdir(t, dir)
	if err := os.WriteFile(filepath.Join(dir, "other.txt"), []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestFindFonts(t *testing.T) {
	fonts := fontDir(t)
	if err := os.WriteFile(filepath.Join(fonts, "SymbolDingbats.ttf"), goregular.TTF, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		chars []rune
		want  []string
	}{
		{"digits", []rune("0123456789"), []string{"GoBold.ttf", "GoItalic.ttf", "GoRegular.ttf"}},
		{"a character no font has", []rune("0\u4e00"), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			infos, err := FindFonts([]string{fonts}, tt.chars)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range infos {
				got = append(got, filepath.Base(f.Path))
				if f.Name == "" || len(f.SHA256) != 64 {
					t.Errorf("font %+v: want a name and a SHA-256", f)
				}
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("fonts %v, want %v (excluded names and broken files skipped)", got, tt.want)
			}
		})
	}
}

// BenchmarkRender measures drawing one 28×28 image, without PNG encoding or
// file writes.
func BenchmarkRender(b *testing.B) {
	faces := loadFaces("GoRegular.ttf", goregular.TTF, []rune("0123456789"))
	if len(faces) != 1 {
		b.Fatal("Go Regular did not load")
	}
	r := newRenderer(DefaultDistortion, 28)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		r.render(faces[0].outlines[i%10], rand.New(rand.NewPCG(1, stream(0, i%10, i))))
	}
}

func ExampleSet_Classes() {
	classes, _ := Letters.Classes()
	fmt.Println(len(classes), classes[0], classes[25])
	// Output: 26 A Z
}
