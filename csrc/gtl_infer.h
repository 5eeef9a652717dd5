/* gtl_infer.h: inference-mode and tensor-version helpers for gtl's
 * evaluation path (libgtltorch.so, with gtl_api.h). Plain C for cgo.
 * Functions that can fail record the error in the wrapper's thread-local
 * error slot; read it with get_and_reset_last_err() on the same thread. */
#ifndef GTL_INFER_H
#define GTL_INFER_H
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* libtorch's CPU allocator as gtl wraps it when the library loads (unless
 * GTL_MALLOC=system): blocks of 1 MiB or more are mmapped and, when freed,
 * kept by size for the next request of that size (up to 1 GiB in all; a
 * block that would pass the cap first empties the cache).
 * stats fills out[0] cached bytes, out[1] requests served from the cache,
 * out[2] requests that mapped a new block, out[3] times the cache was
 * emptied at its cap, and returns 1; 0 (out untouched)
 * when the wrapper is not installed. trim unmaps every cached block. */
int gtl_alloc_cache_stats(int64_t *out);
void gtl_alloc_cache_trim(void);

/* c10::InferenceMode for the calling OS thread, as torch.inference_mode():
 * enter returns a guard (NULL on error) that exit, on the same thread and
 * in last-in first-out order, destroys, restoring the previous mode.
 * Tensors created inside are inference tensors: they carry no version
 * counter and cannot be saved for backward outside the mode. */
void *gtl_inference_mode_enter(void);
void gtl_inference_mode_exit(void *guard);
int gtl_is_inference_mode(void);

/* The version counter of the tensor behind handle t (t._version in
 * PyTorch): in-place changes (optimiser steps, copy_ of loaded weights)
 * bump it. -1 for an inference tensor, which has none. */
int64_t gtl_tensor_version(void *t);
int gtl_is_inference_tensor(void *t);
/* The versions of n tensors in one call: out[i] as gtl_tensor_version for
 * ts[i], -2 where ts[i] is NULL. */
void gtl_tensor_versions(void **ts, int n, int64_t *out);
/* requires_grad of n tensors in one call: out[i] is 1 or 0. */
void gtl_requires_grad_all(void **ts, int n, uint8_t *out);

/* oneDNN (MKLDNN) evaluation path, as torch.jit.optimize_for_inference:
 * to_mkldnn/to_dense convert between strided float tensors and MKLDNN
 * (opaque, blocked) ones; prepack reorders a [out, in/groups, kh, kw]
 * convolution weight once into oneDNN's layout for those parameters
 * (padding, stride, dilation: 2 values each); conv2d runs
 * at::mkldnn_convolution on an MKLDNN input (b may be NULL, dense);
 * global_avg_pool averages an MKLDNN [N, C, H, W] to a dense [N, C].
 * Each returns a new handle, NULL on error. */
void *gtl_to_mkldnn(void *t);
void *gtl_to_dense(void *t);
int gtl_is_mkldnn(void *t);
void *gtl_mkldnn_prepack_conv2d(void *w, const int64_t *padding, const int64_t *stride,
                                const int64_t *dilation, int64_t groups);
void *gtl_mkldnn_conv2d(void *x, void *w, void *b, const int64_t *padding, const int64_t *stride,
                        const int64_t *dilation, int64_t groups);
void *gtl_mkldnn_global_avg_pool(void *x);
/* ReLU6 in place on an MKLDNN tensor (PyTorch's prim::MKLDNNHardTanh_). */
void gtl_mkldnn_relu6_(void *t);

#ifdef __cplusplus
}
#endif
#endif
