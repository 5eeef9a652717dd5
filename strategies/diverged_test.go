package strategies

import (
	"math"
	"testing"
)

// TestDivergedRunsLeftOut: a diverged run is kept (so --resume does not
// redo it) but its empty outcome does not pull the summaries down.
func TestDivergedRunsLeftOut(t *testing.T) {
	r := &Results{Grid: testGrid()}
	r.Add(Record{Cell: Cell{"scratch", 5, 1}, Outcome: Outcome{FinalAccuracy: 0.6}})
	r.Add(Record{Cell: Cell{"scratch", 5, 2}, Diverged: "finetune: diverged at epoch 2 step 3: loss is NaN at learning rate 10"})
	if _, done := r.Find(Cell{"scratch", 5, 2}); !done {
		t.Fatal("the diverged run is not recorded")
	}
	sums := r.Summaries()
	if len(sums) != 1 || math.Abs(sums[0].Accuracy.Mean-0.6) > 1e-12 {
		t.Fatalf("summaries %+v, want scratch at 5 shots = 0.6 from the one good run", sums)
	}
}
