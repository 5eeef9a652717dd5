package npy

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/gtl-dev/gtl/internal/fuzzcount"
)

// npySeeds are valid arrays and headers that lie about their size, for
// FuzzDecode's corpus (with testdata/fuzz/FuzzDecode).
func npySeeds(t testing.TB) [][]byte {
	var seeds [][]byte
	for _, a := range []Array{
		{Shape: []int{2, 3}, Float32: []float32{1, 2, 3, 4, 5, -6.5}},
		{Shape: []int{3}, Int64: []int64{7, -1, 1 << 40}},
		{Shape: []int{1, 2, 1, 2}, Uint8: []uint8{0, 255, 3, 4}},
		{Shape: []int{}, Float64: []float64{3.25}},
		{Shape: []int{2}, Int32: []int32{1, -1}},
	} {
		var b bytes.Buffer
		if err := Encode(&b, &a); err != nil {
			t.Fatal(err)
		}
		seeds = append(seeds, b.Bytes())
	}
	lie := bytes.Replace(seeds[0], []byte("(2, 3)"), []byte("(100000, 100000, 100000)"), 1)
	lie[8] += byte(len(lie) - len(seeds[0])) // the header grew
	seeds = append(seeds, lie)
	return seeds
}

// FuzzDecode: no input panics, and no header makes Decode or Read allocate
// more than the data that is there (a 10^15-element claim in a 100-byte
// file is an error, found before any allocation).
func FuzzDecode(f *testing.F) {
	for _, s := range npySeeds(f) {
		f.Add(s)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzcount.Hit("FuzzDecode")
		a, err := Decode(bytes.NewReader(data))
		if err == nil && a.len() != Numel(a.Shape) {
			t.Fatalf("Decode: %d values for shape %v", a.len(), a.Shape)
		}
		p := filepath.Join(dir, "f.npy")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		b, err2 := Read(p)
		if (err == nil) != (err2 == nil) {
			t.Fatalf("Decode error %v but Read error %v", err, err2)
		}
		if err2 == nil && b.len() != Numel(b.Shape) {
			t.Fatalf("Read: %d values for shape %v", b.len(), b.Shape)
		}
	})
}

// TestLyingHeader is the crash of issue 13: a header claiming
// (100000, 100000, 100000) float32s is one clear error, not a makeslice panic.
func TestLyingHeader(t *testing.T) {
	lie := npySeeds(t)[5]
	p := filepath.Join(t.TempDir(), "lie.npy")
	if err := os.WriteFile(p, lie, 0o644); err != nil {
		t.Fatal(err)
	}
	for name, read := range map[string]func() error{
		"Read":   func() error { _, err := Read(p); return err },
		"Decode": func() error { _, err := Decode(bytes.NewReader(lie)); return err },
	} {
		err := read()
		if err == nil || !bytes.Contains([]byte(err.Error()), []byte("data of shape [100000 100000 100000] <f4")) {
			t.Errorf("%s: error %v, want one naming the shape", name, err)
		}
	}
}
