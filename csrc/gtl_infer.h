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

#ifdef __cplusplus
}
#endif
#endif
