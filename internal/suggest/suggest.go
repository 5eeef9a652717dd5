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

// Closest returns up to n of candidates nearest to word, nearest first
// (ties in the candidates' order), leaving out any farther than maxDist
// edits (maxDist < 0: none is too far). A candidate that starts with word
// ("epoch" for "epochs") counts as one edit away, so that a truncated name
// finds its whole.
func Closest(word string, candidates []string, n, maxDist int) []string {
	type scored struct {
		name string
		dist int
		pos  int
	}
	var s []scored
	seen := map[string]bool{}
	for i, c := range candidates {
		if seen[c] || c == "" {
			continue
		}
		seen[c] = true
		d := Distance(word, c)
		if len(word) >= 3 && strings.HasPrefix(strings.ToLower(c), strings.ToLower(word)) {
			d = min(d, 1)
		}
		if maxDist >= 0 && d > maxDist {
			continue
		}
		s = append(s, scored{c, d, i})
	}
	sort.SliceStable(s, func(i, j int) bool { return s[i].dist < s[j].dist })
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
