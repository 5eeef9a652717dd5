package torch

// #cgo CFLAGS: -I${SRCDIR}/../../csrc
// #cgo LDFLAGS: -L${SRCDIR}/../../.build/lib -lgtltorch -Wl,-rpath,${SRCDIR}/../../.build/lib
// #include "gtl_infer.h"
import "C"

import (
	"fmt"

	"github.com/sugarme/gotch/ts"
)

// Inference runs fn with libtorch's inference mode on for the calling OS
// thread (c10::InferenceMode, as torch.inference_mode()): no autograd
// recording and no version-counter or view bookkeeping per op. Call it only
// from inside Do (on a worker's pinned thread). Tensors fn creates are
// inference tensors: read them, or pass them through functional ops (which
// make normal tensors), but do not modify them in place or save them for
// backward once fn has returned.
func Inference(fn func() error) error {
	g := C.gtl_inference_mode_enter()
	if g == nil {
		if err := lastError(); err != nil {
			return fmt.Errorf("torch: inference mode: %w", err)
		}
		return fmt.Errorf("torch: inference mode: no guard")
	}
	defer C.gtl_inference_mode_exit(g)
	return fn()
}

// Inference runs fn on the worker's thread in inference mode (see the
// package-level Inference).
func (w *Worker) Inference(fn func() error) error {
	return w.Do(func() error { return Inference(fn) })
}

// InInference reports whether the calling OS thread is in inference mode.
func InInference() bool { return C.gtl_is_inference_mode() != 0 }

// Version returns the version counter of t (PyTorch's t._version): every
// in-place change of t (an optimiser step, a copy_ of loaded weights)
// increases it. Inference tensors have none: -1.
func Version(t *ts.Tensor) (int64, error) {
	v := int64(C.gtl_tensor_version(t.Ctensor()))
	if err := lastError(); err != nil {
		return -1, fmt.Errorf("torch: tensor version: %w", err)
	}
	return v, nil
}

// IsInferenceTensor reports whether t was created in inference mode.
func IsInferenceTensor(t *ts.Tensor) bool { return C.gtl_is_inference_tensor(t.Ctensor()) != 0 }
