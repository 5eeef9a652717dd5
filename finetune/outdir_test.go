package finetune

import (
	"bufio"
	"bytes"
	"context"
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

// earlierRun writes the files of a run of resnet18 on data/a that
// committed 2 of 3 epochs, and a file of the user's.
func earlierRun(t *testing.T, dir string) {
	t.Helper()
	files := map[string]string{
		"config.json":                    `{"model": "resnet18", "data": "data/a", "epochs": 3}`,
		"trainer-state.json":             `{"epoch": 2, "epochs": 3, "seed": 1, "weights": "state-0002-weights.safetensors", "optimizer": "state-0002-optimizer.pt"}`,
		"metrics.jsonl":                  `{"epoch":1}` + "\n",
		"metrics.csv":                    "epoch\n1\n",
		"best.safetensors":               "best",
		"best.json":                      "{}",
		"last.safetensors":               "last",
		"last.json":                      "{}",
		"state-0002-weights.safetensors": "w",
		"state-0002-optimizer.pt":        "o",
		".metrics.csv.tmp123":            "torn",
		"notes.txt":                      "mine",
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func listDir(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

// TestLockOut: a folder without a run (missing, empty, or with files of
// the user's only) is taken; one with an earlier run is refused with one
// line that says what is there and the choices, taken with Resume (files
// untouched) and with Overwrite (the run's files removed, the user's
// kept).
func TestLockOut(t *testing.T) {
	runFilesWant := "config.json, metrics.jsonl, metrics.csv, last.safetensors, last.json, best.safetensors, best.json, trainer-state.json, " +
		"state-0002-optimizer.pt, state-0002-weights.safetensors, .metrics.csv.tmp123"
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, dir string)
		opt   OutOptions
		field string // "" no error
		msg   string
		left  []string // the folder's files afterwards (nil: not checked)
	}{
		{name: "missing", setup: func(*testing.T, string) {}, left: []string{}},
		{name: "user's files only", setup: func(t *testing.T, dir string) {
			_ = os.MkdirAll(dir, 0o755)
			_ = os.WriteFile(filepath.Join(dir, "notes.txt"), nil, 0o644)
		},
			left: []string{"notes.txt"}},
		{name: "earlier run", setup: earlierRun, field: "Out",
			msg: "finetune: Out DIR holds an earlier run (resnet18 on data/a, 2 of 3 epochs done): Resume continues it, Overwrite replaces it (removes " +
				runFilesWant + "), or choose another Out", left: []string{".metrics.csv.tmp123", "best.json", "best.safetensors", "config.json", "last.json", "last.safetensors",
				"metrics.csv", "metrics.jsonl", "notes.txt", "state-0002-optimizer.pt", "state-0002-weights.safetensors", "trainer-state.json"}},
		{name: "finished run without state", setup: func(t *testing.T, dir string) {
			earlierRun(t, dir)
			_ = os.Remove(filepath.Join(dir, "trainer-state.json"))
		}, field: "Out", msg: "(resnet18 on data/a, not resumable: no trainer-state.json): Overwrite replaces it (removes config.json,"},
		{name: "resume", setup: earlierRun, opt: OutOptions{Resume: true}, left: []string{".metrics.csv.tmp123", "best.json", "best.safetensors", "config.json", "last.json", "last.safetensors",
			"metrics.csv", "metrics.jsonl", "notes.txt", "state-0002-optimizer.pt", "state-0002-weights.safetensors", "trainer-state.json"}},
		{name: "overwrite", setup: earlierRun, opt: OutOptions{Overwrite: true}, left: []string{"notes.txt"}},
		{name: "resume and overwrite", setup: earlierRun, opt: OutOptions{Resume: true, Overwrite: true}, field: "Overwrite",
			msg: "finetune: Resume continues the run in Out and Overwrite replaces it: choose one"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "run")
			tc.setup(t, dir)
			release, err := LockOut(dir, tc.opt)
			if tc.field == "" {
				if err != nil {
					t.Fatal(err)
				}
				if !outdir.Held(dir) {
					t.Error("lock not held")
				}
				release()
				if outdir.Held(dir) {
					t.Error("lock held after release")
				}
			} else {
				var fe *FieldError
				if !errors.As(err, &fe) || fe.Field != tc.field || !strings.Contains(err.Error(), strings.ReplaceAll(tc.msg, "DIR", dir)) || strings.Contains(err.Error(), "\n") {
					t.Fatalf("error %v, want one line on %s with %q", err, tc.field, strings.ReplaceAll(tc.msg, "DIR", dir))
				}
				if outdir.Held(dir) {
					t.Error("lock held after a refusal")
				}
			}
			if tc.left != nil {
				got := []string{}
				if _, err := os.Stat(dir); err == nil {
					got = listDir(t, dir)
				}
				if !slices.Equal(got, tc.left) {
					t.Errorf("folder holds %q, want %q", got, tc.left)
				}
			}
		})
	}
}

// lockOutChildEnv names the folder a child process of
// TestLockOutTwoProcesses claims with LockOut.
const lockOutChildEnv = "GTL_TEST_LOCKOUT_CHILD"

func TestLockOutChild(t *testing.T) {
	dir := os.Getenv(lockOutChildEnv)
	if dir == "" {
		t.Skip("child process of TestLockOutTwoProcesses")
	}
	release, err := LockOut(dir, OutOptions{})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(3)
	}
	fmt.Println("locked")
	_, _ = io.Copy(io.Discard, os.Stdin)
	release()
	os.Exit(0)
}

// TestLockOutTwoProcesses: while a process holds a run folder, another is
// refused with one line naming the holder's PID; a run started into the
// folder (Run) is refused before it writes anything.
func TestLockOutTwoProcesses(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	cmd := exec.Command(os.Args[0], "-test.run=^TestLockOutChild$")
	cmd.Env = append(os.Environ(), lockOutChildEnv+"="+dir)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { stdin.Close(); _ = cmd.Wait() }()
	if line, _ := bufio.NewReader(stdout).ReadString('\n'); line != "locked\n" {
		t.Fatalf("child: %q", line)
	}
	_, err := LockOut(dir, OutOptions{})
	want := fmt.Sprintf("finetune: Out %s is in use by gtl train (PID %d, since ", dir, cmd.Process.Pid)
	var fe *FieldError
	var iu *outdir.InUseError
	if !errors.As(err, &fe) || fe.Field != "Out" || !errors.As(err, &iu) || !strings.HasPrefix(err.Error(), want) ||
		!strings.HasSuffix(err.Error(), "): wait for it to end, or choose another Out") {
		t.Fatalf("second process: %v, want %q…", err, want)
	}
	// A whole run: refused at its output, nothing written.
	images := filepath.Join(t.TempDir(), "images")
	writeGrayFolder(t, images, map[string]uint8{"bright": 200, "dark": 40}, 4)
	spec := crashSpec(images, dir, 0)
	spec.Train.Epochs = 1
	if _, err := Run(context.Background(), spec, RunEnv{}); err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("Run into a held folder: %v, want %q…", err, want)
	}
	if got := listDir(t, dir); !slices.Equal(got, []string{outdir.LockName}) {
		t.Errorf("folder holds %q, want only the holder's lock file", got)
	}
}

// TestRunKeepsEarlierRun: a second run into the folder of a finished one
// (other data) is refused, and leaves the earlier run's files as they
// were; with Overwrite it replaces them, and Resume with Overwrite is
// refused.
func TestRunKeepsEarlierRun(t *testing.T) {
	root := t.TempDir()
	a, b, out := filepath.Join(root, "a"), filepath.Join(root, "b"), filepath.Join(root, "run")
	writeGrayFolder(t, a, map[string]uint8{"bright": 200, "dark": 40}, 4)
	writeGrayFolder(t, b, map[string]uint8{"light": 180, "mid": 100, "dim": 30}, 4)
	spec := crashSpec(a, out, 0)
	spec.Train.Epochs = 1
	if _, err := Run(context.Background(), spec, RunEnv{}); err != nil {
		t.Fatal(err)
	}
	before := map[string][]byte{}
	for _, n := range listDir(t, out) {
		before[n], _ = os.ReadFile(filepath.Join(out, n))
	}
	spec.Data.Source = b
	_, err := Run(context.Background(), spec, RunEnv{})
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != "Out" || !strings.Contains(err.Error(), "holds an earlier run (resnet18 on "+a+", 1 of 1 epochs done): Resume continues it, Overwrite replaces it (removes config.json,") {
		t.Fatalf("second run: %v", err)
	}
	for _, n := range listDir(t, out) {
		got, _ := os.ReadFile(filepath.Join(out, n))
		if !bytes.Equal(got, before[n]) {
			t.Errorf("%s changed", n)
		}
	}
	if len(listDir(t, out)) != len(before) {
		t.Errorf("files %q, were %d", listDir(t, out), len(before))
	}

	// Overwrite replaces the run: its files are the new run's, a file of
	// the user's stays.
	if err := os.WriteFile(filepath.Join(out, "notes.txt"), []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	spec.Overwrite = true
	res, err := Run(context.Background(), spec, RunEnv{})
	if err != nil {
		t.Fatalf("overwrite: %v", err)
	}
	if strings.Join(res.Config.Classes, ",") != "dim,light,mid" {
		t.Errorf("overwrite: classes %v", res.Config.Classes)
	}
	cfg, _ := os.ReadFile(filepath.Join(out, "config.json"))
	if !strings.Contains(string(cfg), `"dim"`) || strings.Contains(string(cfg), `"bright"`) {
		t.Errorf("config.json after the overwrite:\n%s", cfg)
	}
	if b, err := os.ReadFile(filepath.Join(out, "notes.txt")); err != nil || string(b) != "mine" {
		t.Errorf("notes.txt after the overwrite: %q, %v", b, err)
	}
	spec.Resume = true
	if _, err := Run(context.Background(), spec, RunEnv{}); !errors.As(err, &fe) || fe.Field != "Overwrite" {
		t.Errorf("resume and overwrite: %v, want a FieldError on Overwrite", err)
	}
}
