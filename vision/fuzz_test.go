package vision

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/gtl-dev/gtl/internal/fuzzcount"
)

// FuzzReadMeta: a checkpoint's JSON description never panics, and what is
// accepted has sizes gtl can use.
func FuzzReadMeta(f *testing.F) {
	f.Add([]byte(`{"arch":"resnet18","num_classes":5,"classes":["a","b","c","d","e"],"preprocess":{"crop_size":224,"resize_size":256,"interpolation":"bilinear","mean":[0.485,0.456,0.406],"std":[0.229,0.224,0.225]}}`))
	f.Add([]byte(`{"arch":"resnet18","num_classes":-3,"preprocess":{"crop_size":100000000}}`))
	f.Add([]byte(`{"stages":[{"name":"x","prefixes":["a."]}],"train":{"lr":0.1}}`))
	f.Add([]byte(`[1,2`))
	dir := f.TempDir()
	w := filepath.Join(dir, "c.safetensors")
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzcount.Hit("FuzzReadMeta")
		if err := os.WriteFile(MetaPath(w), data, 0o644); err != nil {
			t.Fatal(err)
		}
		m, err := ReadMeta(w)
		if err != nil {
			return
		}
		if err := checkMeta(m); err != nil {
			t.Fatalf("accepted %s: %v", data, err)
		}
	})
}
