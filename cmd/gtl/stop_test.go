package main

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// committedState reads the step position of the state committed in dir
// (ok false while there is none).
func committedState(dir string) (epoch, step int, ok bool) {
	b, err := os.ReadFile(filepath.Join(dir, "trainer-state.json"))
	if err != nil {
		return 0, 0, false
	}
	var st struct {
		Epoch int `json:"epoch"`
		Step  int `json:"step"`
	}
	if json.Unmarshal(b, &st) != nil {
		return 0, 0, false
	}
	return st.Epoch, st.Step, true
}

// TestTrainStopMidEpoch signals a real gtl train process inside an epoch,
// once --checkpoint-every has committed a state: SIGTERM stops it at the
// next step with a resumable state there (exit 143, the step named), and
// two SIGTERMs in a row end it at once (killed by the second, or exit 143
// if the stop was done first) with the committed state intact. Each run
// then continues with --resume (without --checkpoint-every, which
// config.json does not record) to the uninterrupted run's checkpoints,
// byte for byte, and metrics.
func TestTrainStopMidEpoch(t *testing.T) {
	dir := t.TempDir()
	args := func(out string, extra ...string) []string {
		return append([]string{"--threads", "1", "train", "--data", "fashion-mnist", "-q", "--model", "shufflenet_v2_x0_5", "--classes", "0-2", "--shots", "40",
			"--val", "30", "--image-size", "32", "--batch", "8", "--epochs", "3", "--optimizer", "adamw", "--schedule", "cosine", "--out", out}, extra...)
	}
	ref := filepath.Join(dir, "ref")
	if _, errOut, code := gtl(args(ref)...); code != 0 {
		t.Fatalf("uninterrupted: %s", errOut)
	}
	for _, tc := range []struct {
		name    string
		signals int
	}{{"SIGTERM", 1}, {"SIGTERM twice", 2}} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-"))
			cmd := gtlProcess(args(out, "--checkpoint-every", "4")...)
			var stdout, stderr lockedBuffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			// 15 steps an epoch: the first state is committed at step 4.
			deadline := time.Now().Add(2 * time.Minute)
			for {
				if _, _, ok := committedState(out); ok {
					break
				}
				if time.Now().After(deadline) {
					cmd.Process.Kill()
					t.Fatalf("no state committed:\n%s\n%s", stdout.String(), stderr.String())
				}
				time.Sleep(5 * time.Millisecond)
			}
			for i := 0; i < tc.signals; i++ {
				if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
					t.Fatal(err)
				}
				if i == 0 && tc.signals > 1 { // the second once the first is taken
					for end := time.Now().Add(10 * time.Second); !strings.Contains(stderr.String(), "SIGTERM: stopping after this step") && time.Now().Before(end); {
						time.Sleep(time.Millisecond)
					}
				}
			}
			err := cmd.Wait()
			ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
			killed := ws.Signaled() && ws.Signal() == syscall.SIGTERM
			switch {
			case tc.signals == 1 && ws.ExitStatus() != 143:
				t.Fatalf("exit %v, want 143\n%s\n%s", err, stdout.String(), stderr.String())
			case tc.signals == 2 && !killed && ws.ExitStatus() != 143:
				t.Fatalf("exit %v, want killed by SIGTERM (or 143)\n%s\n%s", err, stdout.String(), stderr.String())
			}
			if !killed && !regexp.MustCompile(`interrupted: the run stopped after step \d+ of 15 of epoch \d with a resumable state; continue it with the same flags and --resume`).MatchString(stdout.String()) {
				t.Errorf("output:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
			}
			e, s, ok := committedState(out)
			t.Logf("killed by the signal: %v; committed: epoch %d step %d", killed, e, s)
			if !ok || s == 0 && !killed {
				t.Fatalf("committed state: epoch %d step %d (%v), want one inside an epoch", e, s, ok)
			}
			if _, errOut, code := gtl(args(out, "--resume")...); code != 0 {
				t.Fatalf("--resume after epoch %d step %d: %d %s", e, s, code, errOut)
			}
			for _, f := range []string{"last.safetensors", "best.safetensors", "config.json"} {
				want, _ := os.ReadFile(filepath.Join(ref, f))
				got, _ := os.ReadFile(filepath.Join(out, f))
				if len(want) == 0 || !bytes.Equal(got, want) {
					t.Errorf("%s after stopping at epoch %d step %d and resuming differs from the uninterrupted run's", f, e, s)
				}
			}
			if want, got := metricLines(t, ref), metricLines(t, out); want != got {
				t.Errorf("metrics.csv:\n%s\nuninterrupted:\n%s", got, want)
			}
		})
	}
}

// lockedBuffer is a bytes.Buffer that a process writes while the test
// reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// metricLines is metrics.csv without the seconds column.
func metricLines(t *testing.T, dir string) string {
	f, err := os.Open(filepath.Join(dir, "metrics.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b, _ := io.ReadAll(f)
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		cols := strings.Split(line, ",")
		out = append(out, strings.Join(cols[:len(cols)-1], ","))
	}
	return strings.Join(out, "\n")
}
