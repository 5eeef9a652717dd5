package vision_test

import (
	"errors"
	"fmt"
	"math"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/gtl-dev/gtl/internal/torchtest"
	"github.com/gtl-dev/gtl/npy"
	"github.com/gtl-dev/gtl/torch"
	"github.com/gtl-dev/gtl/vision"
)

// layoutFiles makes scripts/parity/layout_weights.py's files (Debian's
// python3-torchvision) in a temporary folder.
func layoutFiles(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	script := filepath.Join(torchtest.Root(), "scripts", "parity", "layout_weights.py")
	if out, err := exec.Command("/usr/bin/python3", script, dir).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v (scripts/parity/setup.sh installs python3-torchvision)\n%s", script, err, torchtest.LastLines(out))
	}
	return dir
}

func readNpy(t *testing.T, path string) ([]float32, []int64) {
	t.Helper()
	a, err := npy.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	shape := make([]int64, len(a.Shape))
	for i, s := range a.Shape {
		shape[i] = int64(s)
	}
	return a.Float32, shape
}

// run opens a model as o says and returns its logits (or, with embed, its
// penultimate features) on the input .npy, eval mode, as gtl predict and
// gtl embed compute them (inference mode, folded batch norms, the oneDNN
// path where it applies).
func run(t *testing.T, o vision.OpenOptions, input string, embed bool) ([]float32, *vision.Opened, error) {
	t.Helper()
	x, shape := readNpy(t, input)
	var out []float32
	var op *vision.Opened
	err := torch.Do(func() error {
		var err error
		o.Device = gotch.CPU
		if op, err = vision.Open(o); err != nil {
			return err
		}
		defer op.Model.Close()
		xt, err := ts.NewTensorFromData(x, shape)
		if err != nil {
			return err
		}
		defer xt.MustDrop()
		f := op.Model.Logits
		if embed {
			f = op.Model.Embed
		}
		rows, err := f(xt)
		for _, r := range rows {
			out = append(out, r...)
		}
		return err
	})
	return out, op, err
}

// sameValues compares a model's outputs with PyTorch's: NaN exactly where
// PyTorch has NaN, the other values within tol (relative to the largest).
func sameValues(got, want []float32, tol float64) error {
	if len(got) != len(want) {
		return fmt.Errorf("%d values, want %d", len(got), len(want))
	}
	var scale float64
	for _, w := range want {
		if !math.IsNaN(float64(w)) {
			scale = max(scale, math.Abs(float64(w)))
		}
	}
	for i := range want {
		g, w := float64(got[i]), float64(want[i])
		if math.IsNaN(w) != math.IsNaN(g) {
			return fmt.Errorf("value %d: got %g, want %g (NaN where PyTorch has a number, or the other way)", i, g, w)
		}
		if !math.IsNaN(w) && math.Abs(g-w) > tol*max(scale, 1) {
			return fmt.Errorf("value %d: got %g, want %g", i, g, w)
		}
	}
	return nil
}

// TestWeightLayouts opens weight files as other tools write them and
// compares gtl's logits or features with torchvision's on the same input:
// pickle protocol 5 and views into one storage give plain.pth's logits;
// self-supervised checkpoints with the backbone under a prefix are refused
// naming the prefix to take, and load with it (a new head, the projection
// MLP skipped) to torchvision's features; NaN and Inf in weights are
// refused by name, and with AllowNonFinite reach the logits exactly where
// PyTorch's do, as does a NaN in the input (gtl's oneDNN path turned them
// into numbers before).
func TestWeightLayouts(t *testing.T) {
	dir := layoutFiles(t)
	f := func(name string) string { return filepath.Join(dir, name) }
	x, xnan := f("x.npy"), f("x-nan.npy")
	want, _ := readNpy(t, f("logits.npy"))
	plain, _, err := run(t, vision.OpenOptions{Arch: "resnet18", Weights: f("plain.pth")}, x, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := sameValues(plain, want, 1e-4); err != nil {
		t.Fatalf("plain.pth against torchvision: %v", err)
	}
	classes := []string{"a", "b", "c", "d", "e"}
	cases := []struct {
		name      string
		o         vision.OpenOptions
		input     string
		embed     bool
		want      string   // the reference output's file; "plain": plain.pth's logits (exactly)
		err       string   // the refusal, one line
		reinit    int      // head tensors re-initialised
		skipped   []string // Report.Skipped
		nonFinite int      // File.NonFinite
	}{
		{name: "protocol 5", o: vision.OpenOptions{Weights: f("p5.pth")}, input: x, want: "plain"},
		{name: "protocol 5 legacy", o: vision.OpenOptions{Weights: f("p5-legacy.pth")}, input: x, want: "plain"},
		{name: "protocol 5 bytearray", o: vision.OpenOptions{Weights: f("p5-extra.pth")}, input: x, want: "plain"},
		{name: "shared storage", o: vision.OpenOptions{Weights: f("shared.pth")}, input: x, want: "plain"},
		{name: "moco", o: vision.OpenOptions{Weights: f("moco.pth"), Classes: classes, NumClasses: 5},
			err: "found a complete resnet18 under `module.encoder_q.` (also under `module.encoder_k.`): add WeightsPrefix module.encoder_q."},
		{name: "moco prefixed", o: vision.OpenOptions{Weights: f("moco.pth"), WeightsPrefix: "module.encoder_q.", Classes: classes, NumClasses: 5},
			input: x, embed: true, want: "features.npy", reinit: 2, skipped: []string{"fc.0.bias", "fc.0.weight", "fc.2.bias", "fc.2.weight"}},
		{name: "moco prefixed predict", o: vision.OpenOptions{Weights: f("moco.pth"), WeightsPrefix: "module.encoder_q."},
			err: "a resnet18 backbone without its classifier (no fc.weight tensor): fine-tune it on your classes first"},
		{name: "mmselfsup", o: vision.OpenOptions{Weights: f("backbone.pth"), Classes: classes, NumClasses: 5},
			err: "found a complete resnet18 under `backbone.`: add WeightsPrefix backbone."},
		{name: "mmselfsup prefixed", o: vision.OpenOptions{Weights: f("backbone.pth"), WeightsPrefix: "backbone.", Classes: classes, NumClasses: 5},
			input: x, embed: true, want: "features.npy", reinit: 2},
		{name: "encoder", o: vision.OpenOptions{Weights: f("encoder.pth")},
			err: "found a complete resnet18 under `encoder.`: add WeightsPrefix encoder."},
		{name: "lightning backbone", o: vision.OpenOptions{Weights: f("model-backbone.pth")},
			err: "found a complete resnet18 under `model.backbone.`: add WeightsPrefix model.backbone."},
		{name: "lightning backbone prefixed", o: vision.OpenOptions{Weights: f("model-backbone.pth"), WeightsPrefix: "model.backbone.", Classes: classes, NumClasses: 5},
			input: x, embed: true, want: "features.npy", reinit: 2},
		{name: "nan weights", o: vision.OpenOptions{Weights: f("nan.pth")},
			err: "nan.pth: 2 tensor(s) hold NaN or Inf: fc.weight (1 Inf of 2560), layer1.0.bn1.running_var (1 NaN of 64); a model computes NaN from them: AllowNonFinite loads them anyway"},
		{name: "nan weights allowed", o: vision.OpenOptions{Weights: f("nan.pth"), AllowNonFinite: true}, input: x, want: "logits-nan.npy", nonFinite: 2},
		{name: "nan input", o: vision.OpenOptions{Weights: f("plain.pth")}, input: xnan, want: "logits-xnan.npy"},
		{name: "nan input embed", o: vision.OpenOptions{Weights: f("plain.pth")}, input: xnan, embed: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.o.Arch = "resnet18"
			in := c.input
			if in == "" {
				in = x
			}
			got, op, err := run(t, c.o, in, c.embed)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) || strings.Contains(err.Error(), "\n") {
					t.Fatalf("error %v, want one line with %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			switch c.want {
			case "plain":
				if !slices.Equal(got, plain) {
					t.Errorf("logits %v, want plain.pth's %v", got[:3], plain[:3])
				}
			case "":
				// nan input embed: the image with NaN has NaN features, the other none
				n := len(got) / 2
				if slices.ContainsFunc(got[:n], isNaN) || !slices.ContainsFunc(got[n:], isNaN) {
					t.Errorf("features: NaN in the first image %v, in the second %v; want only in the second",
						slices.ContainsFunc(got[:n], isNaN), slices.ContainsFunc(got[n:], isNaN))
				}
			default:
				ref, _ := readNpy(t, f(c.want))
				if err := sameValues(got, ref, 1e-4); err != nil {
					t.Errorf("against torchvision's %s: %v", c.want, err)
				}
			}
			if len(op.Report.Reinitialized) != c.reinit || !slices.Equal(op.Report.Skipped, c.skipped) {
				t.Errorf("report: re-initialised %v, skipped %v; want %d re-initialised, skipped %v", op.Report.Reinitialized, op.Report.Skipped, c.reinit, c.skipped)
			}
			if len(op.File.NonFinite) != c.nonFinite {
				t.Errorf("non-finite tensors %v, want %d", op.File.NonFinite, c.nonFinite)
			}
		})
	}
}

// TestCheckFinite: a model's own NaN or Inf — a weight or a batch norm's
// running statistics, as a diverging run leaves them — is found and named.
func TestCheckFinite(t *testing.T) {
	torchtest.Do(t, func() error {
		m, err := vision.New("resnet18", 5, gotch.CPU)
		if err != nil {
			return err
		}
		defer m.Close()
		if err := m.CheckFinite(); err != nil {
			t.Errorf("fresh model: %v, want nil", err)
		}
		vars := m.VS.Variables()
		for _, c := range []struct {
			name string
			v    float64
		}{{"layer2.1.bn2.running_var", math.NaN()}, {"conv1.weight", math.Inf(-1)}} {
			v := vars[c.name]
			bad, err := v.Fill(ts.FloatScalar(c.v), false)
			if err != nil {
				return err
			}
			if err := torch.WithoutGrad(func() error { v.Copy_(bad); return nil }); err != nil {
				return err
			}
			bad.MustDrop()
		}
		err = m.CheckFinite()
		var nf *vision.NonFiniteError
		want := "vision: resnet18: 2 tensor(s) of the model hold NaN or Inf: conv1.weight (9408 Inf of 9408), layer2.1.bn2.running_var (128 NaN of 128)"
		if !errors.As(err, &nf) || err.Error() != want {
			t.Errorf("error %v, want %q", err, want)
		}
		return nil
	})
}

func isNaN(v float32) bool { return v != v }
