package main

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
)

// interrupt turns the first stop signal — Ctrl-C (SIGINT), or SIGTERM and
// SIGHUP, which Slurm, Kubernetes, docker stop and a closed terminal send —
// into a request to stop after the current epoch (which then saves a
// resumable state); a second one ends the process as the signal does by
// default.
type interrupt struct {
	flag atomic.Bool
	sig  atomic.Int32 // the signal received
	ch   chan os.Signal
}

// stopSignals are the signals that request a clean stop.
var stopSignals = []os.Signal{os.Interrupt, syscall.SIGTERM, syscall.SIGHUP}

func stopOnInterrupt(w io.Writer) *interrupt {
	in := &interrupt{ch: make(chan os.Signal, 1)}
	signal.Notify(in.ch, stopSignals...)
	go func() {
		if s, ok := <-in.ch; ok {
			if n, ok := s.(syscall.Signal); ok {
				in.sig.Store(int32(n))
			}
			in.flag.Store(true)
			fmt.Fprintf(w, "\n%s: stopping after this epoch (the same signal again quits now)\n", signalName(s))
			signal.Stop(in.ch)
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
}
