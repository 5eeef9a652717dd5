// Package torchtest holds helpers that gtl's tests share across packages:
// the repository root, running test code on the torch worker, and the
// torchvision reference outputs (parity fixtures) made at test time by
// Debian's python3-torchvision. Only tests import it.
package torchtest

import (
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/gtl-dev/gtl/torch"
	"github.com/sugarme/gotch/ts"
)

// Root returns the repository's root folder (scripts/ and testdata/ are
// found from it, whatever package the test runs in).
func Root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(filepath.Dir(file)))
}

// Do runs fn on the torch worker thread and fails the test on its error.
func Do(t testing.TB, fn func() error) {
	t.Helper()
	if err := torch.Do(fn); err != nil {
		t.Fatal(err)
	}
}

// LastLines returns the last 8 lines of a command's output, for messages.
func LastLines(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return strings.Join(lines[max(0, len(lines)-8):], "\n")
}

var fixtureMu sync.Mutex

// Fixture returns the folder of torchvision reference outputs
// (testdata/fixtures/parity), making arch's with
// scripts/parity/make_fixtures.py (Debian's python3-torchvision) when they
// are missing: ARCH.pth (a seeded model's state dict, 10 classes),
// ARCH.input.npy, ARCH.eval.npy, ARCH.train.npy and ARCH.init.json.
func Fixture(t testing.TB, arch string) string {
	t.Helper()
	fixtureMu.Lock()
	defer fixtureMu.Unlock()
	root := Root()
	dir := filepath.Join(root, "testdata", "fixtures", "parity")
	if _, err := os.Stat(filepath.Join(dir, arch+".init.json")); err == nil {
		return dir
	}
	cmd := exec.Command("/usr/bin/python3", filepath.Join(root, "scripts", "parity", "make_fixtures.py"), dir, arch)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make_fixtures.py %s: %v\n%s\n(scripts/parity/setup.sh installs python3-torchvision)", arch, err, LastLines(out))
	}
	return dir
}

// Forwarder is a model's forward pass (vision.Model has it).
type Forwarder interface {
	Forward(x *ts.Tensor, train bool) (*ts.Tensor, error)
}

// CompareLogits runs m on the batch in the .npy file input (in training mode
// when train is set) and compares its logits with the reference in the .npy
// file want (torchvision's, written by the fixture scripts). It returns the
// largest absolute difference and the parity tolerance,
// 1e-4·max|want| + 1e-5. Errors: an unreadable file, a failed forward pass,
// or a different number of logits. It must run on the torch worker thread.
func CompareLogits(m Forwarder, input, want string, train bool) (maxDiff, tol float64, err error) {
	x, err := ts.ReadNpy(input)
	if err != nil {
		return 0, 0, fmt.Errorf("%s: %w", input, err)
	}
	defer x.MustDrop()
	ref, err := ts.ReadNpy(want)
	if err != nil {
		return 0, 0, fmt.Errorf("%s: %w", want, err)
	}
	defer ref.MustDrop()
	got, err := m.Forward(x, train)
	if err != nil {
		return 0, 0, fmt.Errorf("forward: %w", err)
	}
	defer got.MustDrop()
	g, w := got.Float64Values(true), ref.Float64Values(true)
	if len(g) != len(w) {
		return 0, 0, fmt.Errorf("%d logits, %s has %d", len(g), want, len(w))
	}
	var maxY float64
	for i := range w {
		maxY = math.Max(maxY, math.Abs(w[i]))
		maxDiff = math.Max(maxDiff, math.Abs(g[i]-w[i]))
	}
	return maxDiff, 1e-4*maxY + 1e-5, nil
}
