package main

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync/atomic"
)

// interrupt turns the first Ctrl-C into a request to stop after the current
// epoch (which then saves a resumable state); a second one ends the process
// as usual.
type interrupt struct {
	flag atomic.Bool
	ch   chan os.Signal
}

func stopOnInterrupt(w io.Writer) *interrupt {
	in := &interrupt{ch: make(chan os.Signal, 1)}
	signal.Notify(in.ch, os.Interrupt)
	go func() {
		if _, ok := <-in.ch; ok {
			in.flag.Store(true)
			fmt.Fprintln(w, "\ninterrupt: stopping after this epoch (Ctrl-C again to quit now)")
			signal.Stop(in.ch)
		}
	}()
	return in
}

func (in *interrupt) requested() bool { return in.flag.Load() }

func (in *interrupt) release() {
	signal.Stop(in.ch)
	close(in.ch)
}
