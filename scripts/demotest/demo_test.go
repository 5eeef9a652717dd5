package demotest

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestDemoQuick runs make demo's quick version (DEMO=quick) end to end with
// a freshly built binary, then again up to the source models, which must
// come from the cache the first run filled.
func TestDemoQuick(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "gtl")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/gtl").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	demo := func(extra ...string) []byte {
		cmd := exec.Command("bash", "../../scripts/demo.sh")
		cmd.Env = append(append(os.Environ(), "DEMO=quick", "GTL="+bin, "OUT="+filepath.Join(dir, "demo"), "GTL_NUM_THREADS=1",
			"GTL_HOME="+filepath.Join(dir, "home")), extra...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("demo: %v\n%s", err, out)
		}
		return out
	}
	out := demo()
	for _, re := range []string{`(?m)^scratch +\d+\.\d% \(1 seed\)`, `(?m)^== source letters-source \(cached as `, `(?m)^best val accuracy `,
		`(?m)^(digits|fashion|narrow) +(5|20) +\d+\.\d% +\d+\.\d% +-?\d+% +(scratch|linear|freeze-\d|full)$`, `recommended: `, `demo finished in \d+s`} {
		if !regexp.MustCompile(re).Match(out) {
			t.Errorf("demo output does not match %q:\n%s", re, out)
		}
	}
	if n := len(regexp.MustCompile(`(?m)^(digits|fashion|narrow) +(5|20) `).FindAll(out, -1)); n != 6 {
		t.Errorf("%d advice lines, want 6 (3 targets × 2 sizes)", n)
	}
	for _, f := range []string{"compare-digits/report.html", "compare-fashion/report.html", "compare-narrow/report.html",
		"letters-source/best.safetensors", "narrow-source/best.safetensors", "advice.txt"} {
		if _, err := os.Stat(filepath.Join(dir, "demo", f)); err != nil {
			t.Error(err)
		}
	}
	// The glyph sets are drawn from the pinned fonts: every machine with the
	// pinned packages writes these manifests byte for byte (images digest
	// included), so the letters source's cache key is the same everywhere.
	// A deliberate change to the generator or the font list changes them:
	// put the new sums here.
	for set, want := range map[string]string{
		"letters": "d611f7ea33fb73bfd8f90e63154074a26163355cd300362546c1dd2969b873a9",
		"digits":  "653fdec65d04395f56aa39d4fdadd7fe97bc97f73efd441c36583b2588c15e9e",
	} {
		js, err := os.ReadFile(filepath.Join(dir, "demo", set, "glyphs.json"))
		if err != nil {
			t.Fatal(err)
		}
		if sum := sha256.Sum256(js); hex.EncodeToString(sum[:]) != want {
			t.Errorf("%s/glyphs.json has SHA-256 %x, want %s (the pinned fonts' set):\n%s", set, sum, want, js)
		}
	}
	// The second run trains nothing: both sources come from $GTL_HOME.
	again := demo("SOURCES_ONLY=1")
	if n := strings.Count(string(again), "reusing "); n != 2 || strings.Contains(string(again), "best val accuracy") {
		t.Errorf("second run reused %d sources, want 2:\n%s", n, again)
	}
}
