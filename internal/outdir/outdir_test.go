package outdir

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// childEnv, set in a child process of the tests, says what the child
// locks ("dir:PATH" or "file:PATH"); the child then prints "locked PID"
// and holds the lock until its stdin closes.
const childEnv = "GTL_TEST_OUTDIR_CHILD"

func TestLockChild(t *testing.T) {
	v := os.Getenv(childEnv)
	if v == "" {
		t.Skip("child process of the outdir tests")
	}
	kind, path, _ := strings.Cut(v, ":")
	take := Dir
	if kind == "file" {
		take = File
	}
	release, err := take(path, "gtl child")
	if err != nil {
		fmt.Println("error", err)
		os.Exit(3)
	}
	fmt.Println("locked", os.Getpid())
	_, _ = io.Copy(io.Discard, os.Stdin)
	release()
	os.Exit(0)
}

// child is a process holding a lock.
type child struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
}

// startChild starts a process that takes the lock ("dir" or "file") of
// path and waits until it holds it.
func startChild(t *testing.T, kind, path string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestLockChild$")
	cmd.Env = append(os.Environ(), childEnv+"="+kind+":"+path)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd, stdin: stdin}
	t.Cleanup(func() { c.stdin.Close(); _ = c.cmd.Process.Kill(); _ = c.cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if want := fmt.Sprintf("locked %d\n", cmd.Process.Pid); line != want {
		t.Fatalf("child: %q (%v), want %q", line, err, want)
	}
	return c
}

// stop ends the child: "release" closes its stdin (it releases and
// exits), "kill" sends SIGKILL (the kernel drops its lock).
func (c *child) stop(t *testing.T, how string) {
	t.Helper()
	if how == "kill" {
		if err := c.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
	} else {
		c.stdin.Close()
	}
	_ = c.cmd.Wait()
}

// TestLockTwoProcesses: a second process is refused while the first holds
// the lock, with an error naming the holder's PID and command; once the
// holder is gone — released, or killed by SIGKILL — the lock is free.
func TestLockTwoProcesses(t *testing.T) {
	for _, tc := range []struct {
		kind, how string
	}{{"dir", "release"}, {"dir", "kill"}, {"file", "release"}, {"file", "kill"}} {
		t.Run(tc.kind+" "+tc.how, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "run")
			take, lockFile := Dir, filepath.Join(path, LockName)
			if tc.kind == "file" {
				path = filepath.Join(dir, "emb.npy")
				take, lockFile = File, filepath.Join(dir, ".emb.npy.gtl-lock")
			}
			c := startChild(t, tc.kind, path)
			_, err := take(path, "gtl test")
			var inUse *InUseError
			if !errors.As(err, &inUse) {
				t.Fatalf("second process: %v, want an InUseError", err)
			}
			if inUse.Holder.PID != c.cmd.Process.Pid || inUse.Holder.Command != "gtl child" || inUse.Path != path {
				t.Errorf("holder %+v of %s, want PID %d, gtl child, %s", inUse.Holder, inUse.Path, c.cmd.Process.Pid, path)
			}
			re := fmt.Sprintf(`^%s is in use by gtl child \(PID %d, since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\)$`, regexp.QuoteMeta(path), c.cmd.Process.Pid)
			if !regexp.MustCompile(re).MatchString(err.Error()) {
				t.Errorf("message %q, want %s", err, re)
			}
			c.stop(t, tc.how)
			_, statErr := os.Stat(lockFile)
			if tc.how == "release" && !os.IsNotExist(statErr) {
				t.Errorf("after release: lock file %s: %v, want it removed", lockFile, statErr)
			}
			if tc.how == "kill" && statErr != nil {
				t.Errorf("after SIGKILL: lock file %s: %v, want it left (the kernel drops the lock, not the file)", lockFile, statErr)
			}
			release, err := take(path, "gtl test")
			if err != nil {
				t.Fatalf("after the holder is gone: %v", err)
			}
			if h := readHolder(lockFile); h.PID != os.Getpid() || h.Command != "gtl test" {
				t.Errorf("lock file names %+v, want this process", h)
			}
			release()
			release() // a second call does nothing
		})
	}
}

// TestLockOneProcess: this process shares its own hold (each release
// undoes one Lock), and another process gets the lock only once every
// hold is released; two files of one folder are locked apart.
func TestLockOneProcess(t *testing.T) {
	dir := t.TempDir()
	r1, err := Dir(dir, "gtl a")
	if err != nil {
		t.Fatal(err)
	}
	r2, err := Dir(dir, "gtl b")
	if err != nil {
		t.Fatalf("second hold in one process: %v", err)
	}
	r1()
	r1()
	if !Held(dir) {
		t.Fatal("released after one of two holds")
	}
	if err := childTakes(t, "dir", dir); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("in use by gtl a (PID %d,", os.Getpid())) {
		t.Errorf("another process while held: %v", err)
	}
	r2()
	if Held(dir) {
		t.Fatal("held after both releases")
	}
	if err := childTakes(t, "dir", dir); err != nil {
		t.Errorf("another process after the releases: %v", err)
	}

	ra, err := File(filepath.Join(dir, "a.npy"), "gtl embed")
	if err != nil {
		t.Fatal(err)
	}
	defer ra()
	if err := childTakes(t, "file", filepath.Join(dir, "b.npy")); err != nil {
		t.Errorf("another file of the folder: %v", err)
	}
	if err := childTakes(t, "file", filepath.Join(dir, "a.npy")); err == nil {
		t.Errorf("the same file: taken by another process")
	}
}

// childTakes runs a process that takes a lock and releases it at once;
// it returns the child's refusal, if any.
func childTakes(t *testing.T, kind, path string) error {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestLockChild$")
	cmd.Env = append(os.Environ(), childEnv+"="+kind+":"+path)
	cmd.Stdin = strings.NewReader("")
	done := make(chan struct{})
	var out []byte
	var err error
	go func() { out, err = cmd.Output(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("child hangs")
	}
	if err != nil {
		return errors.New(strings.TrimSpace(strings.TrimPrefix(string(out), "error ")))
	}
	return nil
}
