/* gtl_dist.h: process groups for data-parallel training (PyTorch's c10d).
 *
 * A thin C layer over libtorch's own c10d engine: a TCPStore rendezvous and
 * ProcessGroupGloo (CPU tensors), or ProcessGroupNCCL (CUDA tensors) when the
 * library was built against a CUDA libtorch with NCCL headers. Nothing here
 * reimplements a collective.
 *
 * Every function catches C++ exceptions: on failure it records the message
 * in the wrapper's thread-local error slot (read it with
 * get_and_reset_last_err() on the same thread) and returns NULL / -1. */
#ifndef GTL_DIST_H
#define GTL_DIST_H
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Whether the library was compiled with c10d's headers: bit 0 Gloo,
 * bit 1 NCCL. 0 means distributed training is unavailable (the build found
 * no torch/csrc/distributed/c10d or gloo headers; Debian: libgloo-dev). */
int gtl_dist_backends(void);

/* Joins a group of world ranks as rank. Rank 0 serves the TCPStore on
 * addr:port (port in use is an error); the others connect to it. All wait
 * up to timeout_ms for every rank to arrive; the same timeout bounds every
 * later collective. backend: 0 Gloo, 1 NCCL (device: the CUDA index).
 * iface: a network interface for Gloo's connections ("" picks the one that
 * reaches addr: loopback for 127.x/localhost, else the host's own name).
 * Returns a handle for gtl_dist_free, or NULL. */
void *gtl_dist_new(int backend, const char *addr, int port, int rank, int world,
                   int64_t timeout_ms, const char *iface, int device);

/* Reduces the n tensors (handles, torch::Tensor*) in place across ranks:
 * they are flattened into buckets of at most bucket_bytes (0: one bucket),
 * each bucket allreduced with one call, and copied back. op: 0 sum,
 * 1 average (sum / world). Tensors of different dtypes or devices go in
 * separate buckets. */
int gtl_dist_allreduce(void *g, void **tensors, int n, int op, int64_t bucket_bytes);

/* As gtl_dist_allreduce, but on the gradients of the n parameters: an
 * undefined gradient counts as zeros and is defined after the call, so
 * every rank's optimiser sees the same gradients. */
int gtl_dist_allreduce_grads(void *g, void **params, int n, int op, int64_t bucket_bytes);

/* Reduces n doubles in place (op as above; 2 max, 3 min). */
int gtl_dist_allreduce_f64(void *g, double *vals, int n, int op);

/* Copies root's values of the n tensors into every rank's, in place and
 * without autograd (parameters keep their identity), bucketed as above. */
int gtl_dist_broadcast(void *g, void **tensors, int n, int root, int64_t bucket_bytes);

/* Blocks until every rank has called it (or the timeout passes). */
int gtl_dist_barrier(void *g);

/* Leaves the group and frees it (rank 0 also stops the store). */
void gtl_dist_free(void *g);

#ifdef __cplusplus
}
#endif
#endif
