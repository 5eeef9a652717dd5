package finetune

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gtl-dev/gtl/vision"
)

// TestFineTuneKeepsHeadLatin1: a class folder whose name is not valid
// UTF-8 (Latin-1 "café") is recorded escaped in the checkpoint, config.json
// and confusion.csv, and comes back byte for byte: fine-tuning the
// checkpoint again on the same folder keeps its trained head (nothing
// re-initialised), as it does for any other names.
func TestFineTuneKeepsHeadLatin1(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a model twice")
	}
	root := t.TempDir()
	images := filepath.Join(root, "images")
	writeGrayFolder(t, images, map[string]uint8{"caf\xe9": 200, "tea": 40}, 4)
	first := crashSpec(images, filepath.Join(root, "first"), 0)
	first.Train.Epochs = 1
	if _, err := Run(context.Background(), first, RunEnv{}); err != nil {
		t.Fatal(err)
	}
	meta, _ := os.ReadFile(filepath.Join(root, "first", "best.json"))
	cfg, _ := os.ReadFile(filepath.Join(root, "first", "config.json"))
	for name, b := range map[string][]byte{"best.json": meta, "config.json": cfg} {
		if !strings.Contains(string(b), `"caf\\xe9"`) || strings.Contains(string(b), "\uFFFD") {
			t.Errorf("%s does not hold the escaped name:\n%s", name, b)
		}
	}
	var m vision.CheckpointMeta
	if err := json.Unmarshal(meta, &m); err != nil || !slices.Equal(m.Classes, []string{"caf\xe9", "tea"}) {
		t.Errorf("best.json classes read back %q (%v)", m.Classes, err)
	}
	f, _ := os.Open(filepath.Join(root, "first", "confusion.csv"))
	rows, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil || len(rows) != 3 || !slices.Equal(rows[0], []string{`true\predicted`, `caf\xe9`, "tea"}) {
		t.Errorf("confusion.csv: %q (%v)", rows, err)
	}

	again := crashSpec(images, filepath.Join(root, "again"), 0)
	again.Train.Epochs = 1
	again.Model.Weights = filepath.Join(root, "first", "best.safetensors")
	var report vision.LoadReport
	env := RunEnv{Hooks: RunHooks{OnOpen: func(o *vision.Opened) { report = o.Report }}}
	if _, err := Run(context.Background(), again, env); err != nil {
		t.Fatal(err)
	}
	if len(report.Reinitialized) != 0 || len(report.Loaded) == 0 {
		t.Errorf("fine-tuning the checkpoint again: %d loaded, re-initialised %q, want none", len(report.Loaded), report.Reinitialized)
	}
}
