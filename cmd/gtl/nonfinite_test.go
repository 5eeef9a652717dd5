package main

import (
	"math"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gtl-dev/gtl/internal/torchtest"
	"github.com/gtl-dev/gtl/npy"
)

// TestNonFiniteAndPrefixCLI: gtl predict refuses weights holding NaN or
// Inf, and an .npy batch holding them, in one line naming the tensors or
// the first element; --allow-nonfinite computes what torchvision computes
// (NaN logits exactly where it has them); a MoCo checkpoint is refused
// naming the prefix of its complete backbone, and with --weights-prefix it
// is found to lack a classifier.
func TestNonFiniteAndPrefixCLI(t *testing.T) {
	if err := exec.Command("/usr/bin/python3", "-c", "import torchvision").Run(); err != nil {
		t.Skipf("python3-torchvision not installed (scripts/parity/setup.sh): %v", err)
	}
	dir := t.TempDir()
	script := filepath.Join(torchtest.Root(), "scripts", "parity", "layout_weights.py")
	if out, err := exec.Command("/usr/bin/python3", script, dir, "plain.pth", "nan.pth", "moco.pth", "x.npy", "x-nan.npy",
		"logits-nan.npy", "logits-xnan.npy").CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", script, err, torchtest.LastLines(out))
	}
	f := func(name string) string { return filepath.Join(dir, name) }
	cases := []struct {
		name   string
		args   []string
		code   int
		stderr string // one line containing it, when code != 0
		want   string // reference logits .npy, when code == 0
	}{
		{"nan weights", []string{"--weights", f("nan.pth"), f("x.npy")}, 1,
			"nan.pth: 2 tensor(s) hold NaN or Inf: fc.weight (1 Inf of 2560), layer1.0.bn1.running_var (1 NaN of 64); a model computes NaN from them: --allow-nonfinite loads them anyway", ""},
		{"nan weights allowed", []string{"--weights", f("nan.pth"), "--allow-nonfinite", f("x.npy")}, 0, "", "logits-nan.npy"},
		{"nan input", []string{"--weights", f("plain.pth"), f("x-nan.npy")}, 2,
			"x-nan.npy: 1 NaN, first at [1, 2, 10, 20]: its logits would be NaN (--allow-nonfinite classifies it anyway)", ""},
		{"nan input allowed", []string{"--weights", f("plain.pth"), "--allow-nonfinite", f("x-nan.npy")}, 0, "", "logits-xnan.npy"},
		{"moco", []string{"--weights", f("moco.pth"), f("x.npy")}, 1,
			"found a complete resnet18 under `module.encoder_q.` (also under `module.encoder_k.`): add --weights-prefix module.encoder_q.", ""},
		{"moco prefixed", []string{"--weights", f("moco.pth"), "--weights-prefix", "module.encoder_q.", f("x.npy")}, 1,
			"a resnet18 backbone without its classifier (no fc.weight tensor): fine-tune it on your classes first (gtl train)", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			logits := filepath.Join(t.TempDir(), "logits.npy")
			args := append([]string{"predict", "--model", "resnet18", "--logits", logits}, c.args...)
			_, errOut, code := gtl(args...)
			if code != c.code {
				t.Fatalf("exit %d, want %d: %s", code, c.code, errOut)
			}
			if c.code != 0 {
				if line := strings.TrimSpace(errOut); !strings.Contains(line, c.stderr) || strings.Contains(line, "\n") {
					t.Fatalf("stderr %q, want one line with %q", errOut, c.stderr)
				}
				return
			}
			got, err := npy.Read(logits)
			if err != nil {
				t.Fatal(err)
			}
			want, err := npy.Read(f(c.want))
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Float32) != len(want.Float32) {
				t.Fatalf("%d logits, want %d", len(got.Float32), len(want.Float32))
			}
			for i, w := range want.Float32 {
				g := got.Float32[i]
				wn, gn := math.IsNaN(float64(w)), math.IsNaN(float64(g))
				if wn != gn || (!wn && math.Abs(float64(g-w)) > 1e-4*max(1, math.Abs(float64(w)))) {
					t.Fatalf("logit %d: %v, torchvision %v", i, g, w)
				}
			}
		})
	}
}
