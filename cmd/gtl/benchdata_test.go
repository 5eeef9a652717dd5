package main

import (
	"encoding/json"
	"image"
	"image/jpeg"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestBenchData(t *testing.T) {
	dir := t.TempDir()
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 6 {
		d := filepath.Join(dir, []string{"cat", "dog"}[i%2])
		os.MkdirAll(d, 0o755)
		m := image.NewRGBA(image.Rect(0, 0, 100, 75))
		for j := range m.Pix {
			m.Pix[j] = uint8(r.IntN(256))
		}
		f, _ := os.Create(filepath.Join(d, string(rune('a'+i))+".jpg"))
		jpeg.Encode(f, m, &jpeg.Options{Quality: 90})
		f.Close()
	}
	for _, full := range []bool{false, true} {
		args := []string{"bench-data", "--data", dir, "--workers", "2", "--batch", "4", "--size", "32", "--epochs", "2", "--json"}
		if full {
			args = append(args, "--full-decode")
		}
		out, errOut, code := gtl(args...)
		var res benchResult
		if code != 0 || json.Unmarshal([]byte(out), &res) != nil || res.Images != 12 || res.Workers != 2 || res.ImgPerS <= 0 {
			t.Fatalf("full-decode %v: code %d, %q, %q", full, code, out, errOut)
		}
	}
	os.WriteFile(filepath.Join(dir, "cat", "broken.jpg"), []byte{0xff, 0xd8, 0xff, 0xe0, 0}, 0o644)
	_, errOut, code := gtl("bench-data", "--data", dir, "--batch", "4", "--size", "32", "--epochs", "1")
	if code == 0 || !strings.Contains(errOut, "broken.jpg") {
		t.Errorf("broken file: code %d, stderr %q; want an error naming it", code, errOut)
	}
}
