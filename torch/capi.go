package torch

// #cgo CFLAGS: -I${SRCDIR}/../csrc
// #cgo LDFLAGS: -L${SRCDIR}/../.build/lib -lgtltorch -Wl,-rpath,${SRCDIR}/../.build/lib
// #include <stdlib.h>
// #include "gtl_api.h"
import "C"

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unsafe"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"
)

// lastError returns and clears the wrapper's error for the calling thread.
func lastError() error {
	p := C.get_and_reset_last_err()
	if p == nil {
		return nil
	}
	defer C.free(unsafe.Pointer(p))
	return errors.New(C.GoString(p))
}

// SetRequiresGrad switches gradient tracking of t on or off in place.
func SetRequiresGrad(t *ts.Tensor, on bool) error {
	v := C.int(0)
	if on {
		v = 1
	}
	C.gtl_set_requires_grad(t.Ctensor(), v)
	if err := lastError(); err != nil {
		return fmt.Errorf("torch: set requires_grad: %w", err)
	}
	return nil
}

func gradEnabled() bool { return C.gtl_is_grad_enabled() != 0 }

func setGradEnabled(on bool) bool {
	v := C.int(0)
	if on {
		v = 1
	}
	return C.gtl_set_grad_enabled(v) != 0
}

// ManualSeed seeds libtorch's CPU generator and every CUDA generator, as
// torch.manual_seed does. Random weight initialisation and dropout then
// repeat from run to run.
func ManualSeed(seed int64) error {
	C.gtl_manual_seed(C.int64_t(seed))
	if err := lastError(); err != nil {
		return fmt.Errorf("torch: manual seed %d: %w", seed, err)
	}
	return nil
}

// numThreads and setNumThreads act on the calling OS thread: with
// OpenMP (as in Debian's libtorch) the thread count is per-thread state.
func numThreads() int { return int(C.gtl_get_num_threads()) }

func setNumThreads(n int) error {
	C.gtl_set_num_threads(C.int(n))
	if err := lastError(); err != nil {
		return fmt.Errorf("torch: set threads %d: %w", n, err)
	}
	return nil
}

// NumInteropThreads returns the size of libtorch's inter-op thread pool.
func NumInteropThreads() int { return int(C.gtl_get_num_interop_threads()) }

// BuildInfo describes the wrapper library gtl runs on.
type BuildInfo struct {
	LibtorchVersion string // version of the libtorch headers it was compiled with
	LibtorchDir     string // folder of the libtorch libraries it was linked against
	GotchVersion    string
	DisabledOps     int  // generated ops that this libtorch could not compile
	CUDA            bool // built against a CUDA libtorch
}

// Build returns the facts fixed when scripts/setup.sh built the library.
func Build() BuildInfo {
	return BuildInfo{
		LibtorchVersion: C.GoString(C.gtl_libtorch_version()),
		LibtorchDir:     C.GoString(C.gtl_libtorch_dir()),
		GotchVersion:    C.GoString(C.gtl_gotch_version()),
		DisabledOps:     int(C.gtl_disabled_ops()),
		CUDA:            C.gtl_built_with_cuda() != 0,
	}
}

// Device is one CUDA device.
type Device struct {
	Index       int
	Name        string // as the driver reports it; empty when it cannot tell
	MemoryBytes int64  // total memory; -1 when unknown
}

// CUDADevices lists the CUDA devices libtorch can use; none on a CPU build.
func CUDADevices() []Device {
	n := int(C.gtl_cuda_device_count())
	_ = lastError()
	devs := make([]Device, 0, n)
	for i := 0; i < n; i++ {
		buf := make([]byte, 256)
		var mem C.int64_t
		d := Device{Index: i, MemoryBytes: -1}
		if C.gtl_cuda_device_info(C.int(i), (*C.char)(unsafe.Pointer(&buf[0])), C.int(len(buf)), &mem) == 0 {
			d.Name = C.GoString((*C.char)(unsafe.Pointer(&buf[0])))
			d.MemoryBytes = int64(mem)
		}
		devs = append(devs, d)
	}
	return devs
}

// CuDNN reports whether cuDNN is usable and its version (e.g. 90100), or -1.
func CuDNN() (available bool, version int) {
	ok := C.gtl_cudnn_is_available() != 0
	_ = lastError()
	return ok, int(C.gtl_cudnn_version())
}

// ParseDevice reads a device flag: "cpu", "cuda" or "cuda:N", or "auto"
// (the first CUDA device when there is one, else the CPU). A CUDA device
// that is not there is an error naming what is missing.
func ParseDevice(s string) (gotch.Device, error) {
	devs := CUDADevices()
	switch {
	case s == "cpu":
		return gotch.CPU, nil
	case s == "auto":
		if len(devs) > 0 {
			return gotch.CudaBuilder(0), nil
		}
		return gotch.CPU, nil
	case s == "cuda" || strings.HasPrefix(s, "cuda:"):
		i := 0
		if n, ok := strings.CutPrefix(s, "cuda:"); ok {
			v, err := strconv.Atoi(n)
			if err != nil || v < 0 {
				return gotch.CPU, fmt.Errorf("torch: device %q: want cuda:N", s)
			}
			i = v
		}
		if !Build().CUDA {
			return gotch.CPU, fmt.Errorf("torch: device %s: the wrapper was built against a CPU-only libtorch (%s)", s, Build().LibtorchDir)
		}
		if i >= len(devs) {
			return gotch.CPU, fmt.Errorf("torch: device %s: %d CUDA devices found", s, len(devs))
		}
		return gotch.CudaBuilder(uint(i)), nil
	}
	return gotch.CPU, fmt.Errorf("torch: device %q: want auto, cpu, cuda or cuda:N", s)
}

// DeviceName returns "cpu" or "cuda:N".
func DeviceName(d gotch.Device) string {
	if d.IsCuda() {
		return fmt.Sprintf("cuda:%d", d.Value)
	}
	return "cpu"
}
