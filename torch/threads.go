package torch

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
)

// threads is the intra-op thread count every worker applies on its own
// thread when it starts; 0 leaves libtorch's default.
var threads atomic.Int64

// SetNumThreads sets the number of threads libtorch uses inside one op, for
// the process-wide worker and every worker created afterwards. libtorch
// keeps this count per OS thread (OpenMP), so setting it anywhere else has no
// effect on torch work; use [Worker.SetNumThreads] for a worker that already
// exists. n must be at least 1.
func SetNumThreads(n int) error {
	if n < 1 {
		return fmt.Errorf("torch: set threads: %d, want at least 1", n)
	}
	threads.Store(int64(n))
	return Default().SetNumThreads(n)
}

// NumThreads returns the intra-op thread count of the process-wide worker.
func NumThreads() int { return Default().NumThreads() }

// SetNumThreads sets the intra-op thread count for this worker's torch work.
func (w *Worker) SetNumThreads(n int) error {
	if n < 1 {
		return fmt.Errorf("torch: set threads: %d, want at least 1", n)
	}
	return w.Do(func() error { return setNumThreads(n) })
}

// NumThreads returns the intra-op thread count this worker's ops use.
func (w *Worker) NumThreads() int {
	var n int
	_ = w.Do(func() error { n = numThreads(); return nil })
	return n
}

// DefaultThreads is the intra-op thread count gtl uses when none is given:
// one per physical core this process may run on, as PyTorch chooses. (The
// libtorch that Debian ships starts with 1 thread when used from C++.)
func DefaultThreads() int {
	n := runtime.NumCPU() // CPUs in this process's affinity mask
	cores := map[string]bool{}
	cpus, _ := filepath.Glob("/sys/devices/system/cpu/cpu[0-9]*/topology")
	for _, dir := range cpus {
		pkg, err1 := os.ReadFile(filepath.Join(dir, "physical_package_id"))
		core, err2 := os.ReadFile(filepath.Join(dir, "core_id"))
		if err1 != nil || err2 != nil {
			return n
		}
		cores[strings.TrimSpace(string(pkg))+"/"+strings.TrimSpace(string(core))] = true
	}
	if len(cores) > 0 && len(cores) < n {
		return len(cores)
	}
	return n
}

// NumThreadsHere returns the intra-op thread count of the calling OS thread;
// inside Do, that of the worker running the function.
func NumThreadsHere() int { return numThreads() }
