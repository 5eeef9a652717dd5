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
#include <cstring>
#include <exception>

// The wrapper's error slot (defined in torch_api.cpp).
extern thread_local char *torch_last_err;

#define GTL_PROTECT(...)                                                       \
  try {                                                                        \
    __VA_ARGS__                                                                \
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
