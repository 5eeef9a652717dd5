package strategies

import (
	"errors"
	"strings"
	"testing"

	"github.com/gtl-dev/gtl/finetune"
	"github.com/gtl-dev/gtl/vision/datasets"
)

// TestApply: a strategy fills the unset training fields with its plan,
// set fields win, the data is read once and kept, and mismatches between
// the strategy and the weights name the field.
func TestApply(t *testing.T) {
	spec := func(tr finetune.TrainSpec) finetune.RunSpec {
		return finetune.RunSpec{Data: finetune.DataSpec{Classes: "5-9", Shots: 5, Val: 50}, Model: finetune.ModelSpec{Arch: "resnet18"}, Seed: 1, Train: tr}
	}
	s := spec(finetune.TrainSpec{Strategy: "scratch", LR: 0.2})
	c, err := Apply(&s)
	if err != nil {
		t.Fatal(err)
	}
	scratch, _ := Parse("scratch")
	want, _ := scratch.Resolve(Size{Images: 25, Stages: 6}, 0)
	tr := s.Train
	if c.Strategy != "scratch" || c.Plan.Epochs != want.Epochs || tr.Epochs != want.Epochs || tr.Batch != want.Batch || tr.Schedule != "cosine" ||
		tr.Freeze != "0" || tr.LR != 0.2 || tr.LRDecay != 1 {
		t.Errorf("choice %+v\ntrain spec %+v\nwant plan %+v", c, tr, want)
	}
	if s.Data.Loaded == nil || s.Data.Loaded.Len() != 30000 || s.Data.ImageSize != 32 {
		t.Errorf("data kept: %v, size %d", s.Data.Loaded != nil, s.Data.ImageSize)
	}
	none := spec(finetune.TrainSpec{})
	if c, err := Apply(&none); c != nil || err != nil || none.Train.Epochs != 0 || none.Data.Loaded != nil {
		t.Errorf("no strategy: %v %v %+v", c, err, none.Train)
	}
	for _, tt := range []struct {
		strategy, msg string
	}{
		{"linear", "Train.Strategy linear starts from source weights: give Model.Weights or Model.Pretrained"},
		{"auto", "Train.Strategy auto: needs source weights"},
		{"best", `unknown strategy "best"`},
	} {
		s := spec(finetune.TrainSpec{Strategy: tt.strategy})
		_, err := Apply(&s)
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
		s := Job{Arch: "resnet18", Weights: "w.pth", Plan: p, Seed: 2, Train: im, Val: im, Device: "cpu"}.Spec()
		tr := s.Train
		wantFreeze := map[string]string{"linear": "all", "gradual": "5", "scratch": "0"}[name]
		if tr.Freeze != wantFreeze || tr.Epochs != p.Epochs || tr.Batch != p.Batch || tr.LR != p.LR || tr.EvalEvery != p.EvalEvery ||
			tr.Augment != "none" || tr.Strategy != name || s.Data.ImageSize != 32 || s.Data.Loaded.Len() != 4 || s.Seed != 2 || s.Device != "cpu" {
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
