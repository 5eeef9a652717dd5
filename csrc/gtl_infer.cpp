// gtl_infer.cpp: implementation of gtl_infer.h. Kept apart from gtl_api.cpp
// and light on headers (no torch/torch.h), so it compiles in seconds.
#include "gtl_infer.h"

#include <ATen/core/Tensor.h>
#include <ATen/ops/adaptive_avg_pool2d.h>
#include <ATen/ops/mkldnn_convolution.h>
#include <ATen/ops/mkldnn_reorder_conv2d_weight.h>
#include <c10/core/InferenceMode.h>
#include <torch/csrc/jit/ir/ir.h>
#include <torch/csrc/jit/runtime/operator.h>
#include <c10/core/CPUAllocator.h>
#include <sys/mman.h>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

// The wrapper's error slot (defined in torch_api.cpp).
extern thread_local char *torch_last_err;

#define GTL_PROTECT(...)                                                       \
  try {                                                                        \
    __VA_ARGS__                                                                \
  } catch (const std::exception &e) {                                          \
    torch_last_err = strdup(e.what());                                         \
  }

// ---- large CPU blocks kept for reuse ---------------------------------------
// glibc serves large requests (from 128 KB up to 32 MB as its dynamic mmap
// threshold grows, always from 32 MB) with a fresh mmap and unmaps them on
// free, so every large activation of every step is faulted in page by page
// again. Measured on mobilenet_v2 inference (batch 16, 224 px, 1 thread):
// 334k minor page faults in 7 steps, a third of the wall time in the kernel,
// in gtl and in PyTorch alike. glibc's own knobs do not fix it: with mmap
// off, aligned allocations (c10 asks posix_memalign for 64 bytes) leave
// holes that small cached chunks (tcache, which mallopt cannot turn off)
// wedge apart, and the heap grows every step (measured: +200 MB a step for
// a chain of 64 MB tensors). So libtorch's CPU allocator is wrapped: blocks
// of 1 MiB or more come from mmap and, when freed, are kept by exact size
// (page-rounded) for the next request of that size, up to 1 GiB in all; a
// block that would pass that cap first returns every cached one to the
// system (see release). Steps that repeat their shapes (training,
// evaluation) then reuse the same blocks. Smaller requests go to libtorch's
// own allocator. Installed as the library loads, before any tensor exists;
// GTL_MALLOC=system (env/env.go documents it) leaves libtorch's allocator.
namespace {
constexpr size_t kCacheMin = 1 << 20;
constexpr size_t kCacheMax = size_t(1) << 30;

void gtl_cache_delete(void *p);

class GtlCPUAllocator final : public c10::Allocator {
 public:
  explicit GtlCPUAllocator(c10::Allocator *orig) : orig_(orig) {}

  c10::DataPtr allocate(size_t n) const override {
    if (n < kCacheMin) {
      // The original allocator's raw deleter frees what it allocated
      // (raw_deallocate reaches it through gtl_cache_delete).
      return orig_->allocate(n);
    }
    size_t sz = (n + 4095) & ~size_t(4095);
    {
      std::lock_guard<std::mutex> g(mu_);
      auto it = free_.find(sz);
      if (it != free_.end() && !it->second.empty()) {
        void *p = it->second.back();
        it->second.pop_back();
        cached_ -= sz;
        hits_++;
        live_[p] = sz;
        return {p, p, &gtl_cache_delete, c10::Device(c10::DeviceType::CPU)};
      }
    }
    // A miss maps outside the lock.
    void *p = mmap(nullptr, sz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
      C10_THROW_ERROR(Error, "gtl: CPU allocator: out of memory allocating " + std::to_string(n) + " bytes");
    }
    {
      std::lock_guard<std::mutex> g(mu_);
      misses_++;
      live_[p] = sz;
    }
    return {p, p, &gtl_cache_delete, c10::Device(c10::DeviceType::CPU)};
  }

  c10::DeleterFnPtr raw_deleter() const override { return &gtl_cache_delete; }

  // release returns a block to the cache; false when p is not one of this
  // allocator's blocks. When the block would take the cache past its cap,
  // every block cached before it goes back to the system first: a workload
  // whose shapes repeat stays under the cap and never gets here, one whose
  // shapes changed (the next run of a grid, another model) drops the sizes
  // it no longer asks for instead of keeping them and caching nothing new.
  bool release(void *p) {
    size_t sz;
    std::unordered_map<size_t, std::vector<void *>> evicted;
    {
      std::lock_guard<std::mutex> g(mu_);
      auto it = live_.find(p);
      if (it == live_.end()) return false;
      sz = it->second;
      live_.erase(it);
      if (sz <= kCacheMax) {
        if (cached_ + sz > kCacheMax) {
          evicted.swap(free_);
          cached_ = 0;
          flushes_++;
        }
        free_[sz].push_back(p);
        cached_ += sz;
        p = nullptr;
      }
    }
    for (auto &kv : evicted)
      for (void *q : kv.second) munmap(q, kv.first);
    if (p != nullptr) munmap(p, sz);
    return true;
  }

  void orig_delete(void *p) const { orig_->raw_deleter()(p); }

  void stats(int64_t *out) {
    std::lock_guard<std::mutex> g(mu_);
    out[0] = (int64_t)cached_;
    out[1] = hits_;
    out[2] = misses_;
    out[3] = flushes_;
  }

  // trim unmaps every cached block.
  void trim() {
    std::lock_guard<std::mutex> g(mu_);
    for (auto &kv : free_)
      for (void *p : kv.second) munmap(p, kv.first);
    free_.clear();
    cached_ = 0;
  }

 private:
  c10::Allocator *orig_;
  mutable std::mutex mu_;
  mutable std::unordered_map<void *, size_t> live_;
  mutable std::unordered_map<size_t, std::vector<void *>> free_;
  mutable size_t cached_ = 0;
  mutable int64_t hits_ = 0, misses_ = 0, flushes_ = 0;
};

GtlCPUAllocator *gtl_alloc = nullptr;

void gtl_cache_delete(void *p) {
  if (p == nullptr) return;
  if (!gtl_alloc->release(p)) gtl_alloc->orig_delete(p);
}

__attribute__((constructor)) void gtl_alloc_setup() {
  const char *m = getenv("GTL_MALLOC");
  if (m != nullptr && strcmp(m, "system") == 0) return;
  // Never freed: tensors may outlive every static destructor.
  gtl_alloc = new GtlCPUAllocator(c10::GetCPUAllocator());
  c10::SetCPUAllocator(gtl_alloc, /*priority=*/1);
}
} // namespace

int gtl_alloc_cache_stats(int64_t *out) {
  if (gtl_alloc == nullptr) return 0;
  gtl_alloc->stats(out);
  return 1;
}

void gtl_alloc_cache_trim(void) {
  if (gtl_alloc != nullptr) gtl_alloc->trim();
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

// ---- oneDNN (MKLDNN) tensors for evaluation ----------------------------
// The equivalent of what torch.jit.optimize_for_inference does on the CPU
// (torch/csrc/jit/passes/frozen_ops_to_mkldnn.cpp): weights reordered once
// into oneDNN's blocked layout, activations kept as MKLDNN tensors from
// one convolution to the next.

static at::IntArrayRef gtl_ints(const int64_t *v, int n) { return at::IntArrayRef(v, (size_t)n); }

void *gtl_to_mkldnn(void *t) {
  GTL_PROTECT(
      auto &x = *static_cast<at::Tensor *>(t);
      return new at::Tensor(x.to_mkldnn());)
  return nullptr;
}

void *gtl_to_dense(void *t) {
  GTL_PROTECT(
      auto &x = *static_cast<at::Tensor *>(t);
      return new at::Tensor(x.to_dense());)
  return nullptr;
}

int gtl_is_mkldnn(void *t) {
  GTL_PROTECT(return static_cast<at::Tensor *>(t)->is_mkldnn() ? 1 : 0;)
  return 0;
}

void *gtl_mkldnn_prepack_conv2d(void *w, const int64_t *padding, const int64_t *stride,
                                const int64_t *dilation, int64_t groups) {
  GTL_PROTECT(
      auto &x = *static_cast<at::Tensor *>(w);
      auto d = x.contiguous().to_mkldnn();
      return new at::Tensor(at::mkldnn_reorder_conv2d_weight(
          d, gtl_ints(padding, 2), gtl_ints(stride, 2), gtl_ints(dilation, 2), groups));)
  return nullptr;
}

void *gtl_mkldnn_conv2d(void *x, void *w, void *b, const int64_t *padding, const int64_t *stride,
                        const int64_t *dilation, int64_t groups) {
  GTL_PROTECT(
      auto &in = *static_cast<at::Tensor *>(x);
      auto &wt = *static_cast<at::Tensor *>(w);
      c10::optional<at::Tensor> bias;
      if (b != nullptr) bias = *static_cast<at::Tensor *>(b);
      return new at::Tensor(at::mkldnn_convolution(
          in, wt, bias, gtl_ints(padding, 2), gtl_ints(stride, 2), gtl_ints(dilation, 2), groups));)
  return nullptr;
}

void *gtl_mkldnn_global_avg_pool(void *x) {
  GTL_PROTECT(
      auto &in = *static_cast<at::Tensor *>(x);
      int64_t one[2] = {1, 1};
      auto p = at::adaptive_avg_pool2d(in, at::IntArrayRef(one, 2)).to_dense();
      return new at::Tensor(p.flatten(1));)
  return nullptr;
}

void gtl_tensor_versions(void **ts, int n, int64_t *out) {
  GTL_PROTECT(
      for (int i = 0; i < n; i++) {
        if (ts[i] == nullptr) {
          out[i] = -2;
          continue;
        }
        auto &x = *static_cast<at::Tensor *>(ts[i]);
        out[i] = x.is_inference() ? -1 : (int64_t)x._version();
      })
}

void gtl_requires_grad_all(void **ts, int n, uint8_t *out) {
  GTL_PROTECT(
      for (int i = 0; i < n; i++) {
        out[i] = static_cast<at::Tensor *>(ts[i])->requires_grad() ? 1 : 0;
      })
}

// ReLU6 in place on an MKLDNN tensor. ATen 1.13 has no oneDNN kernel for
// hardtanh; PyTorch's frozen path registers one as the JIT operator
// prim::MKLDNNHardTanh_ (frozen_ops_to_mkldnn.cpp: oneDNN eltwise clip, its
// bounds read from the node's min_val/max_val). It is built once from a
// one-node graph and called like the frozen graph calls it.
static torch::jit::Operation *gtl_relu6_op() {
  static torch::jit::Operation *op = [] {
    auto g = std::make_shared<torch::jit::Graph>();
    auto *in = g->addInput();
    in->setType(c10::TensorType::get());
    auto *n = g->create(c10::Symbol::fromQualString("prim::MKLDNNHardTanh_"), {in}, 1);
    n->output()->setType(c10::TensorType::get());
    n->f_(c10::Symbol::attr("min_val"), 0.0);
    n->f_(c10::Symbol::attr("max_val"), 6.0);
    g->insertNode(n);
    return new torch::jit::Operation(n->getOperation());
  }();
  return op;
}

void gtl_mkldnn_relu6_(void *t) {
  GTL_PROTECT(
      auto &x = *static_cast<at::Tensor *>(t);
      if (!x.is_mkldnn()) throw std::runtime_error("gtl: mkldnn relu6: not an MKLDNN tensor");
      torch::jit::Stack st;
      st.emplace_back(x);
      (*gtl_relu6_op())(st);)
}
