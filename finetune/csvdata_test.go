package finetune_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gtl-dev/gtl/finetune"
)

// TestRunLabelsCSV: finetune.Run reads a labels file over a folder of
// class folders named otherwise (the CSV decides), splits it with
// ValSplit (no validation column), and trains with the balanced class
// weights of its training images and the balanced sampler; bad specs are
// refused naming their field.
func TestRunLabelsCSV(t *testing.T) {
	dir := t.TempDir()
	images := filepath.Join(dir, "images")
	writeFolder(images, map[string]uint8{"bright": 200, "dark": 40}, 10)
	// The CSV relabels: 10 bright as "light", 10 dark of which 3 are "night" and 7 "dusk".
	var b strings.Builder
	b.WriteString("image,tag\n")
	for i := 0; i < 10; i++ {
		fmt.Fprintf(&b, "bright/%02d.png,light\n", i)
		tag := "dusk"
		if i < 5 {
			tag = "night"
		}
		fmt.Fprintf(&b, "dark/%02d.png,%s\n", i, tag)
	}
	labels := filepath.Join(dir, "labels.csv")
	if err := os.WriteFile(labels, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	spec := finetune.RunSpec{Data: finetune.DataSpec{Source: images, Labels: labels, ImageSize: 16, ValSplit: 0.2},
		Model: finetune.ModelSpec{Arch: "resnet18"}, Train: finetune.TrainSpec{Epochs: 1, Batch: 4, ClassWeights: "auto", Sampler: "balanced"}, Seed: 2}
	res, err := finetune.Run(context.Background(), spec, finetune.RunEnv{})
	if err != nil {
		t.Fatal(err)
	}
	c := res.Config
	// 20% of each class validates: 2 light, 1 dusk, 1 night; 16 train: 8 light, 4 dusk, 4 night.
	if strings.Join(c.Classes, ",") != "dusk,light,night" || c.TrainImages != 16 || c.ValImages != 4 || c.Spec.Data.FnCol != "0" || c.Spec.Data.ValidCol != "is_valid" {
		t.Fatalf("config %+v", c)
	}
	want := []float64{16.0 / (3 * 4), 16.0 / (3 * 8), 16.0 / (3 * 4)}
	for i := range want {
		if len(c.ClassWeights) != 3 || math.Abs(c.ClassWeights[i]-want[i]) > 1e-12 {
			t.Fatalf("class weights %v, want %v", c.ClassWeights, want)
		}
	}
	if r := res.Report; r == nil || r.BalancedAccuracy < 0 || r.BalancedAccuracy > 1 || len(res.Result.Epochs) != 1 || math.IsNaN(res.Result.Epochs[0].ValMacroF1) {
		t.Errorf("report %+v", res.Report)
	}
	bad := []struct {
		name  string
		edit  func(*finetune.RunSpec)
		field string
	}{
		{"missing labels file", func(s *finetune.RunSpec) { s.Data.Labels = filepath.Join(dir, "none.csv") }, "Data.Labels"},
		{"labels without a folder", func(s *finetune.RunSpec) { s.Data.Source = "" }, "Data.Source"},
		{"sampler", func(s *finetune.RunSpec) { s.Train.Sampler = "stratified" }, "Train.Sampler"},
		{"class weights file", func(s *finetune.RunSpec) { s.Train.ClassWeights = filepath.Join(dir, "none.csv") }, "Train.ClassWeights"},
		{"bad column", func(s *finetune.RunSpec) { s.Data.LabelCol = "kind" }, "Data.Labels"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			s := spec
			tt.edit(&s)
			_, err := finetune.Run(context.Background(), s, finetune.RunEnv{})
			var fe *finetune.FieldError
			if !errors.As(err, &fe) || fe.Field != tt.field {
				t.Errorf("error %v, want a FieldError of %s", err, tt.field)
			}
		})
	}
}
