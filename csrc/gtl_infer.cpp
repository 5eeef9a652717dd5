// gtl_infer.cpp: implementation of gtl_infer.h. Kept apart from gtl_api.cpp
// and light on headers (no torch/torch.h), so it compiles in seconds.
#include "gtl_infer.h"

#include <ATen/core/Tensor.h>
#include <c10/core/InferenceMode.h>
#include <cstring>
#include <exception>

// The wrapper's error slot (defined in torch_api.cpp).
extern thread_local char *torch_last_err;

#define GTL_PROTECT(x)                                                         \
  try {                                                                        \
    x                                                                          \
  } catch (const std::exception &e) {                                          \
    torch_last_err = strdup(e.what());                                         \
  }

void *gtl_inference_mode_enter(void) {
  GTL_PROTECT(return new c10::InferenceMode(true);)
  return nullptr;
}

void gtl_inference_mode_exit(void *guard) {
  delete static_cast<c10::InferenceMode *>(guard);
}

int gtl_is_inference_mode(void) { return c10::InferenceMode::is_enabled() ? 1 : 0; }

int64_t gtl_tensor_version(void *t) {
  GTL_PROTECT(
      auto &x = *static_cast<at::Tensor *>(t);
      if (x.is_inference()) return -1;
      return (int64_t)x._version();)
  return -1;
}

int gtl_is_inference_tensor(void *t) {
  GTL_PROTECT(return static_cast<at::Tensor *>(t)->is_inference() ? 1 : 0;)
  return 0;
}
