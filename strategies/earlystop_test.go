package strategies

import (
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/gtl-dev/gtl/finetune"
)

// TestResultsEarlyStop: results.csv gives each run's best and stop epochs
// (empty without early stopping, stopped_epoch 0 when every epoch ran),
// and results.json its early_stopping record.
func TestResultsEarlyStop(t *testing.T) {
	dir := t.TempDir()
	r, err := OpenResults(dir, testGrid(), false, false)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	runs := []struct {
		cell                 Cell
		es                   *finetune.EarlyStop
		bestEpoch, stopEpoch string
	}{
		{Cell{"scratch", 5, 1}, &finetune.EarlyStop{Monitor: "val_loss", Patience: 2, BestEpoch: 3, Best: 0.5, StoppedEpoch: 5}, "3", "5"},
		{Cell{"scratch", 5, 2}, &finetune.EarlyStop{Monitor: "val_acc", Patience: 9, BestEpoch: 4, Best: 0.75}, "4", "0"},
		{Cell{"linear", 5, 1}, nil, "", ""},
	}
	for _, run := range runs {
		r.Add(Record{Cell: run.cell, Outcome: Outcome{FinalAccuracy: 0.5, EarlyStop: run.es}})
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
	col := map[string]int{}
	for i, name := range rows[0] {
		col[name] = i
	}
	b, _ := os.ReadFile(filepath.Join(dir, "results.json"))
	var js struct {
		Runs []struct {
			Strategy string              `json:"strategy"`
			Seed     uint64              `json:"seed"`
			ES       *finetune.EarlyStop `json:"early_stopping"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(b, &js); err != nil {
		t.Fatal(err)
	}
	inJSON := map[Cell]*finetune.EarlyStop{}
	for _, j := range js.Runs {
		inJSON[Cell{Strategy: j.Strategy, Shots: 5, Seed: j.Seed}] = j.ES
	}
	for _, run := range runs {
		seed := strconv.FormatUint(run.cell.Seed, 10)
		t.Run(run.cell.Strategy+"-seed"+seed, func(t *testing.T) {
			var row []string
			for _, r := range rows[1:] {
				if r[col["strategy"]] == run.cell.Strategy && r[col["seed"]] == seed {
					row = r
				}
			}
			if row == nil {
				t.Fatalf("results.csv has no row for %+v", run.cell)
			}
			if row[col["best_epoch"]] != run.bestEpoch || row[col["stopped_epoch"]] != run.stopEpoch {
				t.Errorf("results.csv best_epoch %q stopped_epoch %q, want %q %q (%s)", row[col["best_epoch"]], row[col["stopped_epoch"]],
					run.bestEpoch, run.stopEpoch, strings.Join(row, ","))
			}
			got, ok := inJSON[run.cell]
			if !ok || (got == nil) != (run.es == nil) || got != nil && *got != *run.es {
				t.Errorf("results.json early_stopping %+v, want %+v", got, run.es)
			}
		})
	}
}
