/* gtl_api.h: gtl's own additions to the wrapper library (libgtltorch.so).
 *
 * Plain C, so Go reaches it through cgo. Compiled by scripts/setup.sh into
 * the same shared library as gotch's wrapper, against the same libtorch.
 * Functions that can fail record the error in the wrapper's thread-local
 * error slot; read it with get_and_reset_last_err() on the same thread. */
#ifndef GTL_API_H
#define GTL_API_H
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Build facts, fixed when the library was compiled. */
const char *gtl_libtorch_version(void); /* TORCH_VERSION of the headers */
const char *gtl_libtorch_dir(void);     /* folder of the libtorch libraries linked */
const char *gtl_gotch_version(void);
int gtl_disabled_ops(void); /* generated ops replaced by stubs at build time */
int gtl_built_with_cuda(void);

/* Global state. */
void gtl_manual_seed(int64_t seed); /* CPU and every CUDA generator */
int gtl_get_num_threads(void);
void gtl_set_num_threads(int n);
int gtl_get_num_interop_threads(void);

/* requires_grad of a tensor (a gotch tensor handle, torch::Tensor*), set in
 * place: gotch's generated in-place ops leak the old handle. */
void gtl_set_requires_grad(void *t, int on);

/* Optimisers with real parameter groups (gotch's AddParamGroup forces the
 * new group's learning rate to 0.001 and its GetLRs reads past a buffer).
 * kind: 0 SGD (momentum, dampening 0, nesterov), 1 AdamW (beta1, beta2,
 * eps 1e-8). The optimiser starts with no parameters; add them group by
 * group, groups numbered from 0 in order. */
void *gtl_opt_new(int kind, double lr, double momentum, int nesterov, double beta1, double beta2);
void gtl_opt_add(void *opt, int group, void *t, double lr, double weight_decay);
int gtl_opt_groups(void *opt);
double gtl_opt_get_lr(void *opt, int group);
void gtl_opt_set_lr(void *opt, int group, double lr);
double gtl_opt_get_weight_decay(void *opt, int group);
void gtl_opt_zero_grad(void *opt);
int gtl_opt_unscale_grads(void *opt, double inv_scale);
/* Scales the gradients of all the optimiser's parameters so that their
 * global L2 norm is at most max_norm; returns the norm before clipping. */
double gtl_opt_clip_grad_norm(void *opt, double max_norm);
void gtl_opt_step(void *opt);
void gtl_opt_free(void *opt);
/* Optimiser state (momentum buffers, Adam moments, step counts) to and from
 * a libtorch archive; loading needs the same groups and parameters. */
void gtl_opt_save(void *opt, const char *path);
void gtl_opt_load(void *opt, const char *path);

/* The CPU generator's state as a new uint8 tensor, and back. */
void *gtl_rng_get_state(void);
void gtl_rng_set_state(void *t);

/* Thread-local grad mode of the calling OS thread. */
int gtl_is_grad_enabled(void);
int gtl_set_grad_enabled(int enabled); /* returns the previous mode */

/* Devices. */
int gtl_cuda_device_count(void);
/* Writes the name of CUDA device i into buf (NUL-terminated) and its memory
 * in bytes into total_mem; returns 0, or -1 when the driver cannot tell. */
int gtl_cuda_device_info(int i, char *buf, int len, int64_t *total_mem);
int gtl_cudnn_is_available(void);
int64_t gtl_cudnn_version(void); /* -1 when unknown */

/* Mixed precision (autocast) of the calling OS thread, as torch.autocast.
 * device: 0 CPU, 1 CUDA; dtype: 0 float16, 1 bfloat16. Returns the previous
 * enabled state (0/1). Turning it off for the outermost level clears the
 * cast-weight cache, as torch.autocast's exit does. CPU autocast takes
 * bfloat16 only on libtorch 1.13. */
int gtl_autocast_set(int device, int enabled, int dtype);
int gtl_autocast_enabled(int device);
void gtl_autocast_clear_cache(void);

/* A new handle to t in channels-last memory format (a copy unless t is
 * already channels-last); the caller owns it. NULL on error. */
void *gtl_channels_last(void *t);
/* Makes the tensor behind handle t channels-last in place of its data:
 * t's handle then refers to the converted tensor (set_data, no autograd
 * history), so parameters keep their identity in optimisers. */
void gtl_set_channels_last(void *t);
int gtl_is_channels_last(void *t);

/* In-place activations on the tensor behind handle t (the handle stays
 * valid, unlike gotch's generated in-place ops, which leak the old one):
 * kind 0 relu_, 1 relu6 (hardtanh_ to [0, 6]), as torchvision's
 * ReLU(inplace=True) and ReLU6(inplace=True). */
void gtl_activation_(void *t, int kind);

/* cuDNN and TF32 switches (process-wide, as torch.backends). */
void gtl_set_cudnn_benchmark(int on);
void gtl_set_allow_tf32(int on); /* cuBLAS matmuls and cuDNN convolutions */

/* CUDA timing and memory. Without CUDA (or on a wrapper built without the
 * CUDA headers) they set the error slot. */
void gtl_cuda_synchronize(int device);
int64_t gtl_cuda_peak_allocated(int device);
void gtl_cuda_reset_peak(int device);

char *get_and_reset_last_err(void); /* from gotch's wrapper; caller frees */

#ifdef __cplusplus
}
#endif
#endif
