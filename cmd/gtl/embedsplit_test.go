package main

import (
	"image"
	"image/png"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gtl-dev/gtl/npy"
)

// writeSeededPNG writes a seeded 24×24 noise image.
func writeSeededPNG(t *testing.T, path string, seed uint64) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(seed, 7))
	im := image.NewRGBA(image.Rect(0, 0, 24, 24))
	for i := 0; i < len(im.Pix); i += 4 {
		im.Pix[i], im.Pix[i+1], im.Pix[i+2], im.Pix[i+3] = uint8(r.IntN(256)), uint8(r.IntN(256)), uint8(r.IntN(256)), 255
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, im); err != nil {
		t.Fatal(err)
	}
}

// TestEmbedFolderSplits: gtl embed reads a folder as gtl train does — a
// test/ folder is never a class, train/ with val/ (valid/, validation/)
// and test/ are splits chosen by --split — and labels always number the
// training classes. A test image that is a copy of a training image gets
// the same features.
func TestEmbedFolderSplits(t *testing.T) {
	root := t.TempDir()
	flat := filepath.Join(root, "flat") // flat/<class>, flat/test/<class>
	for i := 0; i < 3; i++ {
		writeSeededPNG(t, filepath.Join(flat, "cats", "c"+string(rune('0'+i))+".png"), uint64(i))
		writeSeededPNG(t, filepath.Join(flat, "dogs", "d"+string(rune('0'+i))+".png"), uint64(10+i))
	}
	writeSeededPNG(t, filepath.Join(flat, "test", "dogs", "d1-copy.png"), 11) // = dogs/d1.png
	writeSeededPNG(t, filepath.Join(flat, "test", "dogs", "x.png"), 99)
	os.WriteFile(filepath.Join(flat, ".DS_Store"), []byte("Bud1"), 0o644)
	split := filepath.Join(root, "split") // split/train, split/valid, split/test
	for _, c := range []string{"ants", "bees", "wasps"} {
		writeSeededPNG(t, filepath.Join(split, "train", c, "0.png"), uint64(len(c)))
	}
	writeSeededPNG(t, filepath.Join(split, "valid", "wasps", "0.png"), 20)
	writeSeededPNG(t, filepath.Join(split, "valid", "bees", "0.png"), 21)
	writeSeededPNG(t, filepath.Join(split, "test", "bees", "0.png"), 22)
	bad := filepath.Join(root, "bad") // a test class that is not a training class
	writeSeededPNG(t, filepath.Join(bad, "a", "0.png"), 1)
	writeSeededPNG(t, filepath.Join(bad, "b", "0.png"), 2)
	writeSeededPNG(t, filepath.Join(bad, "test", "c", "0.png"), 3)

	embed := func(data string, args ...string) (feats *npy.Array, labels []int64, classes string) {
		t.Helper()
		out := filepath.Join(t.TempDir(), "f.npy")
		stdout, errOut, code := gtl(append([]string{"embed", "-q", "--model", "squeezenet1_1", "--num-classes", "2", "--data", data, "--out", out}, args...)...)
		if code != 0 {
			t.Fatalf("embed %s %v: exit %d: %s", data, args, code, errOut)
		}
		f, err := npy.Read(out)
		if err != nil {
			t.Fatal(err)
		}
		l, err := npy.Read(strings.TrimSuffix(out, ".npy") + ".labels.npy")
		if err != nil {
			t.Fatal(err)
		}
		i := strings.Index(stdout, "classes: ")
		if i < 0 {
			t.Fatalf("no classes line in %q", stdout)
		}
		return f, l.Int64, strings.TrimSpace(stdout[i+len("classes: "):])
	}
	for _, c := range []struct {
		data, split string
		labels      []int64
		classes     string
	}{
		{flat, "", []int64{0, 0, 0, 1, 1, 1}, "cats, dogs"},
		{flat, "train", []int64{0, 0, 0, 1, 1, 1}, "cats, dogs"},
		{flat, "test", []int64{1, 1}, "cats, dogs"},
		{split, "", []int64{0, 1, 2}, "ants, bees, wasps"},
		{split, "val", []int64{1, 2}, "ants, bees, wasps"},
		{split, "validation", []int64{1, 2}, "ants, bees, wasps"},
		{split, "test", []int64{1}, "ants, bees, wasps"},
	} {
		var args []string
		if c.split != "" {
			args = []string{"--split", c.split}
		}
		f, labels, classes := embed(c.data, args...)
		if !slices.Equal(labels, c.labels) || classes != c.classes || f.Shape[0] != len(c.labels) {
			t.Errorf("embed %s --split %q: %d rows, labels %v, classes %q; want %v, %q", filepath.Base(c.data), c.split, f.Shape[0], labels, classes, c.labels, c.classes)
		}
	}
	// test/dogs/d1-copy.png is dogs/d1.png: row 0 of test, row 4 of train.
	tr, _, _ := embed(flat)
	te, _, _ := embed(flat, "--split", "test")
	d := tr.Shape[1]
	if !slices.Equal(tr.Float32[4*d:5*d], te.Float32[0:d]) {
		t.Errorf("the test copy of dogs/d1.png has other features than the training image")
	}
	if slices.Equal(te.Float32[0:d], te.Float32[d:2*d]) {
		t.Errorf("two different test images have the same features")
	}
	for _, c := range []struct {
		data string
		args []string
		want string
	}{
		{bad, []string{"--split", "test"}, `--split test: class folder "c" is in ` + filepath.Join(bad, "test") + " but not among the training classes (a, b)"},
		{flat, []string{"--split", "val"}, "--split val: a validation folder is read beside train/, and " + flat + " has no train/ folder"},
		{split, []string{"--split", "dev"}, "--split dev: an image folder's splits are train, val and test"},
		{filepath.Join(split, "train"), []string{"--split", "test"}, filepath.Join(split, "train") + " has no test/ folder"},
	} {
		out := filepath.Join(t.TempDir(), "f.npy")
		_, errOut, code := gtl(append([]string{"embed", "-q", "--model", "squeezenet1_1", "--data", c.data, "--out", out}, c.args...)...)
		if code != 2 || !strings.Contains(errOut, c.want) {
			t.Errorf("embed %s %v: exit %d %q, want 2 and %q", c.data, c.args, code, errOut, c.want)
		}
		if _, err := os.Stat(out); err == nil {
			t.Errorf("embed %s %v: wrote %s", c.data, c.args, out)
		}
	}
}
