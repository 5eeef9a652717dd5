// Package outdir keeps two gtl processes from writing into one output at
// the same time. A run takes the exclusive lock of its output (a folder, or
// a file such as gtl embed's .npy) for as long as it writes there; a second
// process that asks for it is refused at once with an [InUseError] naming
// the holder's PID.
//
// The lock is an flock(2) on a small file beside the output (".gtl-lock" in
// a folder, ".NAME.gtl-lock" beside a file): the kernel drops it when the
// holder exits, however it exits (a crash or SIGKILL included), so a lock is
// never left stale. The file holds the holder's PID, command and start time,
// for the refusal; it is removed on release and overwritten by the next
// holder after a crash. On Linux, flock on NFS is carried out with NFS
// locks, so the lock also holds across machines that share the folder.
//
// The lock belongs to the process: a process that asks again for an output
// it already holds shares its hold (each release undoes one Lock), as
// POSIX record locks do. Only other processes are refused.
package outdir

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// LockName is the lock file's name inside a locked folder.
const LockName = ".gtl-lock"

// Holder is the process that holds a lock, as its lock file says.
type Holder struct {
	PID     int       `json:"pid"`
	Command string    `json:"command"` // what it runs, e.g. "gtl train"
	Since   time.Time `json:"since"`
}

func (h Holder) String() string {
	if h.PID == 0 {
		return "another process"
	}
	cmd := h.Command
	if cmd == "" {
		cmd = "a process"
	}
	s := fmt.Sprintf("%s (PID %d", cmd, h.PID)
	if !h.Since.IsZero() {
		s += ", since " + h.Since.UTC().Format("2006-01-02 15:04:05 UTC")
	}
	return s + ")"
}

// InUseError says that another process holds the lock of an output.
type InUseError struct {
	Path   string // the folder or file asked for
	Holder Holder // PID 0 when the lock file could not be read
}

func (e *InUseError) Error() string {
	return fmt.Sprintf("%s is in use by %s", e.Path, e.Holder)
}

// Dir takes the lock of the output folder dir (created when missing) for a
// run of command (e.g. "gtl train"). It returns the function that releases
// it, or an *InUseError when another process holds it.
func Dir(dir, command string) (release func(), err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	return lock(dir, filepath.Join(dir, LockName), command)
}

// File takes the lock of the output file path (its folder is created when
// missing) for a run of command, as Dir does for a folder. The file itself
// need not exist; the lock is a file beside it.
func File(path, command string) (release func(), err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	return lock(path, filepath.Join(dir, "."+filepath.Base(path)+".gtl-lock"), command)
}

// held are the locks of this process, by lock file (absolute path).
var (
	mu   sync.Mutex
	held = map[string]*hold{}
)

type hold struct {
	f *os.File
	n int
}

func lock(target, lockPath, command string) (func(), error) {
	key, err := filepath.Abs(lockPath)
	if err != nil {
		return nil, err
	}
	mu.Lock()
	defer mu.Unlock()
	if h := held[key]; h != nil {
		h.n++
		return releaser(key), nil
	}
	for tries := 0; ; tries++ {
		f, err := os.OpenFile(key, os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			return nil, fmt.Errorf("lock %s: %w", target, err)
		}
		if err := flock(f); err != nil {
			f.Close()
			if errors.Is(err, errBusy) {
				return nil, &InUseError{Path: target, Holder: readHolder(key)}
			}
			return nil, fmt.Errorf("lock %s: %w", target, err)
		}
		// The file may have been removed by a holder releasing it between
		// our open and our flock: then this lock guards nothing; try again.
		if !samePath(f, key) {
			f.Close()
			if tries < 100 {
				continue
			}
			return nil, fmt.Errorf("lock %s: %s keeps changing", target, key)
		}
		b, _ := json.Marshal(Holder{PID: os.Getpid(), Command: command, Since: time.Now().UTC().Truncate(time.Second)})
		if err := f.Truncate(0); err == nil {
			_, _ = f.WriteAt(append(b, '\n'), 0)
		}
		held[key] = &hold{f: f, n: 1}
		return releaser(key), nil
	}
}

// releaser returns a release function that undoes one Lock of key; calls
// after the first do nothing.
func releaser(key string) func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			mu.Lock()
			defer mu.Unlock()
			h := held[key]
			if h == nil {
				return
			}
			if h.n--; h.n > 0 {
				return
			}
			delete(held, key)
			// Removed while still locked, so that no process locks the
			// file after we release it and before it is gone.
			_ = os.Remove(key)
			h.f.Close()
		})
	}
}

// readHolder reads the holder of a busy lock. A holder that has just
// taken the lock may not have written itself yet: wait a little for it.
func readHolder(path string) Holder {
	var h Holder
	for i := 0; i < 20; i++ {
		b, err := os.ReadFile(path)
		if err == nil && json.Unmarshal(b, &h) == nil && h.PID != 0 {
			return h
		}
		time.Sleep(5 * time.Millisecond)
	}
	return Holder{}
}

// Held reports whether this process holds the lock of the folder dir.
func Held(dir string) bool {
	key, err := filepath.Abs(filepath.Join(dir, LockName))
	if err != nil {
		return false
	}
	mu.Lock()
	defer mu.Unlock()
	return held[key] != nil
}
