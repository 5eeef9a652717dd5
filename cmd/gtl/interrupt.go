package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
)

// interrupt turns the first stop signal — Ctrl-C (SIGINT), or SIGTERM and
// SIGHUP, which Slurm, Kubernetes, docker stop and a closed terminal send —
// into a request to stop at the next step boundary: ctx is cancelled, and
// the training loop commits a resumable state there (atomically: every
// file gtl writes goes to a temporary name first). A second one ends the
// process at once, as the signal does by default; what was committed
// stays intact.
type interrupt struct {
	flag   atomic.Bool
	sig    atomic.Int32 // the signal received
	ch     chan os.Signal
	ctx    context.Context
	cancel context.CancelFunc
}

// stopSignals are the signals that request a clean stop.
var stopSignals = []os.Signal{os.Interrupt, syscall.SIGTERM, syscall.SIGHUP}

// stopOnInterrupt starts listening; ctx (derived from parent) ends at the
// first stop signal, which is reported on w as stopping after `at` (this
// step; a data-parallel rank: this epoch).
func stopOnInterrupt(parent context.Context, w io.Writer, at string) *interrupt {
	if parent == nil {
		parent = context.Background()
	}
	in := &interrupt{ch: make(chan os.Signal, 1)}
	in.ctx, in.cancel = context.WithCancel(parent)
	signal.Notify(in.ch, stopSignals...)
	go func() {
		if s, ok := <-in.ch; ok {
			if n, ok := s.(syscall.Signal); ok {
				in.sig.Store(int32(n))
			}
			in.flag.Store(true)
			signal.Stop(in.ch) // the next one takes the default action: the process ends
			in.cancel()
			fmt.Fprintf(w, "\n%s: stopping after %s (the same signal again quits now)\n", signalName(s), at)
		}
	}()
	return in
}

// signalName is a signal as people write it: interrupt (Ctrl-C), SIGTERM.
func signalName(s os.Signal) string {
	switch s {
	case os.Interrupt:
		return "interrupt"
	case syscall.SIGTERM:
		return "SIGTERM"
	case syscall.SIGHUP:
		return "SIGHUP"
	}
	return s.String()
}

func (in *interrupt) requested() bool { return in.flag.Load() }

// exitCode is the status of a process stopped by the signal: 128 + its
// number, as a shell reports it (130 for Ctrl-C, 143 for SIGTERM).
func (in *interrupt) exitCode() int {
	if n := in.sig.Load(); n > 0 {
		return 128 + int(n)
	}
	return 130
}

func (in *interrupt) release() {
	signal.Stop(in.ch)
	close(in.ch)
	in.cancel()
}
