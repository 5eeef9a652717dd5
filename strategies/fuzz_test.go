package strategies

import (
	"testing"

	"github.com/gtl-dev/gtl/internal/fuzzcount"
)

// FuzzParseShots: --shots never panics and accepts only positive counts
// or all.
func FuzzParseShots(f *testing.F) {
	for _, s := range []string{"5,20,100,all", "all", "0", "-3", "5,,5", " 7 ", "99999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		fuzzcount.Hit("FuzzParseShots")
		got, err := ParseShots(s)
		if err != nil {
			return
		}
		for _, n := range got {
			if n < 1 && n != All {
				t.Fatalf("%q: shots %d", s, n)
			}
		}
	})
}

// FuzzParseList: --strategies never panics; what it accepts round-trips
// through Parse and holds no name twice.
func FuzzParseList(f *testing.F) {
	for _, s := range []string{"linear,full", "scratch,linear,freeze-2,full,gradual", "freeze-0", "freeze--1", "full,full", "", "freeze-99999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		fuzzcount.Hit("FuzzParseList")
		got, err := ParseList(s)
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, st := range got {
			if seen[st.Name] {
				t.Fatalf("%q: %s twice", s, st.Name)
			}
			seen[st.Name] = true
			if again, err := Parse(st.Name); err != nil || again != st {
				t.Fatalf("%q: %+v does not round-trip (%+v, %v)", s, st, again, err)
			}
		}
	})
}
