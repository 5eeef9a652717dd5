package external

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"
)

// program is the external module's main.go: a one-epoch fine-tune of
// squeezenet1_1 at 32 px on a generated two-class folder.
const program = `package main

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"

	"github.com/gtl-dev/gtl/finetune"
)

func main() {
	dir := os.Args[1]
	for c, base := range map[string]uint8{"bright": 200, "dark": 40} {
		os.MkdirAll(filepath.Join(dir, c), 0o755)
		for i := range 6 {
			m := image.NewRGBA(image.Rect(0, 0, 40, 30))
			for y := range 30 {
				for x := range 40 {
					v := base + uint8((i*7+x*13+y*5)%40)
					m.Set(x, y, color.RGBA{v, v, v, 255})
				}
			}
			f, _ := os.Create(filepath.Join(dir, c, fmt.Sprintf("%02d.png", i)))
			png.Encode(f, m)
			f.Close()
		}
	}
	res, err := finetune.Run(context.Background(), finetune.RunSpec{
		Data:  finetune.DataSpec{Source: dir, ImageSize: 32},
		Model: finetune.ModelSpec{Arch: "squeezenet1_1"},
		Train: finetune.TrainSpec{Epochs: 1, Batch: 4},
		Seed:  1,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	c := res.Config
	fmt.Printf("%s: %d classes, %d training images at %d px, top-1 %.3f\n", c.Model, len(c.Classes), c.TrainImages, c.ImageSize, res.Report.Top1)
}
`

// TestExternalModule follows the README's "Use gtl from Go" steps in a
// fresh module outside the tree: go mod init, go mod edit (require gtl,
// replace it with this tree and gotch with its prepared copy), go mod
// tidy, go build, and runs the program.
func TestExternalModule(t *testing.T) {
	_, file, _, _ := runtime.Caller(0)
	gtlRoot, err := filepath.Abs(filepath.Join(filepath.Dir(file), "..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(gtlRoot, ".build", "gotch", "go.mod")); err != nil {
		t.Fatalf("%s/.build/gotch: %v (run make setup)", gtlRoot, err)
	}
	if env := os.Getenv("GOFLAGS"); strings.Contains(env, "-mod=vendor") {
		t.Skip("GOFLAGS has -mod=vendor")
	}
	proxyReachable(t)
	app := t.TempDir()
	if strings.HasPrefix(app, gtlRoot+string(filepath.Separator)) {
		t.Fatalf("temporary folder %s is inside the tree", app)
	}
	if err := os.WriteFile(filepath.Join(app, "main.go"), []byte(program), 0o644); err != nil {
		t.Fatal(err)
	}
	// The README's steps, in order, with GTL the tree under test.
	steps := [][]string{
		{"go", "mod", "init", "example.com/myapp"},
		{"go", "mod", "edit", "-require=github.com/gtl-dev/gtl@v0.0.0", "-replace=github.com/gtl-dev/gtl=" + gtlRoot,
			"-replace=github.com/sugarme/gotch=" + filepath.Join(gtlRoot, ".build", "gotch")},
		{"go", "mod", "tidy"},
		{"go", "build", "-o", "myapp", "."},
	}
	env := append(os.Environ(), "GOWORK=", "GOFLAGS=-buildvcs=false") // no workspace, as in a user's module
	for _, s := range steps {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
		cmd := exec.CommandContext(ctx, s[0], s[1:]...)
		cmd.Dir, cmd.Env = app, env
		out, err := cmd.CombinedOutput()
		cancel()
		if err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(s, " "), err, out)
		}
	}
	mod, _ := os.ReadFile(filepath.Join(app, "go.mod"))
	if !regexp.MustCompile(`(?m)^\s*github\.com/sugarme/gotch v0\.9\.1`).Match(mod) {
		t.Errorf("the external module does not require the published gotch v0.9.1:\n%s", mod)
	}
	cmd := exec.Command(filepath.Join(app, "myapp"), filepath.Join(app, "images"))
	cmd.Dir = os.TempDir() // runs from anywhere: libgtltorch.so through the rpath
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("myapp: %v\n%s", err, out)
	}
	if !regexp.MustCompile(`(?m)^squeezenet1_1: 2 classes, \d+ training images at 32 px, top-1 [01]\.\d{3}$`).Match(out) {
		t.Errorf("myapp printed:\n%s", out)
	}
}

// proxyReachable skips the test when the Go module proxy cannot be reached
// (go mod tidy would need it for modules not yet in the cache).
func proxyReachable(t *testing.T) {
	proxy := "https://proxy.golang.org"
	if out, err := exec.Command("go", "env", "GOPROXY").Output(); err == nil {
		first := strings.Split(strings.TrimSpace(string(out)), ",")[0]
		if first == "off" || first == "direct" {
			return // the module cache, or the sources themselves: let go mod tidy say
		}
		proxy = first
	}
	c := http.Client{Timeout: 15 * time.Second}
	resp, err := c.Get(strings.TrimSuffix(proxy, "/") + "/github.com/sugarme/gotch/@v/v0.9.1.info")
	if err != nil {
		t.Skipf("the Go module proxy %s is unreachable (%v): TestExternalModule needs it", proxy, err)
	}
	resp.Body.Close()
}
