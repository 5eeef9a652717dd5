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

// program turns finetune's ExampleRun (finetune/example_test.go: two
// one-epoch runs of resnet18 at 32 px on a generated image folder, the
// second fine-tuning the first's checkpoint) into the external module's
// main.go, so that the program keeps up with finetune's API as the example
// does; want is the example's "// Output:".
func program(t *testing.T, gtlRoot string) (src, want string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(gtlRoot, "finetune", "example_test.go"))
	if err != nil {
		t.Fatal(err)
	}
	src = string(b)
	if !strings.HasPrefix(src, "package finetune_test\n") || !strings.Contains(src, "\nfunc ExampleRun() {\n") {
		t.Fatalf("finetune/example_test.go: want package finetune_test with ExampleRun")
	}
	src = "package main\n" + strings.TrimPrefix(src, "package finetune_test\n") + "\nfunc main() { ExampleRun() }\n"
	body := src[strings.Index(src, "\nfunc ExampleRun() {\n"):]
	body = body[:strings.Index(body, "\n}\n")]
	i := strings.Index(body, "// Output:\n")
	if i < 0 {
		t.Fatalf("finetune/example_test.go: ExampleRun has no // Output:")
	}
	for _, l := range strings.Split(body[i+len("// Output:\n"):], "\n") {
		want += strings.TrimPrefix(strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(l), "//")), " ") + "\n"
	}
	if strings.TrimSpace(want) == "" {
		t.Fatalf("finetune/example_test.go: ExampleRun's // Output: is empty")
	}
	return src, want
}

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
	src, want := program(t, gtlRoot)
	if err := os.WriteFile(filepath.Join(app, "main.go"), []byte(src), 0o644); err != nil {
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
	cmd := exec.Command(filepath.Join(app, "myapp"))
	cmd.Dir = os.TempDir() // runs from anywhere: libgtltorch.so through the rpath
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("myapp: %v\n%s", err, out)
	}
	if string(out) != want {
		t.Errorf("myapp printed:\n%s\nwant (ExampleRun's output):\n%s", out, want)
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
