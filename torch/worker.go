package torch

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"syscall"
)

// Worker runs functions on a single goroutine that is locked to a single OS
// thread for the worker's whole life, so libtorch's thread-local state (grad
// mode, the last error) stays consistent between calls. The zero value is not
// usable; create one with [NewWorker].
type Worker struct {
	jobs   chan job
	tid    atomic.Int64 // OS thread id of the worker goroutine
	closed chan struct{}
	once   sync.Once
}

type job struct {
	fn   func() error
	done chan error
}

// NewWorker starts a worker goroutine and locks it to its OS thread.
// Call Close when the worker is no longer needed.
func NewWorker() *Worker {
	w := &Worker{jobs: make(chan job), closed: make(chan struct{})}
	ready := make(chan struct{})
	go w.loop(ready)
	<-ready
	return w
}

func (w *Worker) loop(ready chan<- struct{}) {
	// Never unlocked: when the goroutine exits, Go ends the thread with it,
	// so no other goroutine inherits thread-local torch state.
	runtime.LockOSThread()
	w.tid.Store(int64(syscall.Gettid()))
	if n := threads.Load(); n > 0 {
		_ = setNumThreads(int(n)) // validated by SetNumThreads
	}
	close(ready)
	for {
		select {
		case j := <-w.jobs:
			j.done <- run(j.fn)
		case <-w.closed:
			return
		}
	}
}

// run calls fn and turns a panic (gotch panics in some forward passes) into
// an error, so one bad call cannot take the worker down.
func run(fn func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("torch: panic: %v\n%s", r, debug.Stack())
		}
	}()
	return fn()
}

// OnThread reports whether the caller is running on the worker's thread,
// that is, inside one of its Do calls.
func (w *Worker) OnThread() bool {
	return int64(syscall.Gettid()) == w.tid.Load()
}

// Do runs fn on the worker's thread and returns its error. Called from inside
// fn (on the worker's thread) it runs the nested function inline. A panic in
// fn is returned as an error. Do on a closed worker returns an error.
func (w *Worker) Do(fn func() error) error {
	if w.OnThread() {
		return run(fn)
	}
	j := job{fn: fn, done: make(chan error, 1)}
	select {
	case w.jobs <- j:
		return <-j.done
	case <-w.closed:
		return fmt.Errorf("torch: worker is closed")
	}
}

// Close stops the worker once the function it is running returns. It is
// safe to call more than once.
func (w *Worker) Close() {
	w.once.Do(func() { close(w.closed) })
}

var defaultWorker = sync.OnceValue(NewWorker)

// Default returns the process-wide worker used by [Do] and [NoGrad].
func Default() *Worker { return defaultWorker() }

// Do runs fn on the process-wide torch worker; see [Worker.Do].
func Do(fn func() error) error { return Default().Do(fn) }

// NoGrad runs fn on the process-wide worker with libtorch's grad mode off and
// restores the mode that was in force before, also when fn fails or panics.
func NoGrad(fn func() error) error { return Default().NoGrad(fn) }

// NoGrad runs fn on the worker's thread with grad mode off, then restores the
// previous grad mode (not simply "on").
func (w *Worker) NoGrad(fn func() error) error {
	return w.Do(func() error { return WithoutGrad(fn) })
}

// WithoutGrad runs fn with grad mode off on the calling OS thread and then
// restores the previous mode. Call it only from inside Do (on a worker's
// pinned thread), where the thread cannot change under fn.
func WithoutGrad(fn func() error) error {
	prev := setGradEnabled(false)
	defer setGradEnabled(prev)
	return fn()
}

// GradEnabled reports the grad mode of the calling OS thread. Inside Do it is
// the worker's grad mode.
func GradEnabled() bool { return gradEnabled() }
