//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package outdir

import (
	"errors"
	"os"
)

var errBusy = errors.New("lock is held")

// flock does nothing where Go's syscall package has no flock: outputs are not locked
// against other processes there.
func flock(*os.File) error { return nil }

func samePath(*os.File, string) bool { return true }
