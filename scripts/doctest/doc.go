// Package doctest checks the README's and docs/'s command blocks against
// the current binary (TestDocs): every gtl command shown must exist and
// every --flag it shows must be one of that command's flags (or a global
// one), and the blocks marked with a doctest comment run, in order, in a
// temporary folder. It is a package of its own so that go test runs it
// beside the other packages; it holds no code.
//
// A block runs when the line before its opening fence is a comment
//
//	<!-- doctest
//	setup: SHELL COMMAND          (run once, before the file's first block)
//	weights: ARCH                 (torchvision-initialised ARCH weights, saved by
//	                               PyTorch, in $GTL_HOME's cache as --pretrained
//	                               expects them: no network)
//	small CMD: FLAGS              (appended to every gtl CMD line of the file,
//	                               so that it runs at a small size)
//	-->
//
// (every line optional; a bare <!-- doctest --> runs the block as it is).
// The blocks of one file share their folder, so a later block sees what an
// earlier one wrote. A run block fails the test when any command in it
// exits non-zero.
package doctest
