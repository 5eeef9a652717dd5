// Package fuzzcount counts a fuzz target's executions for `make fuzz`.
// Go's fuzzing engine reports executions only when a worker returns, which
// for slow targets can be never within -fuzztime; with GTL_FUZZ_COUNT_DIR
// set, Hit records the count in a file named after the target (per worker
// process), every 256 executions. Unset, it does nothing.
package fuzzcount

import (
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
)

var n atomic.Int64

// Hit counts one execution of target.
func Hit(target string) {
	dir := os.Getenv("GTL_FUZZ_COUNT_DIR")
	if dir == "" {
		return
	}
	if v := n.Add(1); v%256 == 0 {
		p := filepath.Join(dir, fmt.Sprintf("%s.%d", target, os.Getpid()))
		_ = os.WriteFile(p, []byte(fmt.Sprint(v)), 0o644)
	}
}
