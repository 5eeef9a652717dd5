// Package torch is gtl's thin runtime layer over libtorch: where torch work
// runs, and the global libtorch settings that gotch does not wrap.
//
// # One pinned thread for torch work
//
// libtorch keeps grad mode (and gotch keeps its last error) per OS thread,
// while Go moves goroutines between threads at will. A goroutine that turns
// grad mode off, is moved to another thread, and turns it back on there leaves
// one thread with grad mode off for good: the next backward pass that lands on
// it fails with "element 0 of tensors does not require grad". gotch never locks
// the thread, so gtl does:
//
//   - every torch call runs inside [Do] (or [Worker.Do]), which executes the
//     function on one goroutine locked to one OS thread;
//   - [NoGrad] turns grad mode off for the length of a function and restores
//     the previous mode with defer, on that same thread.
//
// Do is re-entrant: called from inside a Do function it runs inline. One
// model belongs to one worker; a program that trains two models at once uses
// two workers.
//
//	err := torch.Do(func() error {
//		loss := ...            // forward on the pinned thread
//		if err := loss.Backward(); err != nil { return err }
//		return torch.NoGrad(func() error { return evaluate() })
//	})
//
// The package also exposes seeding ([ManualSeed]), the intra-op thread count
// ([SetNumThreads], [NumThreads]) and what the wrapper library was built
// against ([Build], [CUDADevices], [CuDNN]). It sits directly on gotch and
// below every other gtl package that touches tensors.
package torch
