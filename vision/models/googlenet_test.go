package models

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gtl-dev/gtl/internal/torchtest"
	"github.com/gtl-dev/gtl/torch"
	"github.com/gtl-dev/gtl/vision"
)

// TestGoogLeNetAuxSkipped opens a torchvision googlenet state dict that
// holds the auxiliary classifiers (as the published file does): vision.Open skips
// aux1./aux2. (the spec's SkipPrefixes), loads everything else strictly,
// and reproduces torchvision's eval-mode logits.
func TestGoogLeNetAuxSkipped(t *testing.T) {
	if testing.Short() {
		t.Skip("googlenet fixture: make test-all")
	}
	dir := t.TempDir()
	script := `
import sys, numpy as np, torch, torchvision
torch.set_num_threads(1)
torch.manual_seed(0)
m = torchvision.models.googlenet(weights=None, num_classes=10, aux_logits=True, init_weights=True).eval()
x = torch.randn(2, 3, 64, 64)
with torch.no_grad():
    y = m(x)
sd = m.state_dict()
assert any(k.startswith("aux1.") for k in sd)
torch.save(sd, sys.argv[1] + "/g.pth")
np.save(sys.argv[1] + "/x.npy", x.numpy())
np.save(sys.argv[1] + "/y.npy", y.numpy())
`
	if out, err := exec.Command("/usr/bin/python3", "-c", script, dir).CombinedOutput(); err != nil {
		t.Fatalf("python: %v\n%s", err, out)
	}
	orig := torch.NumThreads()
	torch.SetNumThreads(1)
	defer torch.SetNumThreads(max(orig, 1))
	err := torch.Do(func() error {
		o, err := vision.Open(vision.OpenOptions{Arch: "googlenet", Weights: filepath.Join(dir, "g.pth")})
		if err != nil {
			return err
		}
		defer o.Model.Close()
		for _, k := range o.Report.Loaded {
			if strings.HasPrefix(k, "aux") {
				t.Errorf("loaded %s", k)
			}
		}
		if o.Model.TransformInput {
			t.Error("transform_input on for a file that is not torchvision's published one")
		}
		maxD, tol, err := torchtest.CompareLogits(o.Model, filepath.Join(dir, "x.npy"), filepath.Join(dir, "y.npy"), false)
		if err != nil {
			return err
		}
		if maxD > tol {
			t.Errorf("logits: max |Δ| %.3g > %.3g", maxD, tol)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
