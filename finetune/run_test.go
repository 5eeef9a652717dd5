package finetune_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gtl-dev/gtl/finetune"
	"github.com/gtl-dev/gtl/torch"
)

// TestResolve: defaults are filled in as documented, and each unusable
// value is a FieldError naming its field.
func TestResolve(t *testing.T) {
	folder := t.TempDir()
	if err := os.Mkdir(filepath.Join(folder, "cats"), 0o755); err != nil { // a class folder: an image folder
		t.Fatal(err)
	}
	defaults := []struct {
		name     string
		spec     finetune.RunSpec
		lr       float64
		epochs   int
		size     int
		augment  string
		schedule string
	}{
		{"scratch fashion", finetune.RunSpec{Model: finetune.ModelSpec{Arch: "resnet18"}}, 0.05, 5, 32, "none", "constant"},
		{"scratch folder", finetune.RunSpec{Data: finetune.DataSpec{Source: folder}, Model: finetune.ModelSpec{Arch: "resnet18"}}, 0.05, 5, 64, "none", "constant"},
		{"pretrained", finetune.RunSpec{Model: finetune.ModelSpec{Arch: "resnet18", Pretrained: true}}, 0.01, 3, 224, "none", "cosine"},
		{"feature extractor", finetune.RunSpec{Model: finetune.ModelSpec{Arch: "resnet18", Pretrained: true}, Train: finetune.TrainSpec{Freeze: "all"}}, 0.01, 3, 224, "none", "cosine"},
		{"linear strategy", finetune.RunSpec{Model: finetune.ModelSpec{Arch: "resnet18", Pretrained: true}, Train: finetune.TrainSpec{Strategy: "linear"}}, 0.01, 3, 224, "none", "constant"},
		{"given values win", finetune.RunSpec{Model: finetune.ModelSpec{Arch: "resnet18"}, Data: finetune.DataSpec{ImageSize: 48},
			Train: finetune.TrainSpec{LR: 0.2, Epochs: 7, Augment: "strong"}}, 0.2, 7, 48, "strong", "constant"},
	}
	for _, tt := range defaults {
		t.Run(tt.name, func(t *testing.T) {
			s, err := tt.spec.Resolve()
			if err != nil {
				t.Fatal(err)
			}
			tr := s.Train
			if tr.LR != tt.lr || tr.Epochs != tt.epochs || s.Data.ImageSize != tt.size || tr.Augment != tt.augment ||
				tr.Batch != 32 || tr.LRDecay != 1 || tr.Optimizer != "sgd" || tr.Schedule != tt.schedule || tr.BNPolicy != "eval" ||
				tr.Freeze == "" || tr.EvalEvery != 1 || s.Data.ValSplit != 0.2 || s.Data.OnBadImage != "fail" || s.Device != "auto" {
				t.Errorf("resolved %+v\ndata %+v", tr, s.Data)
			}
		})
	}
	r18 := finetune.ModelSpec{Arch: "resnet18"}
	bad := []struct {
		name  string
		spec  finetune.RunSpec
		field string
		msg   string
	}{
		{"no model", finetune.RunSpec{}, "Model.Arch", "Model.Arch is required"},
		{"missing folder", finetune.RunSpec{Model: r18, Data: finetune.DataSpec{Source: "/nonexistent"}}, "Data.Source", "Data.Source /nonexistent: does not exist"},
		{"classes of a folder", finetune.RunSpec{Model: r18, Data: finetune.DataSpec{Source: folder, Classes: "0-1"}}, "Data.Classes", "applies to fashion-mnist"},
		{"split", finetune.RunSpec{Model: r18, Data: finetune.DataSpec{ValSplit: 1}}, "Data.ValSplit", "Data.ValSplit 1: want a share in (0, 1)"},
		{"small images", finetune.RunSpec{Model: r18, Data: finetune.DataSpec{ImageSize: 8}}, "Data.ImageSize", "want at least 16"},
		{"bad image policy", finetune.RunSpec{Model: r18, Data: finetune.DataSpec{OnBadImage: "ignore"}}, "Data.OnBadImage", "want fail or skip"},
		{"weights and pretrained", finetune.RunSpec{Model: finetune.ModelSpec{Arch: "resnet18", Weights: "x.pth", Pretrained: true}}, "Model.Weights", "not both"},
		{"device", finetune.RunSpec{Model: r18, Device: "tpu"}, "Device", `device "tpu"`},
		{"optimizer", finetune.RunSpec{Model: r18, Train: finetune.TrainSpec{Optimizer: "adam"}}, "Train.Optimizer", "want sgd or adamw"},
		{"negative lr", finetune.RunSpec{Model: r18, Train: finetune.TrainSpec{LR: -1}}, "Train.LR", "want positive values"},
		{"schedule", finetune.RunSpec{Model: r18, Train: finetune.TrainSpec{Schedule: "linear"}}, "Train.Schedule", `unknown schedule "linear"`},
		{"bn policy", finetune.RunSpec{Model: r18, Train: finetune.TrainSpec{BNPolicy: "maybe"}}, "Train.BNPolicy", "want eval or train"},
		{"ema", finetune.RunSpec{Model: r18, Train: finetune.TrainSpec{EMA: 1}}, "Train.EMA", "want a decay in [0, 1)"},
		{"augment", finetune.RunSpec{Model: r18, Train: finetune.TrainSpec{Augment: "heavy"}}, "Train.Augment", "want none, light or strong"},
		{"erase", finetune.RunSpec{Model: r18, Train: finetune.TrainSpec{Erase: 2}}, "Train.Erase", "Train.Erase 2"},
		{"resume without a run", finetune.RunSpec{Model: r18, Out: folder, Resume: true}, "Resume", "holds no resumable run"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.spec.Resolve()
			var fe *finetune.FieldError
			if !errors.As(err, &fe) || fe.Field != tt.field || !strings.Contains(err.Error(), tt.msg) || !strings.HasPrefix(err.Error(), "finetune: ") {
				t.Fatalf("error %v (%T), want a FieldError on %s with %q", err, err, tt.field, tt.msg)
			}
			flags := fe.Render(func(p string) string { return "--" + strings.ToLower(p) })
			if strings.Contains(flags, "{") || strings.HasPrefix(flags, "finetune") {
				t.Errorf("rendered %q", flags)
			}
		})
	}
}

// TestRun runs specs end to end on a small generated folder: the output
// folder, a frozen stem without weights refused, stopping through the
// context, and the kept model.
func TestRun(t *testing.T) {
	dir := t.TempDir()
	images := filepath.Join(dir, "images")
	writeFolder(images, map[string]uint8{"bright": 200, "dark": 40, "mid": 120}, 6)
	ctx := context.Background()
	base := finetune.RunSpec{Data: finetune.DataSpec{Source: images, ImageSize: 32, ValSplit: 0.34}, Model: finetune.ModelSpec{Arch: "resnet18"},
		Train: finetune.TrainSpec{Epochs: 2, Batch: 4}, Seed: 3}

	out := filepath.Join(dir, "scratch")
	s := base
	s.Out = out
	var epochs, steps int
	env := finetune.RunEnv{Hooks: finetune.RunHooks{OnStep: func(finetune.Step) { steps++ }, OnEpochEnd: func(finetune.Epoch) error { epochs++; return nil }}}
	res, err := finetune.Run(ctx, s, env)
	if err != nil {
		t.Fatal(err)
	}
	if epochs != 2 || steps != 2*3 || len(res.Result.Epochs) != 2 || res.Stopped || res.Report == nil || res.Best < 0 || res.Best > 1 {
		t.Errorf("epochs %d, steps %d, result %+v", epochs, steps, res)
	}
	var conf map[string]any
	b, _ := os.ReadFile(filepath.Join(out, "config.json"))
	if err := json.Unmarshal(b, &conf); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]any{"model": "resnet18", "train_images": 12.0, "val_images": 6.0, "image_size": 32.0, "freeze": "0",
		"lr": 0.05, "batch": 4.0, "epochs": 2.0, "augment": "none", "seed": 3.0, "cached_features": false, "device": "cpu"} {
		if conf[k] != want {
			t.Errorf("config.json %s: %v, want %v", k, conf[k], want)
		}
	}
	for _, f := range []string{"metrics.jsonl", "metrics.csv", "last.safetensors", "best.safetensors", "trainer-state.json", "confusion.csv", "confusion.png", "curves.png"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}

	s = base
	s.Train.Freeze = "1"
	var fe *finetune.FieldError
	if _, err := finetune.Run(ctx, s, finetune.RunEnv{}); !errors.As(err, &fe) || fe.Field != "Train.Freeze" || !strings.Contains(err.Error(), "random initialisation") {
		t.Errorf("frozen stem without weights: %v", err)
	}

	// From the first run's weights, the stem frozen; a cancelled context
	// stops before the first step.
	s = base
	s.Model = finetune.ModelSpec{Weights: filepath.Join(out, "best.safetensors")}
	s.Train = finetune.TrainSpec{Freeze: "1", Epochs: 3, Batch: 4, Augment: "none"}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	res, err = finetune.Run(cctx, s, finetune.RunEnv{KeepModel: true})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Stopped || len(res.Result.Epochs) != 0 || res.Result.Stopped == nil || *res.Result.Stopped != (finetune.StopPoint{Epoch: 1, Step: 0, StepsPerEpoch: 3}) ||
		res.Report != nil || res.Model == nil || res.Config.Spec.Train.LR != 0.01 {
		t.Errorf("cancelled run: %+v", res)
	}
	if res.Model != nil {
		if !res.Model.StageFrozen(0) || res.Model.StageFrozen(1) {
			t.Errorf("stem frozen %v, layer1 frozen %v", res.Model.StageFrozen(0), res.Model.StageFrozen(1))
		}
		_ = torch.Do(func() error { res.Model.Close(); return nil })
	}
}
