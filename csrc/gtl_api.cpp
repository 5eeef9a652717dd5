// gtl_api.cpp: implementation of gtl_api.h. See that file.
#include "gtl_api.h"
#include "torch_api.h"

#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <ATen/autocast_mode.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <ATen/CPUGeneratorImpl.h>
#include <mutex>
#include <dlfcn.h>
#include <torch/csrc/api/include/torch/version.h>
#include <torch/torch.h>
#if defined(GTL_WITH_CUDA) && defined(GTL_CUDA_HEADERS)
#include <c10/cuda/CUDACachingAllocator.h>
#endif

// torch 2.4 replaced the per-device autocast functions (set_enabled,
// set_cpu_enabled, set_autocast_gpu_dtype, ...) with ones taking a device type.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
#define GTL_AUTOCAST_BY_DEVICE 1
#endif

#ifndef GTL_DISABLED_OPS
#define GTL_DISABLED_OPS -1
#endif
#ifndef GTL_GOTCH_VERSION
#define GTL_GOTCH_VERSION "unknown"
#endif
#ifndef GTL_LIBTORCH_DIR
#define GTL_LIBTORCH_DIR "unknown"
#endif

// with_options applies f to a group's options as SGD or AdamW options.
template <class F> static void with_options(torch::optim::OptimizerOptions &o, F f) {
  if (auto p = dynamic_cast<torch::optim::SGDOptions *>(&o))
    f(p, nullptr);
  else if (auto p = dynamic_cast<torch::optim::AdamWOptions *>(&o))
    f(nullptr, p);
  else
    throw std::runtime_error("gtl: unsupported optimizer options");
}

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

void *gtl_opt_new(int kind, double lr, double momentum, int nesterov, double beta1, double beta2) {
  PROTECT(
    // No initial group: a tensor-vector constructor would make group 0
    // with the default rate.
    std::vector<torch::optim::OptimizerParamGroup> none;
    if (kind == 0) {
      return new torch::optim::SGD(none, torch::optim::SGDOptions(lr).momentum(momentum).nesterov(nesterov != 0));
    }
    return new torch::optim::AdamW(none, torch::optim::AdamWOptions(lr).betas(std::make_tuple(beta1, beta2)).weight_decay(0));
  )
  return nullptr;
}

void gtl_opt_add(void *opt, int group, void *t, double lr, double weight_decay) {
  PROTECT(
    auto o = static_cast<torch::optim::Optimizer *>(opt);
    auto &groups = o->param_groups();
    if (group > (int)groups.size()) throw std::runtime_error("gtl: parameter groups must be added in order");
    if (group == (int)groups.size()) {
      auto opts = o->defaults().clone();
      opts->set_lr(lr);
      with_options(*opts, [&](torch::optim::SGDOptions *s, torch::optim::AdamWOptions *a) {
        if (s) s->weight_decay(weight_decay); else a->weight_decay(weight_decay);
      });
      groups.emplace_back(std::vector<torch::Tensor>{}, std::move(opts));
    }
    groups[group].params().push_back(*static_cast<torch::Tensor *>(t));
  )
}

int gtl_opt_groups(void *opt) {
  return (int)static_cast<torch::optim::Optimizer *>(opt)->param_groups().size();
}

double gtl_opt_get_lr(void *opt, int group) {
  PROTECT(return static_cast<torch::optim::Optimizer *>(opt)->param_groups().at(group).options().get_lr();)
  return -1;
}

void gtl_opt_set_lr(void *opt, int group, double lr) {
  PROTECT(static_cast<torch::optim::Optimizer *>(opt)->param_groups().at(group).options().set_lr(lr);)
}

double gtl_opt_get_weight_decay(void *opt, int group) {
  double wd = -1;
  PROTECT(
    with_options(static_cast<torch::optim::Optimizer *>(opt)->param_groups().at(group).options(),
                 [&](torch::optim::SGDOptions *s, torch::optim::AdamWOptions *a) {
                   wd = s ? s->weight_decay() : a->weight_decay();
                 });
  )
  return wd;
}

double gtl_opt_clip_grad_norm(void *opt, double max_norm) {
  PROTECT(
    std::vector<torch::Tensor> params;
    for (auto &g : static_cast<torch::optim::Optimizer *>(opt)->param_groups())
      for (auto &p : g.params())
        if (p.grad().defined()) params.push_back(p);
    if (params.empty()) return 0.0;
    return torch::nn::utils::clip_grad_norm_(params, max_norm);
  )
  return -1;
}

// gtl_opt_unscale_grads multiplies every parameter's gradient by inv_scale
// in place and returns 1 when any of them holds a NaN or an infinity, 0
// when all are finite, -1 on an error: the unscale-and-check half of
// torch.cuda.amp.GradScaler.step (_amp_foreach_non_finite_check_and_unscale_).
int gtl_opt_unscale_grads(void *opt, double inv_scale) {
  PROTECT(
    bool found = false;
    for (auto &g : static_cast<torch::optim::Optimizer *>(opt)->param_groups())
      for (auto &p : g.params()) {
        if (!p.grad().defined()) continue;
        auto grad = p.mutable_grad();
        grad.mul_(inv_scale);
        if (!found && !grad.isfinite().all().item<bool>()) found = true;
      }
    return found ? 1 : 0;
  )
  return -1;
}

void gtl_opt_zero_grad(void *opt) { PROTECT(static_cast<torch::optim::Optimizer *>(opt)->zero_grad();) }

void gtl_opt_step(void *opt) { PROTECT(static_cast<torch::optim::Optimizer *>(opt)->step();) }

void gtl_opt_free(void *opt) { delete static_cast<torch::optim::Optimizer *>(opt); }

void gtl_opt_save(void *opt, const char *path) {
  PROTECT(torch::save(*static_cast<torch::optim::Optimizer *>(opt), std::string(path));)
}

void gtl_opt_load(void *opt, const char *path) {
  PROTECT(torch::load(*static_cast<torch::optim::Optimizer *>(opt), std::string(path));)
}

void *gtl_rng_get_state(void) {
  PROTECT(
    auto gen = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(gen.mutex());
    return new torch::Tensor(gen.get_state());
  )
  return nullptr;
}

void gtl_rng_set_state(void *t) {
  PROTECT(
    auto gen = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_state(*static_cast<torch::Tensor *>(t));
  )
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

// Helpers for the C functions below; they throw, the C functions catch.
// (Kept outside PROTECT: preprocessor lines inside a macro argument are
// undefined behaviour.)
static at::DeviceType autocast_device(int device) {
  if (device == 0)
    return at::kCPU;
  if (device == 1)
    return at::kCUDA;
  throw std::runtime_error("gtl: autocast: unknown device " + std::to_string(device));
}

static bool autocast_is_enabled(at::DeviceType d) {
#ifdef GTL_AUTOCAST_BY_DEVICE
  return at::autocast::is_autocast_enabled(d);
#else
  return d == at::kCPU ? at::autocast::is_cpu_enabled() : at::autocast::is_enabled();
#endif
}

static void autocast_enable(at::DeviceType d, bool on, at::ScalarType st) {
#ifdef GTL_AUTOCAST_BY_DEVICE
  if (on)
    at::autocast::set_autocast_dtype(d, st);
  at::autocast::set_autocast_enabled(d, on);
#else
  if (d == at::kCPU) {
    if (on)
      at::autocast::set_autocast_cpu_dtype(st);
    at::autocast::set_cpu_enabled(on);
  } else {
    if (on)
      at::autocast::set_autocast_gpu_dtype(st);
    at::autocast::set_enabled(on);
  }
#endif
}

static int autocast_set(int device, int enabled, int dtype) {
  auto d = autocast_device(device);
  at::ScalarType st;
  if (dtype == 0)
    st = at::kHalf;
  else if (dtype == 1)
    st = at::kBFloat16;
  else
    throw std::runtime_error("gtl: autocast: unknown dtype " + std::to_string(dtype));
  bool prev = autocast_is_enabled(d);
  if (enabled) {
    autocast_enable(d, true, st);
    if (!prev)
      at::autocast::increment_nesting();
  } else if (prev) {
    autocast_enable(d, false, st);
    if (at::autocast::decrement_nesting() == 0)
      at::autocast::clear_cache(); // as torch.autocast.__exit__
  }
  return prev ? 1 : 0;
}

static int64_t cuda_peak_allocated(int device, bool reset) {
#if defined(GTL_WITH_CUDA) && defined(GTL_CUDA_HEADERS)
  if (reset) {
    c10::cuda::CUDACachingAllocator::resetPeakStats(device);
    return 0;
  }
  auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(device);
  return (int64_t)stats.allocated_bytes[0].peak; // [0]: all pools together
#else
  throw std::runtime_error("gtl: cuda peak memory: the wrapper was built without CUDA (headers)");
#endif
}

extern "C" {

int gtl_autocast_enabled(int device) {
  PROTECT(return autocast_is_enabled(autocast_device(device)) ? 1 : 0;)
  return 0;
}

int gtl_autocast_set(int device, int enabled, int dtype) {
  PROTECT(return autocast_set(device, enabled, dtype);)
  return 0;
}

void gtl_autocast_clear_cache(void) { PROTECT(at::autocast::clear_cache();) }

void *gtl_channels_last(void *t) {
  PROTECT(
    auto &x = *static_cast<torch::Tensor *>(t);
    return new torch::Tensor(x.contiguous(at::MemoryFormat::ChannelsLast));
  )
  return nullptr;
}

void gtl_set_channels_last(void *t) {
  PROTECT(
    auto &x = *static_cast<torch::Tensor *>(t);
    if (x.dim() != 4)
      throw std::runtime_error("gtl: channels-last: tensor has " + std::to_string(x.dim()) + " dimensions, want 4");
    at::NoGradGuard no_grad;
    x.set_data(x.contiguous(at::MemoryFormat::ChannelsLast));
  )
}

int gtl_is_channels_last(void *t) {
  PROTECT(
    auto &x = *static_cast<torch::Tensor *>(t);
    return x.dim() == 4 && x.is_contiguous(at::MemoryFormat::ChannelsLast) ? 1 : 0;
  )
  return 0;
}

void gtl_activation_(void *t, int kind) {
  PROTECT(
    auto &x = *static_cast<torch::Tensor *>(t);
    if (kind == 0)
      at::relu_(x);
    else if (kind == 1)
      at::hardtanh_(x, 0, 6);
    else
      throw std::runtime_error("gtl: in-place activation: unknown kind " + std::to_string(kind));
  )
}

void gtl_set_cudnn_benchmark(int on) { PROTECT(at::globalContext().setBenchmarkCuDNN(on != 0);) }

void gtl_set_allow_tf32(int on) {
  PROTECT(
    // "high" is what allow_tf32 = True sets for matmuls; the string form
    // exists from 1.12 on, where setAllowTF32CuBLAS is deprecated in 2.9+.
    at::globalContext().setFloat32MatmulPrecision(std::string(on ? "high" : "highest"));
    at::globalContext().setAllowTF32CuDNN(on != 0);
  )
}

void gtl_cuda_synchronize(int device) {
  PROTECT(
    if (torch::cuda::device_count() == 0)
      throw std::runtime_error("gtl: cuda synchronize: no CUDA device");
    torch::cuda::synchronize(device);
  )
}

int64_t gtl_cuda_peak_allocated(int device) {
  PROTECT(return cuda_peak_allocated(device, false);)
  return -1;
}

void gtl_cuda_reset_peak(int device) { PROTECT(cuda_peak_allocated(device, true);) }

} // extern "C"
