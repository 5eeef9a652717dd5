package onnx

import (
	"fmt"
	"maps"
	"math"
	"os"
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
	_ "github.com/gtl-dev/gtl/vision/models"
)

// Tolerance of torchvision's ONNX export tests (test/test_onnx.py,
// run_model: rtol 1e-3, atol 1e-5): |ort − gtl| ≤ atol + rtol·|gtl|.
const (
	rtol = 1e-3
	atol = 1e-5
)

// exportCase is one architecture checked against ONNX Runtime: size is the
// exported (and tested) input size; dynamic exports height and width as
// symbolic dimensions and tests at size; light ones run under -short.
type exportCase struct {
	arch    string
	size    int
	dynamic bool
	light   bool
}

// exportCases: at least one architecture of every family gtl has.
var exportCases = []exportCase{
	{"resnet18", 64, true, true},
	{"squeezenet1_1", 64, true, true},
	{"mobilenet_v2", 64, true, true},
	{"mobilenet_v3_small", 64, true, true},
	{"mobilenet_v3_large", 64, false, false},
	{"resnet50", 64, true, false},
	{"resnext50_32x4d", 64, false, false},
	{"wide_resnet50_2", 64, false, false},
	{"squeezenet1_0", 64, false, false},
	{"vgg11", 224, false, false},
	{"vgg11_bn", 224, false, false},
	{"alexnet", 224, false, false},
	{"densenet121", 64, true, false},
	{"googlenet", 64, true, false},
	{"inception_v3", 299, false, false},
	{"mnasnet0_5", 64, true, false},
	{"shufflenet_v2_x0_5", 64, true, false},
	{"efficientnet_b0", 64, true, false},
	{"efficientnet_v2_s", 64, false, false},
	{"regnet_y_400mf", 64, true, false},
	{"regnet_x_400mf", 64, false, false},
	{"convnext_tiny", 64, true, false},
	{"vit_b_32", 224, false, false},
	{"swin_t", 64, false, false},
}

// ortDir is where scripts/onnx/setup.sh installs onnxruntime-node.
func ortDir() string {
	if d := os.Getenv("ORT_DIR"); d != "" {
		return d
	}
	return filepath.Join(torchtest.Root(), ".cache", "ort")
}

// needTools skips when node is absent (the one allowed skip) and fails
// when node is there but the checker or ONNX Runtime is not installed.
func needTools(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node not found: the ONNX Runtime checks need node (and scripts/onnx/setup.sh)")
	}
	if _, err := os.Stat(filepath.Join(ortDir(), "node_modules", "onnxruntime-node", "package.json")); err != nil {
		t.Fatalf("onnxruntime-node missing under %s: run scripts/onnx/setup.sh (make test-setup)", ortDir())
	}
	if out, err := exec.Command("/usr/bin/python3", "-c", "import onnx").CombinedOutput(); err != nil {
		t.Fatalf("python3-onnx missing (run scripts/onnx/setup.sh): %v\n%s", err, out)
	}
}

// checkONNX runs the ONNX checker (full_check, strict shape inference).
func checkONNX(t *testing.T, path string) {
	t.Helper()
	out, err := exec.Command("/usr/bin/python3", filepath.Join(torchtest.Root(), "scripts", "onnx", "check.py"), path).CombinedOutput()
	if err != nil {
		t.Fatalf("onnx checker rejects %s: %v\n%s", filepath.Base(path), err, torchtest.LastLines(out))
	}
}

// runORT runs ONNX Runtime (one intra-op thread) on each input .npy and
// returns the outputs.
func runORT(t *testing.T, model string, inputs []string) []*npy.Array {
	t.Helper()
	args := []string{filepath.Join(torchtest.Root(), "scripts", "onnx", "run.js"), model, "1"}
	var outs []string
	for _, in := range inputs {
		o := strings.TrimSuffix(in, ".npy") + ".ort.npy"
		args = append(args, in, o)
		outs = append(outs, o)
	}
	cmd := exec.Command("node", args...)
	cmd.Env = append(os.Environ(), "NODE_PATH="+filepath.Join(ortDir(), "node_modules"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("onnx runtime: %v\n%s", err, torchtest.LastLines(out))
	}
	var res []*npy.Array
	for _, o := range outs {
		a, err := npy.Read(o)
		if err != nil {
			t.Fatal(err)
		}
		res = append(res, a)
	}
	return res
}

// randomiseBatchNorm gives every batch norm random statistics and affine
// parameters (a fresh model's are 0, 1, 1, 0, which would hide a wrong
// fold): running_mean N(0, 0.1²), running_var U(0.5, 1.5), weight
// U(0.5, 1.5), bias N(0, 0.1²), from libtorch's seeded generator.
func randomiseBatchNorm(m *vision.Model) error {
	sd := m.StateDict()
	return torch.WithoutGrad(func() error {
		// Sorted names and a fixed order of draws: the same values every run.
		for _, name := range slices.Sorted(maps.Keys(sd)) {
			if !strings.HasSuffix(name, ".running_mean") {
				continue
			}
			p := strings.TrimSuffix(name, "running_mean")
			for _, suffix := range []string{"running_mean", "running_var", "weight", "bias"} {
				r := map[string][2]float64{"running_mean": {0, 0.1}, "running_var": {0.5, 1.5}, "weight": {0.5, 1.5}, "bias": {0, 0.1}}[suffix]
				v, ok := sd[p+suffix]
				if !ok {
					continue
				}
				size, err := v.Size()
				if err != nil {
					return err
				}
				var x *ts.Tensor
				if suffix == "running_mean" || suffix == "bias" {
					x, err = ts.Randn(size, gotch.Float, gotch.CPU)
					if err == nil {
						x, err = x.MulScalar(ts.FloatScalar(r[1]), true)
					}
				} else {
					x, err = ts.Rand(size, gotch.Float, gotch.CPU)
					if err == nil {
						x, err = x.AddScalar(ts.FloatScalar(r[0]), true)
					}
				}
				if err != nil {
					return err
				}
				v.Copy_(x)
				x.MustDrop()
			}
		}
		return nil
	})
}

// randomiseZeroWeights gives weights that initialise to zero (ViT's head,
// as torchvision's) N(0, 0.05²) values, so that the logits depend on the
// whole network.
func randomiseZeroWeights(m *vision.Model) error {
	return torch.WithoutGrad(func() error {
		sd := m.StateDict()
		for _, name := range slices.Sorted(maps.Keys(sd)) {
			v := sd[name]
			if !strings.HasSuffix(name, ".weight") {
				continue
			}
			a, err := v.Abs(false)
			if err != nil {
				return err
			}
			mx, err := a.Max(true)
			if err != nil {
				return err
			}
			zero := mx.Float64Values()[0] == 0
			mx.MustDrop()
			if !zero {
				continue
			}
			size, err := v.Size()
			if err != nil {
				return err
			}
			x, err := ts.Randn(size, gotch.Float, gotch.CPU)
			if err == nil {
				x, err = x.MulScalar(ts.FloatScalar(0.05), true)
			}
			if err != nil {
				return err
			}
			v.Copy_(x)
			x.MustDrop()
		}
		return nil
	})
}

// gtlLogits runs m in evaluation mode on x and writes x and the logits as
// .npy files under dir (name.input.npy, name.gtl.npy).
func gtlLogits(m *vision.Model, x *ts.Tensor, dir, name string) (input string, logits *npy.Array, err error) {
	size, err := x.Size()
	if err != nil {
		return "", nil, err
	}
	_, xv, err := float32Values(x)
	if err != nil {
		return "", nil, err
	}
	input = filepath.Join(dir, name+".input.npy")
	if err := npy.Write(input, &npy.Array{Shape: intShape(size), Float32: xv}); err != nil {
		return "", nil, err
	}
	var y *ts.Tensor
	err = torch.WithoutGrad(func() error {
		var err error
		y, err = m.Forward(x, false)
		return err
	})
	if err != nil {
		return "", nil, err
	}
	defer y.MustDrop()
	ys, yv, err := float32Values(y)
	if err != nil {
		return "", nil, err
	}
	return input, &npy.Array{Shape: intShape(ys), Float32: yv}, nil
}

func intShape(s []int64) []int {
	out := make([]int, len(s))
	for i, d := range s {
		out[i] = int(d)
	}
	return out
}

// compare returns the largest |a − b| and whether every element is within
// atol + rtol·|b| (b: gtl's).
func compare(a, b *npy.Array) (float64, error) {
	if fmt.Sprint(a.Shape) != fmt.Sprint(b.Shape) {
		return 0, fmt.Errorf("ONNX Runtime's logits have shape %v, gtl's %v", a.Shape, b.Shape)
	}
	var maxD float64
	bad := 0
	for i := range a.Float32 {
		d := math.Abs(float64(a.Float32[i]) - float64(b.Float32[i]))
		if math.IsNaN(d) {
			d = math.Inf(1)
		}
		maxD = math.Max(maxD, d)
		if d > atol+rtol*math.Abs(float64(b.Float32[i])) {
			bad++
		}
	}
	if bad > 0 {
		return maxD, fmt.Errorf("%d of %d logits outside rtol %g, atol %g (max |Δ| %.3g)", bad, len(a.Float32), rtol, atol, maxD)
	}
	return maxD, nil
}

// TestONNXRuntimeMatchesGtl exports each family's model with random
// weights (random batch-norm statistics, so that folding matters), checks
// the file with the ONNX checker, and compares ONNX Runtime's logits at
// batch 1 and 3 (one file: the batch axis is dynamic) with gtl's own.
func TestONNXRuntimeMatchesGtl(t *testing.T) {
	needTools(t)
	orig := torch.NumThreads()
	if err := torch.SetNumThreads(1); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { torch.SetNumThreads(max(orig, 1)) })
	for _, c := range exportCases {
		if testing.Short() && !c.light {
			continue
		}
		t.Run(c.arch, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, c.arch+".onnx")
			var in1, in3 string
			var want1, want3 *npy.Array
			torchtest.Do(t, func() error {
				if err := torch.ManualSeed(7); err != nil {
					return err
				}
				m, err := vision.New(c.arch, 10, gotch.CPU)
				if err != nil {
					return err
				}
				defer m.Close()
				if err := randomiseBatchNorm(m); err != nil {
					return err
				}
				if err := randomiseZeroWeights(m); err != nil {
					return err
				}
				size := c.size
				if c.dynamic {
					size = 0 // exported with the model's InputSize, run at c.size
				}
				if err := WriteFile(path, m, Options{Size: size, DynamicSize: c.dynamic}); err != nil {
					return err
				}
				x, err := ts.Randn([]int64{3, 3, int64(c.size), int64(c.size)}, gotch.Float, gotch.CPU)
				if err != nil {
					return err
				}
				defer x.MustDrop()
				if in3, want3, err = gtlLogits(m, x, dir, "b3"); err != nil {
					return err
				}
				x1, err := x.Narrow(0, 0, 1, false)
				if err != nil {
					return err
				}
				defer x1.MustDrop()
				in1, want1, err = gtlLogits(m, x1, dir, "b1")
				return err
			})
			checkONNX(t, path)
			got := runORT(t, path, []string{in1, in3})
			for i, want := range []*npy.Array{want1, want3} {
				d, err := compare(got[i], want)
				if err != nil {
					t.Errorf("batch %d: %v", want.Shape[0], err)
					continue
				}
				var scale float64
				for _, v := range want.Float32 {
					scale = math.Max(scale, math.Abs(float64(v)))
				}
				if scale == 0 {
					t.Errorf("batch %d: gtl's logits are all zero: the comparison checks nothing", want.Shape[0])
				}
				t.Logf("batch %d: max |logit diff| %.3g (max |logit| %.3g)", want.Shape[0], d, scale)
			}
		})
	}
}
