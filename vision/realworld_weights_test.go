package vision_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/gtl-dev/gtl/internal/torchtest"
	"github.com/gtl-dev/gtl/torch"
	"github.com/gtl-dev/gtl/vision"
	"github.com/gtl-dev/gtl/weights"
)

var (
	realWeightsOnce sync.Once
	realWeightsDir  string
	realWeightsErr  error
)

// realWeights makes the files of scripts/parity/realworld_weights.py once
// per test binary and returns their folder.
func realWeights(t *testing.T) string {
	t.Helper()
	realWeightsOnce.Do(func() {
		script := filepath.Join(torchtest.Root(), "scripts", "parity", "realworld_weights.py")
		realWeightsDir, realWeightsErr = os.MkdirTemp("", "gtl-realweights")
		if realWeightsErr != nil {
			return
		}
		out, err := exec.Command("/usr/bin/python3", script, realWeightsDir).CombinedOutput()
		if err != nil {
			realWeightsErr = &exec.Error{Name: script + ": " + torchtest.LastLines(out), Err: err}
		}
	})
	if realWeightsErr != nil {
		t.Fatal(realWeightsErr)
	}
	return realWeightsDir
}

func TestMain(m *testing.M) {
	code := m.Run()
	if realWeightsDir != "" {
		os.RemoveAll(realWeightsDir)
	}
	os.Exit(code)
}

// logitsOf opens arch with the weights and returns its logits on a fixed
// 2×3×64×64 input, the load report and the file's source.
func logitsOf(t *testing.T, o vision.OpenOptions) ([][]float32, *vision.Opened, error) {
	var rows [][]float32
	var op *vision.Opened
	err := torch.Do(func() error {
		var err error
		o.Device = gotch.CPU
		if op, err = vision.Open(o); err != nil {
			return err
		}
		defer op.Model.Close()
		vals := make([]float32, 2*3*64*64)
		for i := range vals {
			vals[i] = float32((i*7919)%255)/127 - 1
		}
		x, err := ts.NewTensorFromData(vals, []int64{2, 3, 64, 64})
		if err != nil {
			return err
		}
		defer x.MustDrop()
		rows, err = op.Model.Logits(x)
		return err
	})
	return rows, op, err
}

// TestRealWorldWeights loads the weight files people have (prefixed,
// wrapped, Lightning, EMA, old, half precision, TorchScript) and checks that
// the logits equal those of the plain state dict they hold, and what the
// load says it did.
func TestRealWorldWeights(t *testing.T) {
	dir := realWeights(t)
	arch := "mobilenet_v2"
	plain, _, err := logitsOf(t, vision.OpenOptions{Arch: arch, Weights: filepath.Join(dir, "plain.pth")})
	if err != nil {
		t.Fatal(err)
	}
	ema, _, err := logitsOf(t, vision.OpenOptions{Arch: arch, Weights: filepath.Join(dir, "ema.pth")})
	if err != nil {
		t.Fatal(err)
	}
	halfRef, _, err := logitsOf(t, vision.OpenOptions{Arch: arch, Weights: filepath.Join(dir, "half-as-float.pth")})
	if err != nil {
		t.Fatal(err)
	}
	if slices.EqualFunc(plain, ema, slices.Equal) {
		t.Fatal("the plain and EMA weights give the same logits: the test cannot tell them apart")
	}
	cases := []struct {
		file, key string
		want      [][]float32
		src       weights.WeightsSource
		filled    int
	}{
		{file: "ddp.safetensors", want: plain, src: weights.WeightsSource{Format: "safetensors", Stripped: "module."}},
		{file: "ddp-old.pth", want: plain, src: weights.WeightsSource{Format: "pth (legacy)", Stripped: "module."}, filled: 52},
		{file: "compiled.pth", want: plain, src: weights.WeightsSource{Format: "pth", Stripped: "_orig_mod.module."}},
		{file: "lightning.ckpt", want: plain, src: weights.WeightsSource{Format: "pth", Key: "state_dict", Stripped: "model."}},
		{file: "timm.pth", want: plain, src: weights.WeightsSource{Format: "pth", Key: "state_dict", Skipped: []string{"state_dict_ema"}}},
		{file: "timm.pth", key: "state_dict_ema", want: ema, src: weights.WeightsSource{Format: "pth", Key: "state_dict_ema", Skipped: []string{"state_dict"}}},
		{file: "fastai.pth", want: plain, src: weights.WeightsSource{Format: "pth", Key: "model"}},
		{file: "half.pth", want: halfRef, src: weights.WeightsSource{Format: "pth"}},
		{file: "script.pt", want: plain, src: weights.WeightsSource{Format: "TorchScript archive", Class: "__torch__.torchvision.models.mobilenetv2.MobileNetV2"}},
	}
	for _, c := range cases {
		t.Run(c.file+"/"+c.key, func(t *testing.T) {
			got, op, err := logitsOf(t, vision.OpenOptions{Arch: arch, Weights: filepath.Join(dir, c.file), WeightsKey: c.key})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.EqualFunc(got, c.want, slices.Equal) {
				t.Errorf("logits %v, want %v", got[0][:3], c.want[0][:3])
			}
			src := op.File
			if src.Format != c.src.Format || src.Key != c.src.Key || src.Stripped != c.src.Stripped || src.Class != c.src.Class ||
				!slices.Equal(src.Skipped, c.src.Skipped) {
				t.Errorf("source %+v, want %+v", src, c.src)
			}
			if len(op.Report.Filled) != c.filled {
				t.Errorf("%d num_batches_tracked filled, want %d", len(op.Report.Filled), c.filled)
			}
			if len(op.Report.Missing)+len(op.Report.Unexpected)+len(op.Report.Reinitialized)+len(op.Report.Initialized) != 0 {
				t.Errorf("report %+v, want every tensor loaded", op.Report)
			}
		})
	}
}

// TestRealWorldWeightsRefused: files that hold no state dict gtl can use
// get one line saying what they are and what to do.
func TestRealWorldWeightsRefused(t *testing.T) {
	dir := realWeights(t)
	cases := []struct{ file, key, want string }{
		{"module.pth", "", "a whole pickled model (torchvision.models.mobilenetv2.MobileNetV2, saved with torch.save(model)), not a state dict: re-export it in Python with torch.save(model.state_dict()"},
		{"script-other.pt", "", "a TorchScript archive of __torch__.torch.nn.modules.container.Sequential whose tensor names are not mobilenet_v2's; re-export"},
		{"timm.pth", "model_ema", `--weights-key "model_ema": no such entry holding tensors (entries with tensors: state_dict, state_dict_ema)`},
		{"plain.pth", "state_dict", `--weights-key "state_dict": the file is a plain state dict`},
		{"ddp.safetensors", "state_dict", `--weights-key "state_dict": a safetensors file holds a plain set of tensors`},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			_, _, err := logitsOf(t, vision.OpenOptions{Arch: "mobilenet_v2", Weights: filepath.Join(dir, c.file), WeightsKey: c.key})
			if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error %v, want one line with %q", err, c.want)
			}
		})
	}
}

// TestOptionalHead: inception_v3 saved without its auxiliary classifier
// loads; the AuxLogits tensors are reported as initialised and the rest
// equal the file's.
func TestOptionalHead(t *testing.T) {
	dir := realWeights(t)
	path := filepath.Join(dir, "inception-noaux.pth")
	torchtest.Do(t, func() error {
		op, err := vision.Open(vision.OpenOptions{Arch: "inception_v3", Weights: path, Device: gotch.CPU})
		if err != nil {
			return err
		}
		defer op.Model.Close()
		file, err := weights.ReadWeights(path)
		if err != nil {
			return err
		}
		defer weights.DropAll(file)
		if len(op.Report.Loaded) != len(file) {
			t.Errorf("%d tensors loaded, want the file's %d", len(op.Report.Loaded), len(file))
		}
		// AuxLogits: two conv+bn blocks (1+5 tensors each) and a linear layer.
		if len(op.Report.Initialized) != 14 || len(op.Report.Filled) != 0 {
			t.Errorf("%d tensors reported initialised, %d filled; want AuxLogits' 14, none", len(op.Report.Initialized), len(op.Report.Filled))
		}
		for _, n := range op.Report.Initialized {
			if !strings.HasPrefix(n, "AuxLogits.") {
				t.Errorf("%s reported initialised, want only AuxLogits.*", n)
			}
		}
		sd := op.Model.StateDict()
		for _, n := range []string{"Conv2d_1a_3x3.conv.weight", "fc.weight", "Mixed_7c.branch_pool.bn.running_var"} {
			eq := sd[n].MustEqual(file[n], false)
			if !eq {
				t.Errorf("%s differs from the file's", n)
			}
		}
		if op.Model.NumClasses != 5 {
			t.Errorf("%d classes, want the file's 5", op.Model.NumClasses)
		}
		return nil
	})
}
