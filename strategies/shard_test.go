package strategies

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseShard(t *testing.T) {
	for _, tc := range []struct {
		in   string
		env  map[string]string
		want Shard
		err  string
	}{
		{"1/2", nil, Shard{1, 2}, ""},
		{"3/3", nil, Shard{3, 3}, ""},
		{"0/2", nil, Shard{}, "want 1 ≤ K ≤ N"},
		{"3/2", nil, Shard{}, "want 1 ≤ K ≤ N"},
		{"a/2", nil, Shard{}, "whole numbers"},
		{"2", nil, Shard{}, "want K/N"},
		{"auto", map[string]string{"SLURM_ARRAY_TASK_ID": "3", "SLURM_ARRAY_TASK_MIN": "1", "SLURM_ARRAY_TASK_COUNT": "4"}, Shard{3, 4}, ""},
		{"auto", map[string]string{"SLURM_ARRAY_TASK_ID": "0", "SLURM_ARRAY_TASK_COUNT": "4"}, Shard{1, 4}, ""},
		{"auto/5", map[string]string{"SLURM_ARRAY_TASK_ID": "0", "SLURM_ARRAY_TASK_COUNT": "4"}, Shard{}, "array has 4 tasks"},
		{"auto/4", map[string]string{"JOB_COMPLETION_INDEX": "3"}, Shard{4, 4}, ""},
		{"auto/4", map[string]string{"JOB_COMPLETION_INDEX": "4"}, Shard{}, "want 1 ≤ K ≤ N"},
		{"auto", map[string]string{"JOB_COMPLETION_INDEX": "0"}, Shard{}, "give the Job's completions as auto/N"},
		{"auto", nil, Shard{}, "neither SLURM_ARRAY_TASK_ID nor JOB_COMPLETION_INDEX"},
	} {
		t.Run(tc.in+"/"+strings.Join(sortedKeys(tc.env), ","), func(t *testing.T) {
			got, err := ParseShard(tc.in, func(k string) string { return tc.env[k] })
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("got %v %v, want %v", got, err, tc.want)
			}
		})
	}
}

func sortedKeys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k+"="+m[k])
	}
	return out
}

// TestShardCellsPartition: the shards of a grid are disjoint and cover it.
func TestShardCellsPartition(t *testing.T) {
	g := Grid{Strategies: []string{"scratch", "linear", "full"}, Shots: []int{5, All}, Seeds: 3}
	for n := 1; n <= 5; n++ {
		seen := map[Cell]int{}
		for k := 1; k <= n; k++ {
			cells := Shard{k, n}.Cells(g)
			if d := len(cells) - len(g.Cells())/n; d < 0 || d > 1 {
				t.Errorf("shard %d/%d has %d of %d cells", k, n, len(cells), len(g.Cells()))
			}
			for _, c := range cells {
				seen[c]++
			}
		}
		for _, c := range g.Cells() {
			if seen[c] != 1 {
				t.Errorf("n=%d: cell %s in %d shards", n, c, seen[c])
			}
		}
	}
}

func TestMergeRefusesDifferentGrids(t *testing.T) {
	dir := t.TempDir()
	g := Grid{Model: "resnet18", Strategies: []string{"scratch"}, Shots: []int{5}, Seeds: 2}
	write := func(name string, g Grid, sh Shard) string {
		d := filepath.Join(dir, name)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		r := &Results{Grid: g, Shard: &sh}
		for _, c := range sh.Cells(g) {
			r.Add(Record{Cell: c, Outcome: Outcome{FinalAccuracy: float64(c.Seed) / 10}})
		}
		if err := r.Save(d); err != nil {
			t.Fatal(err)
		}
		return d
	}
	a := write("a", g, Shard{1, 2})
	b := write("b", g, Shard{2, 2})
	other := g
	other.ImageSize = 64
	c := write("c", other, Shard{2, 2})
	r, err := MergeResults([]string{b, a})
	if err != nil {
		t.Fatal(err)
	}
	if r.Shard != nil || len(r.Runs) != 2 || !reflect.DeepEqual(r.Grid, g) || r.Runs[0].Seed != 1 || r.Runs[1].FinalAccuracy != 0.2 {
		t.Errorf("merged %+v", r)
	}
	if _, err := MergeResults([]string{a, c}); err == nil || !strings.Contains(err.Error(), "shards of different grids") {
		t.Errorf("different grids: %v", err)
	}
}
