package torch

// #cgo CFLAGS: -I${SRCDIR}/../csrc
// #cgo LDFLAGS: -L${SRCDIR}/../.build/lib -lgtltorch -Wl,-rpath,${SRCDIR}/../.build/lib
// #include "gtl_infer.h"
import "C"

import (
	"fmt"
	"unsafe"

	lib "github.com/sugarme/gotch/libtch"
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

// AllocCacheStats describes libtorch's CPU allocator as libgtltorch wraps
// it when it loads (csrc/gtl_infer.cpp): blocks of 1 MiB or more are
// mapped from the system and, when freed, kept by size for the next
// request of that size, up to 1 GiB in all, so that steps which repeat
// their shapes do not fault their activations in anew (glibc unmaps large
// blocks on free). A block that would take the cache past 1 GiB first
// returns every cached block to the system (shapes changed: a new run or
// model).
type AllocCacheStats struct {
	Installed bool  // false when GTL_MALLOC=system left libtorch's allocator
	Cached    int64 // bytes of freed blocks kept for reuse
	Hits      int64 // large requests served from the cache
	Misses    int64 // large requests that mapped a new block
	Flushes   int64 // times the cache was emptied at its cap
}

// AllocCache returns the allocator cache's counters.
func AllocCache() AllocCacheStats {
	var v [4]C.int64_t
	if C.gtl_alloc_cache_stats(&v[0]) == 0 {
		return AllocCacheStats{}
	}
	return AllocCacheStats{Installed: true, Cached: int64(v[0]), Hits: int64(v[1]), Misses: int64(v[2]), Flushes: int64(v[3])}
}

// TrimAllocCache returns every cached block to the system.
func TrimAllocCache() { C.gtl_alloc_cache_trim() }

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

// Versions stores the version counters of tensors in out (len(out) ≥
// len(tensors)) with one call into libtorch: as Version, and -2 for a nil
// tensor.
func Versions(out []int64, tensors ...*ts.Tensor) error {
	if len(tensors) == 0 {
		return nil
	}
	if len(out) < len(tensors) {
		return fmt.Errorf("torch: tensor versions: %d slots for %d tensors", len(out), len(tensors))
	}
	var buf [8]unsafe.Pointer
	ptrs := buf[:0]
	for _, t := range tensors {
		if t == nil {
			ptrs = append(ptrs, nil)
		} else {
			ptrs = append(ptrs, t.Ctensor())
		}
	}
	C.gtl_tensor_versions(&ptrs[0], C.int(len(ptrs)), (*C.int64_t)(unsafe.Pointer(&out[0])))
	if err := lastError(); err != nil {
		return fmt.Errorf("torch: tensor versions: %w", err)
	}
	return nil
}

// TensorList is a fixed list of tensors whose per-tensor flags are read
// with one call into libtorch and no allocation per call (an optimiser
// step's worth of parameters, read every step). The tensors must stay
// alive while the list is used.
type TensorList struct {
	T     []*ts.Tensor
	h     []unsafe.Pointer
	flags []C.uint8_t
}

// NewTensorList returns the list of tensors (none nil).
func NewTensorList(tensors []*ts.Tensor) *TensorList {
	l := &TensorList{T: tensors, h: make([]unsafe.Pointer, len(tensors)), flags: make([]C.uint8_t, len(tensors))}
	for i, t := range tensors {
		l.h[i] = t.Ctensor()
	}
	return l
}

// RequiresGrad stores each tensor's requires_grad flag in out
// (len(out) ≥ len(l.T)).
func (l *TensorList) RequiresGrad(out []bool) error {
	if len(l.T) == 0 {
		return nil
	}
	if len(out) < len(l.T) {
		return fmt.Errorf("torch: requires_grad: %d slots for %d tensors", len(out), len(l.T))
	}
	C.gtl_requires_grad_all(&l.h[0], C.int(len(l.h)), &l.flags[0])
	if err := lastError(); err != nil {
		return fmt.Errorf("torch: requires_grad: %w", err)
	}
	for i, f := range l.flags {
		out[i] = f != 0
	}
	return nil
}

// IsInferenceTensor reports whether t was created in inference mode.
func IsInferenceTensor(t *ts.Tensor) bool { return C.gtl_is_inference_tensor(t.Ctensor()) != 0 }

// The oneDNN (MKLDNN) evaluation path, as PyTorch's
// torch.jit.optimize_for_inference does it on the CPU
// (torch/csrc/jit/passes/frozen_ops_to_mkldnn.cpp): convolution weights
// reordered once into oneDNN's blocked layout, activations kept as MKLDNN
// tensors between layers. MKLDNN tensors are opaque: only ops with a
// oneDNN kernel accept them (convolution, relu, add, max and adaptive
// average pooling, ...); others fail with an error naming MkldnnCPU.

// tensorOrErr wraps a handle returned by a gtl_* call, or the wrapper's
// error for what.
func tensorOrErr(p unsafe.Pointer, what string) (*ts.Tensor, error) {
	if err := lastError(); err != nil {
		return nil, fmt.Errorf("torch: %s: %w", what, err)
	}
	if p == nil {
		return nil, fmt.Errorf("torch: %s: no tensor", what)
	}
	return ts.New(lib.Ctensor(p)), nil
}

// ToMkldnn returns a float32 CPU tensor t as an MKLDNN tensor (a copy in
// oneDNN's layout); the caller owns it.
func ToMkldnn(t *ts.Tensor) (*ts.Tensor, error) {
	return tensorOrErr(C.gtl_to_mkldnn(t.Ctensor()), "to_mkldnn")
}

// ToDense returns an MKLDNN tensor t as an ordinary (strided) tensor; the
// caller owns it.
func ToDense(t *ts.Tensor) (*ts.Tensor, error) {
	return tensorOrErr(C.gtl_to_dense(t.Ctensor()), "to_dense")
}

// IsMkldnn reports whether t is an MKLDNN tensor.
func IsMkldnn(t *ts.Tensor) bool { return C.gtl_is_mkldnn(t.Ctensor()) != 0 }

func ints2(v []int64, what string) (*C.int64_t, error) {
	if len(v) != 2 {
		return nil, fmt.Errorf("torch: mkldnn conv2d: %s %v, want 2 values", what, v)
	}
	return (*C.int64_t)(unsafe.Pointer(&v[0])), nil
}

// convArgs checks a convolution's padding, stride and dilation (2 values
// each) and returns them as C arrays.
func convArgs(padding, stride, dilation []int64) (p, s, d *C.int64_t, err error) {
	if p, err = ints2(padding, "padding"); err != nil {
		return nil, nil, nil, err
	}
	if s, err = ints2(stride, "stride"); err != nil {
		return nil, nil, nil, err
	}
	if d, err = ints2(dilation, "dilation"); err != nil {
		return nil, nil, nil, err
	}
	return p, s, d, nil
}

// MkldnnPrepackConv2d reorders a dense convolution weight
// [out, in/groups, kh, kw] once into the blocked layout oneDNN picks for
// these parameters (at::mkldnn_reorder_conv2d_weight); the caller owns
// the MKLDNN result. padding, stride, dilation: 2 values each.
func MkldnnPrepackConv2d(w *ts.Tensor, padding, stride, dilation []int64, groups int64) (*ts.Tensor, error) {
	p, s, d, err := convArgs(padding, stride, dilation)
	if err != nil {
		return nil, err
	}
	return tensorOrErr(C.gtl_mkldnn_prepack_conv2d(w.Ctensor(), p, s, d, C.int64_t(groups)), "mkldnn prepack conv2d weight")
}

// MkldnnConv2d convolves an MKLDNN input x [N, C, H, W] with weight w
// (prepacked by MkldnnPrepackConv2d, or dense) and dense bias b (nil for
// none): at::mkldnn_convolution. The result, owned by the caller, is an
// MKLDNN tensor.
func MkldnnConv2d(x, w, b *ts.Tensor, padding, stride, dilation []int64, groups int64) (*ts.Tensor, error) {
	p, s, d, err := convArgs(padding, stride, dilation)
	if err != nil {
		return nil, err
	}
	var bp unsafe.Pointer
	if b != nil {
		bp = b.Ctensor()
	}
	return tensorOrErr(C.gtl_mkldnn_conv2d(x.Ctensor(), w.Ctensor(), bp, p, s, d, C.int64_t(groups)), "mkldnn conv2d")
}

// MkldnnGlobalAvgPool averages each channel of an MKLDNN x [N, C, H, W]
// over space and returns a dense [N, C] the caller owns.
func MkldnnGlobalAvgPool(x *ts.Tensor) (*ts.Tensor, error) {
	return tensorOrErr(C.gtl_mkldnn_global_avg_pool(x.Ctensor()), "mkldnn global average pool")
}

// mkldnnReLU6InPlace clamps an MKLDNN tensor to [0, 6] in place with the
// oneDNN kernel PyTorch's frozen path uses (prim::MKLDNNHardTanh_).
func mkldnnReLU6InPlace(t *ts.Tensor) error {
	C.gtl_mkldnn_relu6_(t.Ctensor())
	if err := lastError(); err != nil {
		return fmt.Errorf("torch: in-place relu6 (mkldnn): %w", err)
	}
	return nil
}
