package strategies

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestOldResultsWithoutWeightsKey resumes a results.json written before
// grids recorded --weights-key: it stands for the plain weights, so it
// continues without a key and is another comparison with one.
func TestOldResultsWithoutWeightsKey(t *testing.T) {
	old := `{"grid": {"model": "resnet18", "weights": "src.pth", "data": "d", "classes": ["a", "b"], "val_images": 4,
  "image_size": 32, "equal_budget": false, "strategies": ["linear"], "shots": [0], "seeds": 1},
 "runs": [{"strategy": "linear", "shots": 0, "seed": 1, "final_accuracy": 0.75}]}`
	g := Grid{Model: "resnet18", Weights: "src.pth", Data: "d", Classes: []string{"a", "b"}, ValImages: 4, ImageSize: 32,
		Strategies: []string{"linear"}, Shots: []int{All}, Seeds: 1}
	for _, c := range []struct {
		key  string
		want error
	}{{"", nil}, {"state_dict_ema", ErrDifferentGrid}} {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "results.json"), []byte(old), 0o644); err != nil {
			t.Fatal(err)
		}
		g.WeightsKey = c.key
		r, err := OpenResults(dir, g, true, false)
		if !errors.Is(err, c.want) {
			t.Fatalf("key %q: %v, want %v", c.key, err, c.want)
		}
		if err != nil {
			continue
		}
		if rec, ok := r.Find(Cell{Strategy: "linear", Shots: All, Seed: 1}); !ok || rec.FinalAccuracy != 0.75 {
			t.Errorf("key %q: the old run is not kept: %+v %v", c.key, rec, ok)
		}
		if err := r.Save(dir); err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(filepath.Join(dir, "results.json"))
		if strings.Contains(string(b), "weights_key") {
			t.Errorf("results.json of the plain weights names a weights_key:\n%s", b)
		}
	}
}
