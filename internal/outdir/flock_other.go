//go:build !unix

package outdir

import (
	"errors"
	"os"
)

var errBusy = errors.New("lock is held")

// flock does nothing where flock(2) does not exist: outputs are not locked
// against other processes there.
func flock(*os.File) error { return nil }

func samePath(*os.File, string) bool { return true }
