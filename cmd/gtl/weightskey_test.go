package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gtl-dev/gtl/strategies"
)

// weightsKeyScript makes, with Debian's torch and PIL, a timm-style
// checkpoint {"state_dict": plain, "state_dict_ema": ema} of a
// squeezenet1_1 (2 classes), the two plain state dicts it wraps, and a
// folder of 2 classes × 10 seeded 32×32 images.
const weightsKeyScript = `
import os, sys
import numpy as np, torch, torchvision
from PIL import Image
out = sys.argv[1]
torch.manual_seed(0)
plain = torchvision.models.squeezenet1_1(num_classes=2).state_dict()
torch.manual_seed(1)
ema = torchvision.models.squeezenet1_1(num_classes=2).state_dict()
torch.save(plain, os.path.join(out, "plain.pth"))
torch.save(ema, os.path.join(out, "ema.pth"))
torch.save({"state_dict": plain, "state_dict_ema": ema, "epoch": 9, "arch": "squeezenet1_1"}, os.path.join(out, "timm.pth"))
rng = np.random.default_rng(0)
for c, tint in (("cats", (200, 60, 60)), ("dogs", (60, 60, 200))):
    os.makedirs(os.path.join(out, "data", c))
    for i in range(10):
        px = np.clip(rng.normal(tint, 40, size=(32, 32, 3)), 0, 255).astype(np.uint8)
        Image.fromarray(px).save(os.path.join(out, "data", c, "%d.png" % i))
`

// TestWeightsKeyCompareRecommend checks that --weights-key reaches the runs
// of gtl compare and the probes of gtl recommend: a timm checkpoint with
// state_dict_ema chosen measures and trains exactly as the EMA's plain
// state dict does, and without the key exactly as the plain weights do.
func TestWeightsKeyCompareRecommend(t *testing.T) {
	dir := t.TempDir()
	if b, err := exec.Command("/usr/bin/python3", "-c", weightsKeyScript, dir).CombinedOutput(); err != nil {
		t.Fatalf("python: %v\n%s", err, b)
	}
	data := filepath.Join(dir, "data")
	f := func(name string) string { return filepath.Join(dir, name) }

	// recommend: the probes' accuracies and the suggested command.
	recOf := func(args ...string) recommendation {
		t.Helper()
		out, errOut, code := gtl(append([]string{"recommend", "--model", "squeezenet1_1", "--data", data, "--image-size", "32",
			"--probe-images", "10", "--json"}, args...)...)
		if code != 0 {
			t.Fatalf("recommend %v: exit %d: %s", args, code, errOut)
		}
		var r recommendation
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("recommend %v: %v\n%s", args, err, out)
		}
		return r
	}
	ema, timmEMA := recOf("--weights", f("ema.pth")), recOf("--weights", f("timm.pth"), "--weights-key", "state_dict_ema")
	plain, timm := recOf("--weights", f("plain.pth")), recOf("--weights", f("timm.pth"))
	if timmEMA.SourceProbe != ema.SourceProbe || timmEMA.RandomProbe != ema.RandomProbe {
		t.Errorf("recommend --weights-key state_dict_ema: probes %v/%v, want the EMA file's %v/%v", timmEMA.SourceProbe, timmEMA.RandomProbe, ema.SourceProbe, ema.RandomProbe)
	}
	if timm.SourceProbe != plain.SourceProbe || timm.RandomProbe != plain.RandomProbe {
		t.Errorf("recommend (no key): probes %v/%v, want the plain file's %v/%v", timm.SourceProbe, timm.RandomProbe, plain.SourceProbe, plain.RandomProbe)
	}
	if timmEMA.SourceKey != "state_dict_ema" || timm.SourceKey != "" {
		t.Errorf("source_weights_key %q and %q, want state_dict_ema and none", timmEMA.SourceKey, timm.SourceKey)
	}
	if timmEMA.Strategy != "scratch" && !strings.Contains(timmEMA.Command, "--weights-key state_dict_ema") {
		t.Errorf("suggested command %q, want --weights-key state_dict_ema", timmEMA.Command)
	}

	// compare: one linear run each; the training-loss curve is the
	// weights' fingerprint.
	curve := func(weights string, extra ...string) ([]float64, strategies.Grid) {
		t.Helper()
		out := filepath.Join(dir, "cmp-"+strings.Join(append([]string{filepath.Base(weights)}, extra...), "-"))
		args := append([]string{"compare", "--model", "squeezenet1_1", "--weights", weights, "--data", data, "--image-size", "32",
			"--strategies", "linear", "--shots", "all", "--seeds", "1", "--out", out, "-q"}, extra...)
		if _, errOut, code := gtl(args...); code != 0 {
			t.Fatalf("compare %v: exit %d: %s", args, code, errOut)
		}
		b, err := os.ReadFile(filepath.Join(out, "results.json"))
		if err != nil {
			t.Fatal(err)
		}
		var res strategies.Results
		if err := json.Unmarshal(b, &res); err != nil {
			t.Fatal(err)
		}
		if len(res.Runs) != 1 || len(res.Runs[0].Curve) == 0 {
			t.Fatalf("compare %v: %d runs in results.json", args, len(res.Runs))
		}
		var c []float64
		for _, p := range res.Runs[0].Curve {
			c = append(c, p.TrainLoss)
		}
		return c, res.Grid
	}
	cEMA, _ := curve(f("ema.pth"))
	cTimmEMA, g := curve(f("timm.pth"), "--weights-key", "state_dict_ema")
	cPlain, _ := curve(f("plain.pth"))
	cTimm, gPlain := curve(f("timm.pth"))
	if !slices.Equal(cTimmEMA, cEMA) {
		t.Errorf("compare --weights-key state_dict_ema: train loss %v, want the EMA file's %v", cTimmEMA, cEMA)
	}
	if !slices.Equal(cTimm, cPlain) {
		t.Errorf("compare (no key): train loss %v, want the plain file's %v", cTimm, cPlain)
	}
	if slices.Equal(cEMA, cPlain) {
		t.Errorf("plain and EMA weights train alike (%v): the check above cannot tell them apart", cEMA)
	}
	if g.WeightsKey != "state_dict_ema" || gPlain.WeightsKey != "" {
		t.Errorf("grid weights_key %q and %q, want state_dict_ema and none", g.WeightsKey, gPlain.WeightsKey)
	}
	// Resuming with another key is another comparison.
	out := filepath.Join(dir, "cmp-timm.pth---weights-key-state_dict_ema")
	if _, err := os.Stat(filepath.Join(out, "results.json")); err != nil {
		t.Fatal(err)
	}
	_, errOut, code := gtl("compare", "--model", "squeezenet1_1", "--weights", f("timm.pth"), "--data", data, "--image-size", "32",
		"--strategies", "linear", "--shots", "all", "--seeds", "1", "--out", out, "-q", "--resume")
	if code != 2 || !strings.Contains(errOut, "holds results of a different comparison") {
		t.Errorf("compare --resume without the key on a state_dict_ema comparison: exit %d %q, want a refusal", code, errOut)
	}
}
