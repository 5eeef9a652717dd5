package finetune

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gtl-dev/gtl/vision"
)

// TestThresholdSpec: Train.Threshold's values, and where it applies.
func TestThresholdSpec(t *testing.T) {
	cases := []struct {
		name       string
		threshold  string
		multiLabel bool
		val        int
		field      string    // "": accepted
		want       []float64 // of 2 classes; nil: tune
	}{
		{"default", "", true, 10, "", []float64{0.5, 0.5}},
		{"default single-label", "", false, 10, "", []float64{0.5, 0.5}},
		{"value", "0.3", true, 10, "", []float64{0.3, 0.3}},
		{"bounds", "1", true, 10, "", []float64{1, 1}},
		{"tune", "tune", true, 10, "", nil},
		{"tune, validation not known yet", "tune", true, -1, "", nil},
		{"tune without validation", "tune", true, 0, "Train.Threshold", nil},
		{"value without multi-label", "0.3", false, 10, "Train.Threshold", nil},
		{"above 1", "1.5", true, 10, "Train.Threshold", nil},
		{"negative", "-0.1", true, 10, "Train.Threshold", nil},
		{"NaN", "NaN", true, 10, "Train.Threshold", nil},
		{"word", "best", true, 10, "Train.Threshold", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ts := TrainSpec{Threshold: c.threshold}
			err := ts.check()
			if err == nil {
				err = CheckThreshold(ts, c.multiLabel, c.val)
			}
			if c.field != "" {
				var fe *FieldError
				if !errors.As(err, &fe) || fe.Field != c.field {
					t.Fatalf("%v, want a FieldError on %s", err, c.field)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			th, tune, err := ts.thresholds(2)
			if err != nil || tune != (c.want == nil) || fmt.Sprint(th) != fmt.Sprint(c.want) {
				t.Errorf("thresholds %v tune %v (%v), want %v", th, tune, err, c.want)
			}
		})
	}
}

// TestThresholdTuneResume: a multi-label run with Train.Threshold tune
// stopped inside epoch 2 and resumed ends with the uninterrupted run's
// checkpoints byte for byte (their tuned thresholds included) and
// metrics; the thresholds are tuned (not 0.5).
func TestThresholdTuneResume(t *testing.T) {
	images := stopImages(t)
	var csv strings.Builder
	csv.WriteString("name,tags,is_valid\n")
	tags := map[string]string{"bright": "light", "mid": "light dark", "dark": "dark"}
	for _, c := range []string{"bright", "dark", "mid"} {
		for i := range 6 {
			tg := tags[c]
			if i%3 == 0 {
				tg += " noisy" // a class the images do not show
			}
			fmt.Fprintf(&csv, "%s/%02d.png,%s,%v\n", c, i, tg, i >= 4)
		}
	}
	labels := filepath.Join(t.TempDir(), "labels.csv")
	if err := os.WriteFile(labels, []byte(csv.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		patience int
	}{
		{"every epoch", 0},
		// Early stopping whose best epoch (1: nothing later improves by 100)
		// is before the stop and the resume: best.safetensors is written by
		// the resumed process, with epoch 1's thresholds.
		{"early stopping", 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			spec := func(out string) RunSpec {
				s := stopSpec(images, out)
				s.Data.Labels, s.Data.MultiLabel, s.Data.LabelCol, s.Data.FnCol = labels, true, "tags", "name"
				s.Train.Threshold = "tune"
				if tc.patience > 0 {
					s.Train.Patience, s.Train.Monitor, s.Train.MinDelta = tc.patience, "val_acc", 100
				}
				return s
			}
			ref := filepath.Join(t.TempDir(), "ref")
			if _, err := Run(context.Background(), spec(ref), RunEnv{}); err != nil {
				t.Fatal(err)
			}
			for _, f := range []string{"best.safetensors", "last.safetensors"} {
				meta, err := vision.ReadMeta(filepath.Join(ref, f))
				if err != nil || meta == nil || len(meta.Thresholds) != 3 {
					t.Fatalf("%s: %+v, %v", f, meta, err)
				}
				if fmt.Sprint(meta.Thresholds) == "[0.5 0.5 0.5]" {
					t.Errorf("%s: thresholds %v: nothing tuned", f, meta.Thresholds)
				}
			}
			if tc.patience > 0 {
				b, _ := vision.ReadMeta(filepath.Join(ref, "best.safetensors"))
				l, _ := vision.ReadMeta(filepath.Join(ref, "last.safetensors"))
				if fmt.Sprint(b.Thresholds) == fmt.Sprint(l.Thresholds) {
					t.Errorf("best (epoch 1) and last (epoch 2) carry the same thresholds %v", b.Thresholds)
				}
			}
			out := filepath.Join(t.TempDir(), "stopped")
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			env := RunEnv{Hooks: RunHooks{OnStep: func(s Step) {
				if s.Epoch == 2 && s.Step == 1 {
					cancel()
				}
			}}}
			res, err := Run(ctx, spec(out), env)
			if err != nil {
				t.Fatal(err)
			}
			if !res.Stopped {
				t.Fatal("the run was not stopped")
			}
			s := spec(out)
			s.Resume = true
			if _, err := Run(context.Background(), s, RunEnv{}); err != nil {
				t.Fatal(err)
			}
			sameRun(t, ref, out)
		})
	}
}
