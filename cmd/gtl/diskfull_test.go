package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/gtl-dev/gtl/finetune"
	"github.com/gtl-dev/gtl/weights"
)

// mountTmpfs mounts a tmpfs of size bytes on dir (unmounted at the end of
// the test), or skips the test where mounting is not permitted.
func mountTmpfs(t *testing.T, dir string, size int64) {
	t.Helper()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+strconv.FormatInt(size, 10), "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs here (needs root or CAP_SYS_ADMIN): %v %s", err, bytes.TrimSpace(out))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v %s", dir, err, out)
		}
	})
}

// TestTrainDiskFull runs gtl train with --out on a small tmpfs that holds
// the first epoch's checkpoints and state but not the second's, so that a
// checkpoint write fails with ENOSPC: the command must stop with one line
// naming the file (no panic), leave no temporary file, and keep what it
// committed before — epoch 1's trainer state, checkpoints and metrics,
// loadable — so that --resume, once there is room, ends with the weights of
// an uninterrupted run.
func TestTrainDiskFull(t *testing.T) {
	dir := t.TempDir()
	args := func(out string, extra ...string) []string {
		return append([]string{"--threads", "1", "train", "--data", "fashion-mnist", "-q", "--model", "squeezenet1_1", "--classes", "0-2", "--shots", "8", "--val", "30",
			"--image-size", "32", "--epochs", "3", "--save-every", "1", "--out", out}, extra...)
	}
	ref := filepath.Join(dir, "ref")
	if _, errOut, code := gtl(args(ref)...); code != 0 {
		t.Fatalf("uninterrupted run: %s", errOut)
	}
	size := func(name string) int64 {
		st, err := os.Stat(filepath.Join(ref, name))
		if err != nil {
			t.Fatal(err)
		}
		return st.Size()
	}
	// After epoch 1 the folder holds last (W; best and the state's weights
	// are links to it), the optimiser's state (O) and small files; epoch
	// 2's last checkpoint needs another W.
	w, o := size("last.safetensors"), size("state-0003-optimizer.pt")
	out := filepath.Join(dir, "full")
	if err := os.Mkdir(out, 0o755); err != nil {
		t.Fatal(err)
	}
	mountTmpfs(t, out, w+o+w/2+64<<10)
	stdout, errOut, code := gtl(args(out)...)
	var lines []string // but for warnings (the chance warning of a short run)
	for _, l := range strings.Split(strings.TrimSpace(errOut), "\n") {
		if !strings.HasPrefix(l, "gtl: warning:") {
			lines = append(lines, l)
		}
	}
	if code == 0 || len(lines) != 1 || !strings.Contains(errOut, "no space left on device") ||
		!strings.Contains(errOut, filepath.Join(out, "last.safetensors")) || strings.Contains(errOut, "goroutine") {
		t.Fatalf("on a full disk: exit %d, stderr %q (stdout %q); want one line naming %s and ENOSPC", code, errOut, stdout, filepath.Join(out, "last.safetensors"))
	}
	t.Logf("stderr on the full disk: %s", strings.TrimSpace(errOut))
	ents, _ := os.ReadDir(out)
	for _, e := range ents {
		if strings.Contains(e.Name(), ".tmp") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
	// Epoch 1 is committed and whole.
	if done, err := finetune.CommittedEpoch(out); err != nil || done != 1 {
		t.Fatalf("committed epoch %d (%v), want 1", done, err)
	}
	for _, f := range []string{"last.safetensors", "best.safetensors", "state-0001-weights.safetensors"} {
		if tensors, _, err := weights.ReadSafetensors(filepath.Join(out, f)); err != nil || len(tensors) == 0 {
			t.Errorf("%s after the failed write: %d tensors, %v", f, len(tensors), err)
		}
	}
	m, err := os.ReadFile(filepath.Join(out, "metrics.jsonl"))
	var first struct {
		Epoch int `json:"epoch"`
	}
	if err != nil || json.Unmarshal(bytes.SplitN(m, []byte("\n"), 2)[0], &first) != nil || first.Epoch != 1 {
		t.Errorf("metrics.jsonl after the failed write: %v %q", err, m)
	}
	// With room again, --resume continues from epoch 1 to the uninterrupted
	// run's weights.
	if b, err := exec.Command("mount", "-o", "remount,size=64m", out).CombinedOutput(); err != nil {
		t.Fatalf("remount: %v %s", err, b)
	}
	if _, errOut, code := gtl(args(out, "--resume")...); code != 0 {
		t.Fatalf("--resume: %d %s", code, errOut)
	}
	a, _ := os.ReadFile(filepath.Join(ref, "last.safetensors"))
	b, _ := os.ReadFile(filepath.Join(out, "last.safetensors"))
	if len(a) == 0 || !bytes.Equal(a, b) {
		t.Error("weights after the disk-full stop and --resume differ from the uninterrupted run's")
	}
}
