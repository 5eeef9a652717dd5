package finetune

import (
	"context"
	"errors"
	"fmt"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gtl-dev/gtl/internal/torchtest"
	"github.com/gtl-dev/gtl/metrics"
	"github.com/gtl-dev/gtl/torch"
	"github.com/gtl-dev/gtl/vision"
)

// TestCountExactMatch: a multi-label step counts the images whose whole
// label set is right at 0.5: logit > 0 exactly where the target > 0.5
// (mixed targets included).
func TestCountExactMatch(t *testing.T) {
	cases := []struct {
		name    string
		logits  []float32 // [n, 3]
		targets []float32
		want    int
	}{
		{"all right", []float32{2, -1, 0.5, -3, -2, 4}, []float32{1, 0, 1, 0, 0, 1}, 2},
		{"one class wrong in each", []float32{2, 1, 0.5, -3, -2, -4}, []float32{1, 0, 1, 0, 0, 1}, 0},
		{"logit 0 is not above 0.5", []float32{0, -1, -1, 1, 1, 1}, []float32{1, 0, 0, 1, 1, 1}, 1},
		{"no label, none predicted", []float32{-1, -1, -1, -1, 2, -1}, []float32{0, 0, 0, 0, 1, 0}, 2},
		{"mixed targets at 0.7/0.3", []float32{3, -3, 1, 1, 1, -1}, []float32{0.7, 0.3, 0.7, 0.7, 1, 0.3}, 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var got int
			err := torch.Do(func() error {
				l, err := torch.FromSlice(c.logits, []int64{int64(len(c.logits) / 3), 3})
				if err != nil {
					return err
				}
				defer l.MustDrop()
				y, err := torch.FromSlice(c.targets, []int64{int64(len(c.targets) / 3), 3})
				if err != nil {
					return err
				}
				defer y.MustDrop()
				got, err = countExactMatch(l, y)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			if got != c.want {
				t.Errorf("%d exact matches, want %d", got, c.want)
			}
		})
	}
}

// halvesImages writes 40 PNGs of 16×16 whose left and/or right half is
// bright (tags "left", "right"), and a labels file (fastai's columns
// fname, labels, is_valid; every 4th row validates). It returns the folder,
// the labels file, and the validation images' paths and truths.
func halvesImages(t *testing.T) (root, labels string, val []string, truth [][]bool) {
	t.Helper()
	root = t.TempDir()
	var b strings.Builder
	b.WriteString("fname,labels,is_valid\n")
	for i, h := range torchtest.WriteHalves(t, root, 40) {
		fmt.Fprintf(&b, "%s,%s,%v\n", h.Name, strings.Join(h.Tags(), " "), i%4 == 0)
		if i%4 == 0 {
			val, truth = append(val, filepath.Join(root, h.Name)), append(truth, []bool{h.Left, h.Right})
		}
	}
	labels = filepath.Join(t.TempDir(), "labels.csv")
	if err := os.WriteFile(labels, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return root, labels, val, truth
}

// TestRunMultiLabel trains a multi-label model through finetune.Run and
// checks what it reports against the model's own logits: the final
// report's mAP and F1 are metrics.ScoreMultiLabel of the sigmoid of the
// kept model's logits on the validation images (decoded and normalised
// here, apart from the run's data path), each epoch's validation accuracy
// is its mAP, every step's exact-match count is within its batch, and the
// settings a multi-label run lacks are refused by Resolve, before any
// weights or images are read.
func TestRunMultiLabel(t *testing.T) {
	root, labels, val, truth := halvesImages(t)
	s := RunSpec{Data: DataSpec{Source: root, Labels: labels, MultiLabel: true, ImageSize: 16},
		Model: ModelSpec{Arch: "resnet18"}, Train: TrainSpec{Epochs: 2, Batch: 8, LR: 0.01, Augment: "none"}, Seed: 3}
	var steps []Step
	res, err := Run(context.Background(), s, RunEnv{KeepModel: true, Hooks: RunHooks{OnStep: func(st Step) { steps = append(steps, st) }}})
	if err != nil {
		t.Fatal(err)
	}
	defer torch.Do(func() error { res.Model.Close(); return nil })
	c := res.Config
	if strings.Join(c.Classes, ",") != "left,right" || c.TrainImages != 30 || c.ValImages != 10 || !c.Spec.Data.MultiLabel || c.Spec.Data.LabelDelim != " " {
		t.Fatalf("config: classes %v, %d train, %d val, multi-label %v, delimiter %q", c.Classes, c.TrainImages, c.ValImages, c.Spec.Data.MultiLabel, c.Spec.Data.LabelDelim)
	}
	if len(steps) != 6 { // 2 epochs of 3 full batches of 8 (the last 6 images of an epoch dropped, as drop_last)
		t.Errorf("%d steps, want 6", len(steps))
	}
	for _, st := range steps {
		if st.Correct < 0 || st.Correct > st.Images {
			t.Errorf("step %d.%d: %d exact matches of %d images", st.Epoch, st.Step, st.Correct, st.Images)
		}
	}
	for _, e := range res.Result.Epochs {
		if e.ValMultiLabel == nil || e.ValAccuracy != e.ValMultiLabel.MAP || e.ValMacroF1 != e.ValMultiLabel.MacroF1 {
			t.Errorf("epoch %d: val accuracy %g, multi-label %+v", e.Epoch, e.ValAccuracy, e.ValMultiLabel)
		}
	}

	// The kept model's logits, from the PNGs decoded here.
	mean, std := [3]float32{0.485, 0.456, 0.406}, [3]float32{0.229, 0.224, 0.225}
	x := make([]float32, 0, len(val)*3*16*16)
	for _, p := range val {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		im, err := png.Decode(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		for ch := 0; ch < 3; ch++ {
			for y := 0; y < 16; y++ {
				for xx := 0; xx < 16; xx++ {
					r, g, b, _ := im.At(xx, y).RGBA()
					v := [3]uint32{r >> 8, g >> 8, b >> 8}[ch]
					x = append(x, (float32(v)/255-mean[ch])/std[ch])
				}
			}
		}
	}
	var rows [][]float32
	if err := torch.Do(func() error {
		xt, err := vision.FloatTensor(x, []int64{int64(len(val)), 3, 16, 16}, res.Model.VS.Device())
		if err != nil {
			return err
		}
		defer xt.MustDrop()
		rows, err = res.Model.Logits(xt)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	probs := make([][]float64, len(rows))
	var loss float64
	for i, r := range rows {
		probs[i] = []float64{sigmoid(float64(r[0])), sigmoid(float64(r[1]))}
		for k := range r {
			loss += bceLogit(float64(r[k]), truth[i][k])
		}
	}
	loss /= float64(2 * len(rows))
	want, err := metrics.ScoreMultiLabel(probs, truth, c.Classes, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := res.Report
	if r == nil || r.MultiLabel == nil || math.Abs(r.Top1-want.MAP) > 1e-6 || math.Abs(r.MacroF1-want.MacroF1) > 1e-9 ||
		math.Abs(r.MultiLabel.MicroF1-want.MicroF1) > 1e-9 || math.Abs(r.Loss-loss) > 1e-4 {
		t.Errorf("report %+v\nwant mAP %g, macro F1 %g, micro F1 %g, loss %g", r, want.MAP, want.MacroF1, want.MicroF1, loss)
	}

	// Refused by Resolve, before the (missing) weights or any image are read.
	bad := []struct {
		name  string
		edit  func(*RunSpec)
		field string
	}{
		{"label smoothing", func(s *RunSpec) { s.Train.LabelSmoothing = 0.1 }, "Train.LabelSmoothing"},
		{"class weights", func(s *RunSpec) { s.Train.ClassWeights = "auto" }, "Train.ClassWeights"},
		{"balanced sampler", func(s *RunSpec) { s.Train.Sampler = "balanced" }, "Train.Sampler"},
	}
	for _, b := range bad {
		t.Run(b.name, func(t *testing.T) {
			bs := s
			bs.Data.Source = t.TempDir() // no images
			bs.Model = ModelSpec{Arch: "resnet18", Pretrained: true}
			b.edit(&bs)
			_, err := bs.Resolve()
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != b.field {
				t.Errorf("Resolve: %v, want a FieldError on %s", err, b.field)
			}
		})
	}
}
