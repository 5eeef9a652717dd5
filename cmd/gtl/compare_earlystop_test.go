package main

import (
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestCompareEarlyStop runs gtl compare with --patience 1 --min-delta 100:
// no validated epoch beats the first by 100, so every run stops after its
// second validated epoch (linear validates every 5th: epoch 10), its final
// model the first's (epoch 5). results.json and results.csv record both
// epochs for every run, and the run lines say so.
func TestCompareEarlyStop(t *testing.T) {
	dir := t.TempDir()
	src := tinySource(t, dir)
	out := filepath.Join(dir, "cmp")
	stdout, errOut, code := gtl("--threads", "1", "compare", "--data", "fashion-mnist", "-q", "--weights", src, "--strategies", "linear",
		"--shots", "3", "--seeds", "2", "--classes", "5-6", "--val", "10", "--patience", "1", "--min-delta", "100", "--out", out)
	if code != 0 {
		t.Fatalf("compare: %d %s", code, errOut)
	}
	if n := strings.Count(stdout, ", stopped after epoch 10 (best 5)"); n != 2 {
		t.Errorf("compare output: %d runs stopped after epoch 10 (best 5), want 2:\n%s", n, stdout)
	}
	var res struct {
		Runs []struct {
			Seed  int `json:"seed"`
			Curve []struct {
				Epoch int      `json:"epoch"`
				Acc   *float64 `json:"val_accuracy"`
			} `json:"curve"`
			ES *struct {
				Best    int `json:"best_epoch"`
				Stopped int `json:"stopped_epoch"`
			} `json:"early_stopping"`
		} `json:"runs"`
	}
	b, err := os.ReadFile(filepath.Join(out, "results.json"))
	if err != nil || json.Unmarshal(b, &res) != nil || len(res.Runs) != 2 {
		t.Fatalf("results.json: %v %s", err, b)
	}
	for _, r := range res.Runs {
		var validated []int
		for _, p := range r.Curve {
			if p.Acc != nil {
				validated = append(validated, p.Epoch)
			}
		}
		if r.ES == nil || len(validated) != 2 || validated[0] != 5 || r.ES.Best != 5 || r.ES.Stopped != 10 || len(r.Curve) != 10 {
			t.Errorf("results.json seed %d: early_stopping %+v after %d epochs (validated %v), want best 5, stopped 10 after 10 (validated 5, 10)", r.Seed, r.ES, len(r.Curve), validated)
		}
	}
	f, err := os.Open(filepath.Join(out, "results.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil || len(rows) != 3 {
		t.Fatalf("results.csv: %v %v", err, rows)
	}
	h := rows[0]
	be := slices.Index(h, "best_epoch")
	if be < 0 || be+1 >= len(h) || h[be+1] != "stopped_epoch" {
		t.Fatalf("results.csv header %v, want best_epoch,stopped_epoch", h)
	}
	for _, row := range rows[1:] {
		if got := strings.Join(row[be:be+2], ","); got != "5,10" {
			t.Errorf("results.csv %v: best_epoch,stopped_epoch %s, want 5,10", row, got)
		}
	}
}

// tinySource trains a one-epoch resnet18 on 12 Fashion-MNIST images of
// classes 0-2 at 32 px into dir/source, a source model for gtl compare's
// transfer strategies, and returns its best.safetensors.
func tinySource(t *testing.T, dir string) string {
	t.Helper()
	src := filepath.Join(dir, "source")
	if _, errOut, code := gtl("--threads", "1", "train", "--data", "fashion-mnist", "-q", "--model", "resnet18", "--classes", "0-2", "--shots", "4", "--epochs", "1",
		"--val", "10", "--image-size", "32", "--out", src); code != 0 {
		t.Fatalf("source: %s", errOut)
	}
	return filepath.Join(src, "best.safetensors")
}
