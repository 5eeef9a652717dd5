package torch_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/gtl-dev/gtl/internal/torchtest"
)

// TestNoLeakingInPlaceOps: gtl's code (tests aside) calls gotch's generated
// in-place methods (X_, MustX_) only inside the wrappers that free the C
// handle they replace (torch.AddInPlace's inPlace, vision's
// uniformInPlace): called bare, each call keeps the tensor, and under
// autograd its whole graph, alive (TestAddInPlace). Copy_ is gotch's
// hand-written copy and replaces nothing.
func TestNoLeakingInPlaceOps(t *testing.T) {
	call := regexp.MustCompile(`\.(Must)?[A-Z][A-Za-z0-9]*_\(`)
	allowed := map[string]string{ // file → the one line allowed to call one
		"torch/tensor.go": "return inPlace(t, func() error { return t.Add_(other) })",
		"vision/init.go":  "if err := x.Uniform_(lo, hi); err != nil {",
	}
	root := torchtest.Root()
	var found int
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			if strings.HasPrefix(d.Name(), ".") && rel != "." || d.Name() == "testdata" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for i, line := range strings.Split(string(b), "\n") {
			for _, m := range call.FindAllString(line, -1) {
				if m == ".Copy_(" || m == ".MustCopy_(" {
					continue
				}
				if strings.TrimSpace(line) == allowed[filepath.ToSlash(rel)] {
					found++
					continue
				}
				t.Errorf("%s:%d: %s calls gotch's generated in-place %s directly; use torch.AddInPlace (or a wrapper that frees the replaced handle)", rel, i+1, strings.TrimSpace(line), m)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if found != len(allowed) {
		t.Errorf("found %d of the %d allowed wrapper calls: update the list", found, len(allowed))
	}
}
