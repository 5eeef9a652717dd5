// Command stubops disables the generated libtorch wrapper functions that the
// installed libtorch cannot compile.
//
// gotch's C++ wrapper (torch_api_generated.cpp.h) was generated for one
// libtorch release; an older or newer libtorch lacks some of its ops or
// changed their signatures. scripts/setup.sh compiles the wrapper, feeds the
// compiler's diagnostics to stubops, and compiles again. stubops maps every
// error (including errors inside templates instantiated from a generated
// function) to the generated function it comes from and replaces exactly
// that function's body with one that raises a libtorch error naming the op
// and the libtorch version, so the op fails at run time through gotch's usual
// error path instead of failing the build. No list of ops is kept by hand.
//
// Usage:
//
//	g++ -fsyntax-only ... 2> errors.txt
//	stubops -gen torch_api_generated.cpp.h -errors errors.txt -version 1.13.0 -list disabled.txt
//
// It exits 0 after disabling at least one function, 3 when an error cannot
// be traced to a generated function (the hand-written part of the wrapper does
// not compile: that libtorch's API is too different), and 2 on bad usage.
package main
