package finetune

import (
	"bytes"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestCurvesTitle(t *testing.T) {
	tests := []struct {
		name string
		rc   RunConfig
		want string
	}{
		{"strategy", RunConfig{Spec: RunSpec{Data: DataSpec{Source: "/home/me/clothes/"}, Model: ModelSpec{Arch: "resnet18", Weights: "w.pth"}, Train: TrainSpec{Strategy: "linear"}}, Classes: []string{"a", "b", "c"}, TrainImages: 480},
			"resnet18 on clothes (3 classes, 480 training images), strategy linear"},
		{"scratch", RunConfig{Spec: RunSpec{Data: DataSpec{Source: "fashion-mnist"}, Model: ModelSpec{Arch: "resnet18"}, Train: TrainSpec{Freeze: "0"}}, Classes: make([]string, 10)},
			"resnet18 on fashion-mnist (10 classes), from scratch"},
		{"frozen stages", RunConfig{Spec: RunSpec{Data: DataSpec{Source: "x"}, Model: ModelSpec{Arch: "vgg16", Weights: "w.pth"}, Train: TrainSpec{Freeze: "2"}}}, "vgg16 on x, fine-tuned, 2 stages frozen"},
		{"feature extractor", RunConfig{Spec: RunSpec{Data: DataSpec{Source: "x"}, Model: ModelSpec{Arch: "vgg16", Weights: "w.pth"}, Train: TrainSpec{Freeze: "all"}}}, "vgg16 on x, backbone frozen"},
		{"fine-tuned", RunConfig{Spec: RunSpec{Data: DataSpec{Source: "x"}, Model: ModelSpec{Arch: "vgg16", Weights: "w.pth"}, Train: TrainSpec{Freeze: "0"}}}, "vgg16 on x, fine-tuned"},
		{"nothing known", RunConfig{}, "model on its data, from scratch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := curvesTitle(tt.rc); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestCurvesChart(t *testing.T) {
	rc := RunConfig{Spec: RunSpec{Data: DataSpec{Source: "fashion-mnist"}, Model: ModelSpec{Arch: "resnet18"}}, Classes: make([]string, 4)}
	nan := math.NaN()
	t.Run("two panels", func(t *testing.T) {
		c := curvesChart(rc, []curvePoint{{1, 1.2, 1.1, 0.5}, {2, 0.8, 0.9, 0.7}, {3, 0.5, nan, nan}})
		if len(c.Panels) != 2 || !c.IntegerX || c.XLabel != "epoch" {
			t.Fatalf("%+v", c)
		}
		loss, acc := c.Panels[0], c.Panels[1]
		if len(loss.Series) != 2 || loss.Series[0].Name != "train loss" || len(loss.Series[0].X) != 3 || loss.Series[1].Name != "val loss" || len(loss.Series[1].X) != 2 || loss.LogY {
			t.Errorf("loss panel %+v", loss)
		}
		if acc.YMin != 0 || acc.YMax != 100 || len(acc.Series[0].Y) != 2 || acc.Series[0].Y[1] != 70 || len(acc.Refs) != 1 || acc.Refs[0].Y != 25 {
			t.Errorf("accuracy panel %+v", acc)
		}
	})
	t.Run("a validation loss that blew up goes on a log axis", func(t *testing.T) {
		c := curvesChart(rc, []curvePoint{{1, 1.2, 2873, 0.25}, {2, 0.8, 0.9, 0.3}})
		if p := c.Panels[0]; !p.LogY || p.YLabel != "loss (log scale)" {
			t.Errorf("loss panel %+v", p)
		}
	})
	t.Run("no validation", func(t *testing.T) {
		c := curvesChart(rc, []curvePoint{{1, 1.2, nan, nan}})
		if len(c.Panels) != 1 || c.Panels[0].YLabel != "loss" {
			t.Errorf("%+v", c.Panels)
		}
	})
}

// TestPlotCurves: curves.png covers every epoch in metrics.jsonl (a resumed
// run's earlier ones too), skipping a torn line, and is a PNG.
func TestPlotCurves(t *testing.T) {
	dir := t.TempDir()
	if err := WriteJSON(filepath.Join(dir, "config.json"), RunConfig{Spec: RunSpec{Data: DataSpec{Source: "fashion-mnist"}, Model: ModelSpec{Arch: "resnet18"}}, Classes: make([]string, 10)}); err != nil {
		t.Fatal(err)
	}
	metrics := `{"epoch":1,"seconds":1,"train_loss":2.1,"val_accuracy":0.3,"val_loss":2.0}
{"epoch":2,"seconds":1,"train_loss":1.5,"val_accuracy":0.5,"val_loss":null}
{"epoch":3,"seconds":1,"train_loss":1.1,"val_accuracy":0.6,"val_loss":1.3}
{"epoch":4,"sec`
	if err := os.WriteFile(filepath.Join(dir, "metrics.jsonl"), []byte(metrics), 0o644); err != nil {
		t.Fatal(err)
	}
	pts, err := readCurve(filepath.Join(dir, "metrics.jsonl"))
	if err != nil || len(pts) != 3 || pts[2].trainLoss != 1.1 || !math.IsNaN(pts[1].valLoss) {
		t.Fatalf("readCurve: %v %+v", err, pts)
	}
	path := filepath.Join(dir, "curves.png")
	// res holds only this process's last epoch, as after --resume.
	if err := plotCurves(path, &Result{Epochs: []Epoch{{Epoch: 3, TrainLoss: 1.1, ValLoss: 1.3, ValAccuracy: 0.6, Duration: time.Second}}}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if img, err := png.Decode(bytes.NewReader(b)); err != nil || img.Bounds().Dx() != 640 {
		t.Fatalf("curves.png: %v", err)
	}
}
