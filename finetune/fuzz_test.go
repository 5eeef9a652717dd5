package finetune

import (
	"testing"

	"github.com/gtl-dev/gtl/internal/fuzzcount"
)

// FuzzFlagLists: --unfreeze-at and --freeze (Train.UnfreezeAt and
// Train.Freeze) never panic, and accept only epochs before the last one
// and stage counts below the model's.
func FuzzFlagLists(f *testing.F) {
	for _, s := range []string{"1,2", "0", "9", "1,,2", " 3", "all", "-1", "99999999999999999999"} {
		f.Add(s, 5)
	}
	f.Fuzz(func(t *testing.T, s string, n int) {
		fuzzcount.Hit("FuzzFlagLists")
		n = n & 0xff
		if es, err := ParseEpochs(s); err == nil {
			if epochs, err := (TrainSpec{UnfreezeAt: es, Epochs: n}).unfreezeEpochs(); err == nil {
				for e := range epochs {
					if e < 1 || e >= n {
						t.Fatalf("--unfreeze-at %q with %d epochs: %d", s, n, e)
					}
				}
			}
		}
		if k, all, err := (TrainSpec{Freeze: s}).freezing(n); err == nil && n > 0 && (k < 0 || k >= n || (all && s != "all")) {
			t.Fatalf("--freeze %q with %d stages: %d %v", s, n, k, all)
		}
	})
}
