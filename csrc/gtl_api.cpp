// gtl_api.cpp: implementation of gtl_api.h. See that file.
#include "gtl_api.h"
#include "torch_api.h"

#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <dlfcn.h>
#include <torch/csrc/api/include/torch/version.h>
#include <torch/torch.h>

#ifndef GTL_DISABLED_OPS
#define GTL_DISABLED_OPS -1
#endif
#ifndef GTL_GOTCH_VERSION
#define GTL_GOTCH_VERSION "unknown"
#endif
#ifndef GTL_LIBTORCH_DIR
#define GTL_LIBTORCH_DIR "unknown"
#endif

extern "C" {

const char *gtl_libtorch_version(void) { return TORCH_VERSION; }
const char *gtl_libtorch_dir(void) { return GTL_LIBTORCH_DIR; }
const char *gtl_gotch_version(void) { return GTL_GOTCH_VERSION; }
int gtl_disabled_ops(void) { return GTL_DISABLED_OPS; }

int gtl_built_with_cuda(void) {
#ifdef GTL_WITH_CUDA
  return 1;
#else
  return 0;
#endif
}

void gtl_manual_seed(int64_t seed) { PROTECT(torch::manual_seed(seed);) }

int gtl_get_num_threads(void) { return at::get_num_threads(); }

// libtorch (OpenMP build) keeps the count per OS thread and, on a thread's
// first query, overwrites it with the last value set on any thread. Query
// first so that this thread's own setting sticks.
void gtl_set_num_threads(int n) {
  PROTECT(at::get_num_threads(); at::set_num_threads(n);)
}

int gtl_get_num_interop_threads(void) { return at::get_num_interop_threads(); }

void gtl_set_requires_grad(void *t, int on) {
  PROTECT(static_cast<torch::Tensor *>(t)->requires_grad_(on != 0);)
}

int gtl_is_grad_enabled(void) { return at::GradMode::is_enabled() ? 1 : 0; }

int gtl_set_grad_enabled(int enabled) {
  int prev = at::GradMode::is_enabled() ? 1 : 0;
  at::GradMode::set_enabled(enabled != 0);
  return prev;
}

int gtl_cuda_device_count(void) {
  PROTECT(return (int)torch::cuda::device_count();)
  return 0;
}

// Device names come from the CUDA driver API, opened at run time, so this
// file needs no CUDA headers and a CPU build links nothing of CUDA.
int gtl_cuda_device_info(int i, char *buf, int len, int64_t *total_mem) {
  typedef int (*init_t)(unsigned);
  typedef int (*get_t)(int *, int);
  typedef int (*name_t)(char *, int, int);
  typedef int (*mem_t)(size_t *, int);
  static void *h = dlopen("libcuda.so.1", RTLD_NOW | RTLD_GLOBAL);
  if (h == nullptr)
    return -1;
  auto init = (init_t)dlsym(h, "cuInit");
  auto get = (get_t)dlsym(h, "cuDeviceGet");
  auto name = (name_t)dlsym(h, "cuDeviceGetName");
  auto mem = (mem_t)dlsym(h, "cuDeviceTotalMem_v2");
  if (!init || !get || !name || init(0) != 0)
    return -1;
  int dev = 0;
  if (get(&dev, i) != 0 || name(buf, len, dev) != 0)
    return -1;
  size_t bytes = 0;
  *total_mem = (mem && mem(&bytes, dev) == 0) ? (int64_t)bytes : -1;
  return 0;
}

int gtl_cudnn_is_available(void) {
  PROTECT(return torch::cuda::cudnn_is_available() ? 1 : 0;)
  return 0;
}

int64_t gtl_cudnn_version(void) {
  try {
    return (int64_t)at::detail::getCUDAHooks().versionCuDNN();
  } catch (...) {
    return -1;
  }
}

} // extern "C"
