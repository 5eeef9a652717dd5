package torch

// #include <stdlib.h>
// #include "gtl_dist.h"
import "C"

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/sugarme/gotch/ts"
)

// DistConfig says how one process joins a data-parallel group. The fields
// mirror the environment that torchrun, Slurm wrappers and Kubeflow's
// PyTorchJob set (see [DistFromEnv]).
type DistConfig struct {
	Addr      string        // MASTER_ADDR: host of rank 0, which serves the TCPStore
	Port      int           // MASTER_PORT
	Rank      int           // RANK: 0 ≤ Rank < World
	World     int           // WORLD_SIZE
	LocalRank int           // LOCAL_RANK: index on this machine (picks cuda:LocalRank for NCCL)
	Timeout   time.Duration // rendezvous and per-collective timeout; 0 means 5 minutes
	Backend   string        // "gloo" (CPU tensors, the default) or "nccl" (CUDA tensors)
	Iface     string        // GLOO_SOCKET_IFNAME: network interface for Gloo; "" picks one
}

// DefaultDistTimeout bounds the rendezvous and every collective when
// DistConfig.Timeout is zero. (torch.distributed's default is 30 minutes; a
// fine-tuning step never takes minutes, and a dead peer should not keep a
// job for half an hour.)
const DefaultDistTimeout = 5 * time.Minute

// DistFromEnv reads the standard torch.distributed environment: WORLD_SIZE,
// RANK, LOCAL_RANK (default RANK), MASTER_ADDR (default 127.0.0.1),
// MASTER_PORT (default 29500), GLOO_SOCKET_IFNAME. ok is false when
// WORLD_SIZE is unset (a plain single-process run). A malformed value is an
// error naming the variable.
func DistFromEnv() (cfg DistConfig, ok bool, err error) {
	ws := os.Getenv("WORLD_SIZE")
	if ws == "" {
		return cfg, false, nil
	}
	num := func(name, def string) (int, error) {
		v := os.Getenv(name)
		if v == "" {
			v = def
		}
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 0 {
			return 0, fmt.Errorf("torch: environment %s=%q: want a non-negative integer", name, v)
		}
		return n, nil
	}
	if cfg.World, err = num("WORLD_SIZE", ""); err != nil {
		return cfg, false, err
	}
	if os.Getenv("RANK") == "" {
		return cfg, false, fmt.Errorf("torch: environment WORLD_SIZE=%s is set but RANK is not", ws)
	}
	if cfg.Rank, err = num("RANK", ""); err != nil {
		return cfg, false, err
	}
	if cfg.LocalRank, err = num("LOCAL_RANK", strconv.Itoa(cfg.Rank)); err != nil {
		return cfg, false, err
	}
	if cfg.Port, err = num("MASTER_PORT", "29500"); err != nil {
		return cfg, false, err
	}
	cfg.Addr = os.Getenv("MASTER_ADDR")
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1"
	}
	cfg.Iface = os.Getenv("GLOO_SOCKET_IFNAME")
	return cfg, true, cfg.Validate()
}

// Validate checks the rank, world size and port.
func (c DistConfig) Validate() error {
	switch {
	case c.World < 1:
		return fmt.Errorf("torch: distributed: world size %d, want at least 1", c.World)
	case c.Rank < 0 || c.Rank >= c.World:
		return fmt.Errorf("torch: distributed: rank %d outside a world of %d", c.Rank, c.World)
	case c.Port < 1 || c.Port > 65535:
		return fmt.Errorf("torch: distributed: port %d out of range", c.Port)
	case c.Backend != "" && c.Backend != "gloo" && c.Backend != "nccl":
		return fmt.Errorf("torch: distributed: backend %q, want gloo or nccl", c.Backend)
	}
	return nil
}

// DistBackends lists the c10d backends compiled into the wrapper library:
// "gloo" whenever c10d's and gloo's headers were found at build time, and
// "nccl" on a CUDA build with NCCL's headers. Empty means distributed
// training is unavailable (install libgloo-dev and run make setup).
func DistBackends() []string {
	b := int(C.gtl_dist_backends())
	var out []string
	if b&1 != 0 {
		out = append(out, "gloo")
	}
	if b&2 != 0 {
		out = append(out, "nccl")
	}
	return out
}

// ReduceOp is how an allreduce combines the ranks' values.
type ReduceOp int

const (
	ReduceSum ReduceOp = iota
	ReduceAvg          // sum divided by the world size
	ReduceMax
	ReduceMin
)

// DefaultBucketBytes is the flattened buffer size for gradient allreduce:
// DDP's bucket_cap_mb default, 25 MiB.
const DefaultBucketBytes = 25 << 20

// Group is one process's membership of a c10d process group (Gloo or NCCL
// over a TCPStore rendezvous). All ranks must call the collectives in the
// same order with tensors of the same shapes. Every method runs on the
// process-wide torch worker. Close it when done.
type Group struct {
	h    unsafe.Pointer
	cfg  DistConfig
	hbuf []unsafe.Pointer // AverageGrads' handles, reused
}

// NewGroup joins the group cfg describes: rank 0 starts the TCPStore on
// cfg.Addr:cfg.Port and every rank waits up to cfg.Timeout for all World
// ranks to arrive. Errors (port in use, a peer that never comes, c10d
// missing from the build) name the rank and the address.
func NewGroup(cfg DistConfig) (*Group, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultDistTimeout
	}
	if cfg.Backend == "" {
		cfg.Backend = "gloo"
	}
	g := &Group{cfg: cfg}
	err := Do(func() error {
		addr := C.CString(cfg.Addr)
		defer C.free(unsafe.Pointer(addr))
		iface := C.CString(cfg.Iface)
		defer C.free(unsafe.Pointer(iface))
		backend := C.int(0)
		if cfg.Backend == "nccl" {
			backend = 1
		}
		g.h = C.gtl_dist_new(backend, addr, C.int(cfg.Port), C.int(cfg.Rank), C.int(cfg.World),
			C.int64_t(cfg.Timeout.Milliseconds()), iface, C.int(cfg.LocalRank))
		if g.h == nil {
			what := "join the group"
			if cfg.Rank == 0 {
				what = "start the store and wait for the other ranks"
			}
			return g.wrap(what, lastError())
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return g, nil
}

// Rank returns this process's rank.
func (g *Group) Rank() int { return g.cfg.Rank }

// World returns the number of ranks.
func (g *Group) World() int { return g.cfg.World }

// Config returns the configuration the group was created with (defaults
// filled in).
func (g *Group) Config() DistConfig { return g.cfg }

// wrap names the rank, the world and the rendezvous address in a c10d
// error; with two ranks the peer at fault can only be the other one.
func (g *Group) wrap(what string, err error) error {
	if err == nil {
		err = fmt.Errorf("unknown error")
	}
	peer := "a peer rank"
	if g.cfg.World == 2 {
		peer = fmt.Sprintf("peer rank %d", 1-g.cfg.Rank)
	}
	msg := strings.TrimSpace(err.Error())
	hint := ""
	low := strings.ToLower(msg)
	switch {
	case strings.Contains(low, "address already in use"):
		hint = fmt.Sprintf(": port %d is in use (pick another MASTER_PORT)", g.cfg.Port)
	case strings.Contains(low, "closed") || strings.Contains(low, "reset by peer") ||
		strings.Contains(low, "broken pipe") || strings.Contains(low, "connection refused"):
		hint = ": " + peer + " is gone"
	case strings.Contains(low, "timed out") || strings.Contains(low, "timeout"):
		hint = fmt.Sprintf(": %s did not answer within %s", peer, g.cfg.Timeout)
	}
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i] // libtorch appends a C++ backtrace
	}
	return fmt.Errorf("torch: distributed rank %d of %d (master %s:%d): %s%s: %s",
		g.cfg.Rank, g.cfg.World, g.cfg.Addr, g.cfg.Port, what, hint, msg)
}

func handles(tensors []*ts.Tensor) []unsafe.Pointer {
	hs := make([]unsafe.Pointer, len(tensors))
	for i, t := range tensors {
		hs[i] = t.Ctensor()
	}
	return hs
}

func (g *Group) call(what string, f func() C.int) error {
	if g == nil || g.h == nil {
		return fmt.Errorf("torch: distributed: %s on a closed group", what)
	}
	return Do(func() error {
		if f() != 0 {
			return g.wrap(what, lastError())
		}
		return nil
	})
}

// AllReduce combines the tensors across ranks in place: they are flattened
// into buckets of at most bucketBytes (0: one bucket), one allreduce per
// bucket (one bucket set per dtype and device).
func (g *Group) AllReduce(tensors []*ts.Tensor, op ReduceOp, bucketBytes int64) error {
	if len(tensors) == 0 {
		return nil
	}
	hs := handles(tensors)
	return g.call("allreduce", func() C.int {
		return C.gtl_dist_allreduce(g.h, &hs[0], C.int(len(hs)), C.int(op), C.int64_t(bucketBytes))
	})
}

// AverageGrads replaces the gradients of params by their mean over the
// ranks, bucketed as DDP does (DefaultBucketBytes). A parameter without a
// gradient counts as zeros and gets one, so every rank steps the same.
func (g *Group) AverageGrads(params []*ts.Tensor) error {
	if len(params) == 0 {
		return nil
	}
	// The handle slice is the group's own, reused from call to call
	// (collectives run one at a time, on the worker).
	return g.call("allreduce gradients", func() C.int {
		g.hbuf = g.hbuf[:0]
		for _, t := range params {
			g.hbuf = append(g.hbuf, t.Ctensor())
		}
		return C.gtl_dist_allreduce_grads(g.h, &g.hbuf[0], C.int(len(g.hbuf)), C.int(ReduceAvg), DefaultBucketBytes)
	})
}

// AllReduceFloat64 combines vals across ranks in place (metrics, counts).
func (g *Group) AllReduceFloat64(vals []float64, op ReduceOp) error {
	if len(vals) == 0 {
		return nil
	}
	return g.call("allreduce values", func() C.int {
		return C.gtl_dist_allreduce_f64(g.h, (*C.double)(unsafe.Pointer(&vals[0])), C.int(len(vals)), C.int(op))
	})
}

// Broadcast copies rank root's values of the tensors into every rank's, in
// place without autograd (parameters keep their identity in optimisers).
func (g *Group) Broadcast(tensors []*ts.Tensor, root int) error {
	if len(tensors) == 0 {
		return nil
	}
	hs := handles(tensors)
	return g.call(fmt.Sprintf("broadcast from rank %d", root), func() C.int {
		return C.gtl_dist_broadcast(g.h, &hs[0], C.int(len(hs)), C.int(root), DefaultBucketBytes)
	})
}

// Barrier blocks until every rank has reached it, or the timeout passes.
func (g *Group) Barrier() error {
	return g.call("barrier", func() C.int { return C.gtl_dist_barrier(g.h) })
}

// Close leaves the group; rank 0 stops the store. Safe to call twice.
func (g *Group) Close() error {
	if g == nil || g.h == nil {
		return nil
	}
	return Do(func() error {
		C.gtl_dist_free(g.h)
		g.h = nil
		return nil
	})
}
