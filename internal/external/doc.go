// Package external holds TestExternalModule, which builds a program in a
// fresh Go module outside gtl's tree that depends on gtl, following the
// README's "Use gtl from Go" steps. It has no code of its own.
package external
