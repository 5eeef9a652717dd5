package strategies

import (
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/gtl-dev/gtl/finetune"
)

// TestResultsLRFound: a run with the LR finder records the rate it trained
// at, the finder's, as results.csv's lr and results.json's config.lr, and
// the finder's rate as the last column, lr_found (empty without the
// finder); results.csv gives the found rate also for a record read from an
// older results.json, whose config.lr is the strategy's.
func TestResultsLRFound(t *testing.T) {
	dir := t.TempDir()
	r, err := OpenResults(dir, testGrid(), false, false)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	plan := func(lr float64, find bool) Plan {
		p := Plan{TrainSpec: finetune.TrainSpec{LR: lr}}
		if find {
			p.LRFind = &finetune.LRFindSpec{}
		}
		return p
	}
	runs := []struct {
		cell        Cell
		plan        Plan
		found       float64
		add         bool // through Add; else as read from an older results.json
		lr, lrFound string
		configLR    float64
	}{
		{Cell{"scratch", 5, 1}, plan(0.01, true), 0.00251, true, "0.00251", "0.00251", 0.00251},
		{Cell{"scratch", 5, 2}, plan(0.05, false), 0, true, "0.05", "", 0.05},
		{Cell{"linear", 5, 1}, plan(0.01, true), 0.0436, false, "0.0436", "0.0436", 0.0436},
	}
	for _, run := range runs {
		rec := Record{Cell: run.cell, Plan: run.plan, Outcome: Outcome{FinalAccuracy: 0.5, LRFound: run.found}}
		if run.add {
			r.Add(rec)
		} else {
			r.Runs = append(r.Runs, rec)
		}
	}
	if err := r.Save(dir); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(dir, "results.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	h := rows[0]
	if h[len(h)-1] != "lr_found" || h[6] != "lr" {
		t.Fatalf("results.csv header %v: want lr seventh and lr_found last", h)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "results.json"))
	var js struct {
		Runs []struct {
			Strategy string  `json:"strategy"`
			Seed     uint64  `json:"seed"`
			LRFound  float64 `json:"lr_found"`
			Config   struct {
				LR float64 `json:"lr"`
			} `json:"config"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(b, &js); err != nil {
		t.Fatal(err)
	}
	for _, run := range runs {
		seed := strconv.FormatUint(run.cell.Seed, 10)
		t.Run(run.cell.Strategy+"-seed"+seed, func(t *testing.T) {
			var row []string
			for _, r := range rows[1:] {
				if r[0] == run.cell.Strategy && r[2] == seed {
					row = r
				}
			}
			if row == nil || len(row) != len(h) {
				t.Fatalf("results.csv row %v for %+v", row, run.cell)
			}
			if row[6] != run.lr || row[len(row)-1] != run.lrFound {
				t.Errorf("results.csv lr %q lr_found %q, want %q %q", row[6], row[len(row)-1], run.lr, run.lrFound)
			}
			if !run.add { // an older record: results.json keeps what it read
				return
			}
			for _, j := range js.Runs {
				if j.Strategy == run.cell.Strategy && j.Seed == run.cell.Seed && (j.Config.LR != run.configLR || j.LRFound != run.found) {
					t.Errorf("results.json config.lr %g lr_found %g, want %g %g", j.Config.LR, j.LRFound, run.configLR, run.found)
				}
			}
		})
	}
}
