package strategies

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gtl-dev/gtl/internal/outdir"
)

// TestOpenResultsRefusals: a folder with a comparison is refused with one
// line saying what is there and the choices, naming the files
// --overwrite removes; --overwrite removes them (and only them).
func TestOpenResultsRefusals(t *testing.T) {
	g := testGrid()
	other := g
	other.Classes = []string{"caf\xe9", "d"}
	files := "results.json, results.csv, report.md, report.html, accuracy-vs-labels.png, curves-5.png, curves-all.png"
	for _, tc := range []struct {
		name   string
		grid   Grid
		resume bool
		force  bool
		msg    string // "" taken
		left   []string
	}{
		{name: "same grid", grid: g, msg: "strategies: DIR already holds 1 finished run of this comparison (resnet18 on fashion-mnist): --resume continues it, " +
			"--overwrite replaces it (removes " + files + "), or choose another --out"},
		{name: "same grid resumed", grid: g, resume: true, left: []string{"accuracy-vs-labels.png", "curves-5.png", "curves-all.png", "notes.txt", "report.html", "report.md", "results.csv", "results.json"}},
		{name: "other grid", grid: other, resume: true, msg: "strategies: DIR holds results of a different comparison (model resnet18, data fashion-mnist, classes [a b], 32 px): " +
			"--overwrite replaces it (removes " + files + "), or choose another --out"},
		{name: "other grid overwritten", grid: other, force: true, left: []string{"notes.txt"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			r, err := OpenResults(dir, g, false, false)
			if err != nil {
				t.Fatal(err)
			}
			r.Add(Record{Cell: Cell{"scratch", 5, 1}, Outcome: Outcome{FinalAccuracy: 0.5}})
			if err := r.Save(dir); err != nil {
				t.Fatal(err)
			}
			r.Close()
			for _, n := range []string{"report.md", "report.html", PlotAccuracy, "curves-5.png", "curves-all.png", "notes.txt"} {
				_ = os.WriteFile(filepath.Join(dir, n), nil, 0o644)
			}
			r, err = OpenResults(dir, tc.grid, tc.resume, tc.force)
			if tc.msg != "" {
				if want := strings.ReplaceAll(tc.msg, "DIR", dir); err == nil || err.Error() != want {
					t.Fatalf("error %v\nwant %s", err, want)
				}
				if outdir.Held(dir) {
					t.Error("folder held after a refusal")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			var got []string
			ents, _ := os.ReadDir(dir)
			for _, e := range ents {
				got = append(got, e.Name())
			}
			want := append([]string{outdir.LockName}, tc.left...)
			if !slices.Equal(got, want) {
				t.Errorf("folder holds %q, want %q", got, want)
			}
		})
	}
}

// openResultsChildEnv names the folder a child process of
// TestOpenResultsTwoProcesses claims.
const openResultsChildEnv = "GTL_TEST_OPENRESULTS_CHILD"

func TestOpenResultsChild(t *testing.T) {
	dir := os.Getenv(openResultsChildEnv)
	if dir == "" {
		t.Skip("child process of TestOpenResultsTwoProcesses")
	}
	r, err := OpenResults(dir, testGrid(), false, false)
	if err != nil {
		fmt.Println("error", err)
		os.Exit(3)
	}
	fmt.Println("locked")
	_, _ = io.Copy(io.Discard, os.Stdin)
	r.Close()
	os.Exit(0)
}

// TestOpenResultsTwoProcesses: while one gtl compare (or one shard of a
// grid) writes into a folder, another is refused with one line naming its
// PID; once it has closed the folder, the folder is free.
func TestOpenResultsTwoProcesses(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestOpenResultsChild$")
	cmd.Env = append(os.Environ(), openResultsChildEnv+"="+dir)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { stdin.Close(); _ = cmd.Wait() }()
	if line, _ := bufio.NewReader(stdout).ReadString('\n'); line != "locked\n" {
		t.Fatalf("child: %q", line)
	}
	sh := testGrid()
	_, err := OpenResults(dir, sh, true, false)
	want := fmt.Sprintf("strategies: --out %s is in use by gtl compare (PID %d, since ", dir, cmd.Process.Pid)
	var iu *outdir.InUseError
	if err == nil || !strings.HasPrefix(err.Error(), want) || !errors.As(err, &iu) ||
		!strings.HasSuffix(err.Error(), "): wait for it to end, or choose another --out (the shards of a grid each write into their own folder, and --merge joins them)") {
		t.Fatalf("second process: %v\nwant %s…", err, want)
	}
	stdin.Close()
	_ = cmd.Wait()
	r, err := OpenResults(dir, sh, true, false)
	if err != nil {
		t.Fatalf("after the first closed it: %v", err)
	}
	r.Close()
}

// TestResultsClassNames: a class name that is not valid UTF-8 is written
// escaped to results.json and comes back byte for byte, so that --resume
// finds the same grid.
func TestResultsClassNames(t *testing.T) {
	dir := t.TempDir()
	g := testGrid()
	g.Classes = []string{"caf\xe9", `back\slash`}
	r, err := OpenResults(dir, g, false, false)
	if err != nil {
		t.Fatal(err)
	}
	r.Add(Record{Cell: Cell{"scratch", 5, 1}})
	if err := r.Save(dir); err != nil {
		t.Fatal(err)
	}
	r.Close()
	b, _ := os.ReadFile(filepath.Join(dir, "results.json"))
	if !strings.Contains(string(b), `"classes": [
      "caf\\xe9",
      "back\\\\slash"
    ]`) {
		t.Errorf("results.json:\n%s", b)
	}
	r, err = OpenResults(dir, g, true, false)
	if err != nil || len(r.Runs) != 1 || !slices.Equal(r.Grid.Classes, g.Classes) {
		t.Fatalf("resume: %v, %+v", err, r)
	}
	r.Close()
}
