// Package suggest finds the names closest to a mistyped one, for the
// "did you mean" hints of gtl's messages (flags, architectures, data sets).
//
//	suggest.Closest("epoch", []string{"epochs", "batch", "lr"}, 1, 2) // ["epochs"]
//
// It is pure Go and imports nothing of gtl, so that cmd/gtl and the
// libraries can share it.
package suggest

import (
	"sort"
	"strings"
)

// Distance is the optimal-string-alignment edit distance between a and b,
// compared case-insensitively: the insertions, deletions, substitutions and
// swaps of two neighbouring characters that turn one into the other
// ("epcohs" is one swap from "epochs").
func Distance(a, b string) int {
	x, y := []rune(strings.ToLower(a)), []rune(strings.ToLower(b))
	// d[i][j]: distance between x[:i] and y[:j].
	d := make([][]int, len(x)+1)
	for i := range d {
		d[i] = make([]int, len(y)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(x); i++ {
		for j := 1; j <= len(y); j++ {
			cost := 1
			if x[i-1] == y[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && x[i-1] == y[j-2] && x[i-2] == y[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(x)][len(y)]
}

// Closest returns up to n of candidates nearest to word, nearest first,
// leaving out any farther than maxDist edits (maxDist < 0: none is too
// far). A candidate that starts with word ("epochs" for "epoch") counts as
// one edit away, so that a truncated name finds its whole; among equally
// near ones, those that start with word come first, the shortest first,
// then the rest in the candidates' order.
func Closest(word string, candidates []string, n, maxDist int) []string {
	type scored struct {
		name   string
		dist   int
		prefix int // 0 for a candidate that starts with word, else 1
		extra  int // letters a prefix candidate adds to word
	}
	var s []scored
	seen := map[string]bool{}
	for _, c := range candidates {
		if seen[c] || c == "" {
			continue
		}
		seen[c] = true
		sc := scored{name: c, dist: Distance(word, c), prefix: 1}
		if len(word) >= 3 && strings.HasPrefix(strings.ToLower(c), strings.ToLower(word)) {
			sc.dist, sc.prefix, sc.extra = min(sc.dist, 1), 0, len(c)-len(word)
		}
		if maxDist >= 0 && sc.dist > maxDist {
			continue
		}
		s = append(s, sc)
	}
	sort.SliceStable(s, func(i, j int) bool {
		a, b := s[i], s[j]
		if a.dist != b.dist {
			return a.dist < b.dist
		}
		if a.prefix != b.prefix {
			return a.prefix < b.prefix
		}
		return a.extra < b.extra
	})
	out := make([]string, 0, min(n, len(s)))
	for _, c := range s[:min(n, len(s))] {
		out = append(out, c.name)
	}
	return out
}

// TypoDistance is how many edits a name of this length may be from the
// intended one and still be suggested: a third of its length, at least
// one, at most three.
func TypoDistance(word string) int {
	return min(3, max(1, len([]rune(word))/3))
}
