package torch

// #include <stdlib.h>
// #include "gtl_api.h"
import "C"

import (
	"fmt"

	"github.com/sugarme/gotch"
	lib "github.com/sugarme/gotch/libtch"
	"github.com/sugarme/gotch/ts"
)

// AMP selects the reduced precision type of automatic mixed precision.
type AMP int

const (
	// AMPOff runs everything in float32.
	AMPOff AMP = iota
	// AMPFloat16 autocasts eligible ops to float16 (CUDA only).
	AMPFloat16
	// AMPBFloat16 autocasts eligible ops to bfloat16 (CUDA and CPU).
	AMPBFloat16
)

// String returns the flag spelling: "", "fp16" or "bf16".
func (a AMP) String() string {
	switch a {
	case AMPFloat16:
		return "fp16"
	case AMPBFloat16:
		return "bf16"
	}
	return ""
}

// ParseAMP reads "fp16"/"float16", "bf16"/"bfloat16", or "" / "off" / "none".
func ParseAMP(s string) (AMP, error) {
	switch s {
	case "", "off", "none", "fp32":
		return AMPOff, nil
	case "fp16", "float16", "half":
		return AMPFloat16, nil
	case "bf16", "bfloat16":
		return AMPBFloat16, nil
	}
	return AMPOff, fmt.Errorf("torch: amp %q: want fp16 or bf16", s)
}

func deviceCode(dev gotch.Device) C.int {
	if dev.IsCuda() {
		return 1
	}
	return 0
}

// Autocast runs fn with autocast on for dev's device type in precision a
// (AMPOff runs fn as it is), then restores the previous state; leaving the
// outermost autocast clears its cache of cast weights, as torch.autocast
// does. Autocast state is per OS thread: call it inside Do. CPU autocast
// supports bfloat16 only.
func Autocast(dev gotch.Device, a AMP, fn func() error) error {
	if a == AMPOff {
		return fn()
	}
	if a == AMPFloat16 && !dev.IsCuda() {
		return fmt.Errorf("torch: autocast fp16 on the CPU: not supported, use bf16")
	}
	dtype := C.int(0)
	if a == AMPBFloat16 {
		dtype = 1
	}
	prev := C.gtl_autocast_set(deviceCode(dev), 1, dtype)
	if err := lastError(); err != nil {
		return fmt.Errorf("torch: autocast %s: %w", a, err)
	}
	defer func() {
		if prev == 0 {
			C.gtl_autocast_set(deviceCode(dev), 0, dtype)
			_ = lastError()
		}
	}()
	return fn()
}

// AutocastEnabled reports whether autocast is on for dev's device type on
// the calling thread.
func AutocastEnabled(dev gotch.Device) bool {
	on := C.gtl_autocast_enabled(deviceCode(dev)) != 0
	_ = lastError()
	return on
}

// ChannelsLast returns t in channels-last (NHWC) memory format; the caller
// owns the result. t must be 4-D.
func ChannelsLast(t *ts.Tensor) (*ts.Tensor, error) {
	dims, err := t.Size()
	if err != nil {
		return nil, fmt.Errorf("torch: channels-last: %w", err)
	}
	if len(dims) != 4 {
		return nil, fmt.Errorf("torch: channels-last: tensor of shape %v, want 4 dimensions", dims)
	}
	p := C.gtl_channels_last(t.Ctensor())
	if err := lastError(); err != nil {
		return nil, fmt.Errorf("torch: channels-last: %w", err)
	}
	return ts.New(lib.Ctensor(p)), nil
}

// SetChannelsLast converts every 4-D tensor in ts (model parameters) to
// channels-last in place of its data, keeping the tensor's identity (so an
// optimiser built later or earlier still updates it). Other tensors are left
// alone.
func SetChannelsLast(tensors ...*ts.Tensor) error {
	for i, t := range tensors {
		if t.Dim() != 4 {
			continue
		}
		C.gtl_set_channels_last(t.Ctensor())
		if err := lastError(); err != nil {
			return fmt.Errorf("torch: channels-last: tensor %d: %w", i, err)
		}
	}
	return nil
}

// IsChannelsLast reports whether t is 4-D and contiguous in channels-last order.
func IsChannelsLast(t *ts.Tensor) bool {
	on := C.gtl_is_channels_last(t.Ctensor()) != 0
	_ = lastError()
	return on
}

// SetCuDNNBenchmark lets cuDNN time its algorithms and keep the fastest for
// each shape (torch.backends.cudnn.benchmark). Process-wide; harmless without CUDA.
func SetCuDNNBenchmark(on bool) error {
	C.gtl_set_cudnn_benchmark(cbool(on))
	if err := lastError(); err != nil {
		return fmt.Errorf("torch: cudnn benchmark: %w", err)
	}
	return nil
}

// SetAllowTF32 lets cuBLAS matmuls and cuDNN convolutions use TF32 tensor
// cores for float32 (torch.backends.cuda.matmul.allow_tf32 and
// torch.backends.cudnn.allow_tf32). Process-wide; harmless without CUDA.
func SetAllowTF32(on bool) error {
	C.gtl_set_allow_tf32(cbool(on))
	if err := lastError(); err != nil {
		return fmt.Errorf("torch: allow tf32: %w", err)
	}
	return nil
}

// CUDASynchronize waits until all work queued on CUDA device dev has
// finished. Without a CUDA device it returns an error.
func CUDASynchronize(dev int) error {
	C.gtl_cuda_synchronize(C.int(dev))
	if err := lastError(); err != nil {
		return fmt.Errorf("torch: cuda synchronize %d: %w", dev, err)
	}
	return nil
}

// CUDAPeakAllocated returns the most bytes the CUDA caching allocator has
// had allocated to tensors on device dev since the start or the last
// [CUDAResetPeak] (torch.cuda.max_memory_allocated). It returns an error
// without CUDA or when the wrapper was built without CUDA's headers.
func CUDAPeakAllocated(dev int) (int64, error) {
	n := C.gtl_cuda_peak_allocated(C.int(dev))
	if err := lastError(); err != nil {
		return -1, fmt.Errorf("torch: cuda peak memory %d: %w", dev, err)
	}
	return int64(n), nil
}

// CUDAResetPeak restarts the peak counted by [CUDAPeakAllocated].
func CUDAResetPeak(dev int) error {
	C.gtl_cuda_reset_peak(C.int(dev))
	if err := lastError(); err != nil {
		return fmt.Errorf("torch: cuda reset peak memory %d: %w", dev, err)
	}
	return nil
}

func cbool(on bool) C.int {
	if on {
		return 1
	}
	return 0
}

// ReLUInPlace applies relu to t's data in place (t's handle stays valid;
// gotch's generated Relu_ leaks the old handle). Like torchvision's
// ReLU(inplace=True), it is safe on an activation that autograd has not
// saved for backward, e.g. a batch norm's or an addition's output.
func ReLUInPlace(t *ts.Tensor) error { return activationInPlace(t, 0, "relu") }

// ReLU6InPlace clamps t's data to [0, 6] in place, as ReLU6(inplace=True).
func ReLU6InPlace(t *ts.Tensor) error {
	if IsMkldnn(t) {
		return mkldnnReLU6InPlace(t)
	}
	return activationInPlace(t, 1, "relu6")
}

func activationInPlace(t *ts.Tensor, kind C.int, name string) error {
	C.gtl_activation_(t.Ctensor(), kind)
	if err := lastError(); err != nil {
		return fmt.Errorf("torch: in-place %s: %w", name, err)
	}
	return nil
}
