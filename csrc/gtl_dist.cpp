// gtl_dist.cpp: implementation of gtl_dist.h. See that file.
#include "gtl_dist.h"
#include "torch_api.h"

#include <cstring>
#include <string>
#include <vector>

// c10d's headers come with libtorch, but ProcessGroupGloo.hpp includes
// gloo's own headers, which Debian ships separately (libgloo-dev), and a
// libtorch zip may lack both. Without them gtl still builds; distributed
// training then reports that it is unavailable.
#if __has_include(<torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>) && __has_include(<gloo/config.h>) && __has_include(<torch/csrc/distributed/c10d/TCPStore.hpp>)
#define USE_C10D_GLOO 1
#define GTL_WITH_GLOO 1
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#endif
#if defined(GTL_WITH_GLOO) && defined(GTL_WITH_CUDA) && __has_include(<nccl.h>) && __has_include(<torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>)
#define USE_C10D_NCCL 1
#define GTL_WITH_NCCL 1
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

static void set_err(const std::string &msg) {
  if (torch_last_err != nullptr)
    free(torch_last_err);
  torch_last_err = strdup(msg.c_str());
}

#define GTL_TRY(x)                                                             \
  try {                                                                        \
    x                                                                          \
  } catch (const std::exception &e) {                                          \
    set_err(e.what());                                                         \
  } catch (...) {                                                              \
    set_err("unknown C++ exception");                                          \
  }

#ifdef GTL_WITH_GLOO
namespace {

struct Group {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> gloo;
#ifdef GTL_WITH_NCCL
  c10::intrusive_ptr<c10d::ProcessGroupNCCL> nccl;
#endif
  int world = 1;
  int device = -1; // CUDA index for NCCL
  // The flat buffers of gradient allreduces, one per bucket, reused from
  // step to step while the buckets keep their size, type and device.
  std::vector<torch::Tensor> grad_flat;
};

Group *group(void *g) {
  if (g == nullptr)
    throw std::runtime_error("no process group (it was freed or never created)");
  return static_cast<Group *>(g);
}

// wait runs one collective on whichever backend the group has and waits
// for it; a failure (peer gone, timeout) surfaces as an exception.
template <class F> void wait(Group *g, F f) {
  c10::intrusive_ptr<c10d::Work> w;
#ifdef GTL_WITH_NCCL
  if (g->nccl)
    w = f(*g->nccl);
  else
#endif
    w = f(*g->gloo);
  w->wait();
}

c10d::ReduceOp reduce_op(int op) {
  switch (op) {
  case 0:
  case 1:
    return c10d::ReduceOp::SUM;
  case 2:
    return c10d::ReduceOp::MAX;
  case 3:
    return c10d::ReduceOp::MIN;
  }
  throw std::runtime_error("unknown reduce op " + std::to_string(op));
}

// buckets splits tensors (in order) into runs whose total size is at most
// limit bytes (a tensor larger than limit is a bucket of its own), as DDP's
// bucket_cap_mb does.
std::vector<std::vector<torch::Tensor>> buckets(const std::vector<torch::Tensor> &ts, int64_t limit) {
  std::vector<std::vector<torch::Tensor>> out;
  int64_t size = 0;
  for (const auto &t : ts) {
    int64_t b = t.numel() * t.element_size();
    if (out.empty() || (limit > 0 && size + b > limit && !out.back().empty())) {
      out.emplace_back();
      size = 0;
    }
    out.back().push_back(t);
    size += b;
  }
  return out;
}

// flat_apply flattens each bucket into one contiguous buffer, runs f on it
// and copies the result back into the bucket's tensors. With cache, the
// buffers are kept there from call to call (slot k for the k-th bucket
// across all calls) and reused when they fit.
template <class F>
void flat_apply(const std::vector<torch::Tensor> &ts, int64_t limit, F f,
                std::vector<torch::Tensor> *cache = nullptr, size_t *slot = nullptr) {
  torch::NoGradGuard no_grad;
  for (auto &b : buckets(ts, limit)) {
    std::vector<torch::Tensor> flat;
    flat.reserve(b.size());
    int64_t total = 0;
    for (auto &t : b) {
      flat.push_back(t.reshape({-1}));
      total += t.numel();
    }
    torch::Tensor buf;
    if (cache != nullptr) {
      size_t k = (*slot)++;
      if (k < cache->size() && (*cache)[k].numel() == total &&
          (*cache)[k].scalar_type() == b[0].scalar_type() && (*cache)[k].device() == b[0].device()) {
        buf = (*cache)[k];
        torch::cat_out(buf, flat);
      } else {
        buf = torch::cat(flat);
        if (k < cache->size())
          (*cache)[k] = buf;
        else
          cache->push_back(buf);
      }
    } else {
      buf = torch::cat(flat);
    }
    f(buf);
    int64_t off = 0;
    for (auto &t : b) {
      int64_t n = t.numel();
      t.copy_(buf.narrow(0, off, n).view(t.sizes()));
      off += n;
    }
  }
}

// by_kind splits tensors into runs of one dtype and device (a model's
// float parameters and int64 batch-norm counters), in first-seen order, so
// every rank issues the same collectives.
std::vector<std::vector<torch::Tensor>> by_kind(const std::vector<torch::Tensor> &ts) {
  std::vector<std::vector<torch::Tensor>> out;
  for (const auto &t : ts) {
    bool placed = false;
    for (auto &k : out) {
      if (k[0].scalar_type() == t.scalar_type() && k[0].device() == t.device()) {
        k.push_back(t);
        placed = true;
        break;
      }
    }
    if (!placed)
      out.push_back({t});
  }
  return out;
}

void allreduce(Group *g, const std::vector<torch::Tensor> &ts, int op, int64_t limit,
               std::vector<torch::Tensor> *cache = nullptr) {
  c10d::AllreduceOptions opts;
  opts.reduceOp = reduce_op(op);
  size_t slot = 0;
  for (auto &kind : by_kind(ts)) {
    flat_apply(kind, limit, [&](torch::Tensor &buf) {
      std::vector<torch::Tensor> v{buf};
      wait(g, [&](auto &pg) { return pg.allreduce(v, opts); });
      if (op == 1)
        buf.div_(g->world);
    }, cache, &slot);
  }
}

std::vector<torch::Tensor> handles(void **ts, int n) {
  std::vector<torch::Tensor> out;
  out.reserve(n);
  for (int i = 0; i < n; i++)
    out.push_back(*static_cast<torch::Tensor *>(ts[i]));
  return out;
}

bool is_loopback(const std::string &a) {
  return a == "localhost" || a.rfind("127.", 0) == 0 || a == "::1";
}

} // namespace
#endif

extern "C" {

int gtl_dist_backends(void) {
  int b = 0;
#ifdef GTL_WITH_GLOO
  b |= 1;
#endif
#ifdef GTL_WITH_NCCL
  b |= 2;
#endif
  return b;
}

void *gtl_dist_new(int backend, const char *addr, int port, int rank, int world,
                   int64_t timeout_ms, const char *iface, int device) {
#ifndef GTL_WITH_GLOO
  set_err("gtl was built without c10d (no torch/csrc/distributed/c10d or gloo headers; on Debian install libgloo-dev and run make setup)");
  return nullptr;
#else
  Group *g = nullptr;
  GTL_TRY(
    if (world < 1 || rank < 0 || rank >= world)
      throw std::runtime_error("rank " + std::to_string(rank) + " outside a world of " + std::to_string(world));
    if (port <= 0 || port > 65535)
      throw std::runtime_error("port " + std::to_string(port) + " out of range");
    auto timeout = std::chrono::milliseconds(timeout_ms);
    c10d::TCPStoreOptions so;
    so.port = static_cast<std::uint16_t>(port);
    so.isServer = rank == 0;
    so.numWorkers = static_cast<std::size_t>(world);
    so.waitWorkers = true;
    so.timeout = timeout;
    std::unique_ptr<Group> ng(new Group);
    ng->world = world;
    ng->store = c10::make_intrusive<c10d::TCPStore>(std::string(addr), so);
    if (backend == 1) {
#ifdef GTL_WITH_NCCL
      ng->device = device;
      auto o = c10d::ProcessGroupNCCL::Options::create();
      o->timeout = timeout;
      ng->nccl = c10::make_intrusive<c10d::ProcessGroupNCCL>(ng->store, rank, world, o);
#else
      throw std::runtime_error("NCCL is not available: gtl was built against a CPU libtorch or without NCCL headers (nccl.h)");
#endif
    } else {
      auto o = c10d::ProcessGroupGloo::Options::create(timeout);
      std::string ifn = iface ? iface : "";
      std::string a = addr;
      if (!ifn.empty())
        o->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(ifn));
      else if (is_loopback(a))
        o->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
      else
        o->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
      ng->gloo = c10::make_intrusive<c10d::ProcessGroupGloo>(ng->store, rank, world, o);
    }
    g = ng.release();
  )
  return g;
#endif
}

int gtl_dist_allreduce(void *g, void **tensors, int n, int op, int64_t bucket_bytes) {
#ifdef GTL_WITH_GLOO
  GTL_TRY(allreduce(group(g), handles(tensors, n), op, bucket_bytes); return 0;)
#else
  set_err("gtl was built without c10d");
#endif
  return -1;
}

int gtl_dist_allreduce_grads(void *g, void **params, int n, int op, int64_t bucket_bytes) {
#ifdef GTL_WITH_GLOO
  GTL_TRY(
    std::vector<torch::Tensor> grads;
    grads.reserve(n);
    for (auto &p : handles(params, n)) {
      if (!p.grad().defined())
        p.mutable_grad() = torch::zeros_like(p);
      grads.push_back(p.grad());
    }
    Group *gr = group(g);
    allreduce(gr, grads, op, bucket_bytes, &gr->grad_flat);
    return 0;
  )
#else
  set_err("gtl was built without c10d");
#endif
  return -1;
}

int gtl_dist_allreduce_f64(void *g, double *vals, int n, int op) {
#ifdef GTL_WITH_GLOO
  GTL_TRY(
    Group *gr = group(g);
    torch::Tensor t = torch::from_blob(vals, {n}, torch::kFloat64).clone();
#ifdef GTL_WITH_NCCL
    if (gr->nccl)
      t = t.to(torch::Device(torch::kCUDA, gr->device));
#endif
    allreduce(gr, {t}, op, 0);
    t = t.cpu();
    std::memcpy(vals, t.data_ptr<double>(), sizeof(double) * n);
    return 0;
  )
#else
  set_err("gtl was built without c10d");
#endif
  return -1;
}

int gtl_dist_broadcast(void *g, void **tensors, int n, int root, int64_t bucket_bytes) {
#ifdef GTL_WITH_GLOO
  GTL_TRY(
    Group *gr = group(g);
    auto ts = handles(tensors, n);
    c10d::BroadcastOptions opts;
    opts.rootRank = root;
    for (auto &kind : by_kind(ts)) {
      flat_apply(kind, bucket_bytes, [&](torch::Tensor &buf) {
        std::vector<torch::Tensor> v{buf};
        wait(gr, [&](auto &pg) { return pg.broadcast(v, opts); });
      });
    }
    return 0;
  )
#else
  set_err("gtl was built without c10d");
#endif
  return -1;
}

int gtl_dist_barrier(void *g) {
#ifdef GTL_WITH_GLOO
  GTL_TRY(
    c10d::BarrierOptions opts;
    wait(group(g), [&](auto &pg) { return pg.barrier(opts); });
    return 0;
  )
#else
  set_err("gtl was built without c10d");
#endif
  return -1;
}

void gtl_dist_free(void *g) {
#ifdef GTL_WITH_GLOO
  GTL_TRY(delete static_cast<Group *>(g);)
#endif
}

} // extern "C"
