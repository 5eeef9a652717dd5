package strategies

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gtl-dev/gtl/finetune"
	"github.com/gtl-dev/gtl/vision/datasets"
)

// TestPlanner: a strategy fills the unset training fields it decides with
// its plan, set fields win, and mismatches between the strategy and the
// weights name the field before anything is read.
func TestPlanner(t *testing.T) {
	spec := func(tr finetune.TrainSpec) finetune.RunSpec {
		return finetune.RunSpec{Data: finetune.DataSpec{Classes: "5-9", Shots: 5, Val: 50}, Model: finetune.ModelSpec{Arch: "resnet18"}, Seed: 1, Train: tr}
	}
	im := &datasets.Images{Height: 32, Width: 32, Channels: 3, Classes: []string{"a", "b", "c", "d", "e"}, Labels: make([]int, 25), Pix: make([]uint8, 25*32*32*3)}
	for i := range im.Labels {
		im.Labels[i] = i % 5
	}
	given := spec(finetune.TrainSpec{Strategy: "scratch", LR: 0.2})
	plan, err := NewPlanner(given)
	if err != nil {
		t.Fatal(err)
	}
	s, err := given.Resolve() // defaults first: the plan replaces those the user did not give
	if err != nil {
		t.Fatal(err)
	}
	c, err := plan(finetune.PlanRequest{Spec: &s, Given: given.Train, Arch: "resnet18", Stages: 6, Data: finetune.NewData(im, im, 32)})
	if err != nil {
		t.Fatal(err)
	}
	scratch, _ := Parse("scratch")
	want, _ := scratch.Resolve(Size{Images: 25, Stages: 6}, 0)
	tr := s.Train
	if c.Strategy != "scratch" || c.Transfer || tr.Epochs != want.Epochs || tr.Batch != want.Batch || tr.Schedule != "cosine" ||
		tr.Freeze != "0" || tr.LR != 0.2 || tr.LRDecay != 1 || tr.EvalEvery != 1 {
		t.Errorf("choice %+v\ntrain spec %+v\nwant plan %+v", c, tr, want)
	}
	if p, err := NewPlanner(spec(finetune.TrainSpec{})); p != nil || err != nil {
		t.Errorf("no strategy: %v %v", p != nil, err)
	}
	for _, tt := range []struct {
		strategy, msg string
	}{
		{"linear", "Train.Strategy linear starts from source weights: give Model.Weights or Model.Pretrained"},
		{"auto", "Train.Strategy auto: needs source weights"},
		{"best", `unknown strategy "best"`},
	} {
		_, err := NewPlanner(spec(finetune.TrainSpec{Strategy: tt.strategy}))
		var fe *finetune.FieldError
		if !errors.As(err, &fe) || fe.Field != "Train.Strategy" || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("%s: %v, want a FieldError with %q", tt.strategy, err, tt.msg)
		}
	}
}

// TestJobSpec: a comparison's cell is a run spec with the plan's settings,
// on the cell's images.
func TestJobSpec(t *testing.T) {
	im := &datasets.Images{Height: 32, Width: 32, Channels: 3, Classes: []string{"a", "b"}, Labels: []int{0, 1, 0, 1}, Pix: make([]uint8, 4*32*32*3)}
	for _, name := range []string{"linear", "gradual", "scratch"} {
		st, _ := Parse(name)
		p, err := st.Resolve(Size{Images: 4, Stages: 6}, 0)
		if err != nil {
			t.Fatal(err)
		}
		s, data := Job{Arch: "resnet18", Weights: "w.pth", Plan: p, Seed: 2, Train: im, Val: im, Device: "cpu"}.Spec()
		tr := s.Train
		wantFreeze := map[string]string{"linear": "all", "gradual": "5", "scratch": "0"}[name]
		if tr.Freeze != wantFreeze || tr.Epochs != p.Epochs || tr.Batch != p.Batch || tr.LR != p.LR || tr.EvalEvery != p.EvalEvery ||
			tr.Augment != "none" || tr.Strategy != name || s.Data.ImageSize != 32 || data.Len() != 4 || s.Seed != 2 || s.Device != "cpu" {
			t.Errorf("%s: spec %+v, data %+v", name, tr, s.Data)
		}
		if (s.Model.Weights != "") != p.Transfer {
			t.Errorf("%s: weights %q", name, s.Model.Weights)
		}
		if _, err := s.Resolve(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestBadWeightsBeforeImages: with a strategy (auto included) a weights
// file that cannot be loaded is reported before any image of a large
// folder is decoded: every "image" here is garbage that would fail to
// decode, so an error about an image means the images were read first.
func TestBadWeightsBeforeImages(t *testing.T) {
	dir := t.TempDir()
	folder := filepath.Join(dir, "photos")
	for _, class := range []string{"cats", "dogs"} {
		if err := os.MkdirAll(filepath.Join(folder, class), 0o755); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 1000; i++ {
			if err := os.WriteFile(filepath.Join(folder, class, fmt.Sprintf("%04d.jpg", i)), []byte("not a jpeg"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	weights := filepath.Join(dir, "resnet18.pth")
	if err := os.WriteFile(weights, []byte("<!DOCTYPE html><html>rate limited</html>"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, strategy := range []string{"auto", "linear", "freeze-2"} {
		t.Run(strategy, func(t *testing.T) {
			spec := finetune.RunSpec{Data: finetune.DataSpec{Source: folder, ImageSize: 32}, Model: finetune.ModelSpec{Arch: "resnet18", Weights: weights},
				Train: finetune.TrainSpec{Strategy: strategy}, Seed: 1}
			plan, err := NewPlanner(spec)
			if err != nil {
				t.Fatal(err)
			}
			_, err = finetune.Run(context.Background(), spec, finetune.RunEnv{Plan: plan})
			if err == nil || !strings.Contains(err.Error(), weights) || strings.Contains(err.Error(), ".jpg") {
				t.Errorf("error %v, want one about %s before any image is decoded", err, weights)
			}
		})
	}
}
