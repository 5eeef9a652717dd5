package strategies

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
)

// Shard is the K-th of N shares of a grid (K from 1), for running a grid on
// several machines: a Slurm array job or a Kubernetes Indexed Job runs one
// shard per task, each into its own folder, and MergeResults joins them.
type Shard struct {
	K int `json:"k"`
	N int `json:"n"`
}

func (s Shard) String() string { return fmt.Sprintf("%d/%d", s.K, s.N) }

// ParseShard reads a --shard value: "K/N" (1 ≤ K ≤ N), or "auto" / "auto/N",
// which take K from the task index of the job array the process runs in:
// Slurm's SLURM_ARRAY_TASK_ID (minus SLURM_ARRAY_TASK_MIN, so arrays may
// start at 0 or 1) with N from SLURM_ARRAY_TASK_COUNT, or Kubernetes'
// JOB_COMPLETION_INDEX (0-based) of an Indexed Job, which has no count
// variable: N must then be given ("auto/N", the Job's completions).
// getenv reads the environment (os.Getenv).
func ParseShard(s string, getenv func(string) string) (Shard, error) {
	bad := func(why string) (Shard, error) {
		return Shard{}, fmt.Errorf("strategies: shard %q: %s", s, why)
	}
	a, b, ok := strings.Cut(s, "/")
	if a == "auto" {
		n := 0
		if ok {
			v, err := strconv.Atoi(b)
			if err != nil || v < 1 {
				return bad("want auto/N with N ≥ 1")
			}
			n = v
		}
		num := func(name string) (int, bool, error) {
			v := getenv(name)
			if v == "" {
				return 0, false, nil
			}
			x, err := strconv.Atoi(v)
			if err != nil || x < 0 {
				return 0, false, fmt.Errorf("strategies: shard auto: %s=%q is not a task index", name, v)
			}
			return x, true, nil
		}
		if id, set, err := num("SLURM_ARRAY_TASK_ID"); err != nil {
			return Shard{}, err
		} else if set {
			lo, _, err := num("SLURM_ARRAY_TASK_MIN")
			if err != nil {
				return Shard{}, err
			}
			count, cset, err := num("SLURM_ARRAY_TASK_COUNT")
			if err != nil {
				return Shard{}, err
			}
			switch {
			case n == 0 && !cset:
				return bad("SLURM_ARRAY_TASK_COUNT is not set; give the count as auto/N")
			case n == 0:
				n = count
			case cset && count != n:
				return bad(fmt.Sprintf("the Slurm array has %d tasks", count))
			}
			return checkShard(s, Shard{K: id - lo + 1, N: n})
		}
		if idx, set, err := num("JOB_COMPLETION_INDEX"); err != nil {
			return Shard{}, err
		} else if set {
			if n == 0 {
				return bad("JOB_COMPLETION_INDEX has no count; give the Job's completions as auto/N")
			}
			return checkShard(s, Shard{K: idx + 1, N: n})
		}
		return bad("neither SLURM_ARRAY_TASK_ID nor JOB_COMPLETION_INDEX is set (not a Slurm array task or an Indexed Job pod)")
	}
	if !ok {
		return bad("want K/N, auto or auto/N")
	}
	k, err1 := strconv.Atoi(a)
	n, err2 := strconv.Atoi(b)
	if err1 != nil || err2 != nil {
		return bad("want K/N with whole numbers")
	}
	return checkShard(s, Shard{K: k, N: n})
}

func checkShard(s string, sh Shard) (Shard, error) {
	if sh.N < 1 || sh.K < 1 || sh.K > sh.N {
		return Shard{}, fmt.Errorf("strategies: shard %q gives %d/%d: want 1 ≤ K ≤ N", s, sh.K, sh.N)
	}
	return sh, nil
}

// Cells returns the shard's share of the grid's cells, in the grid's
// order: every N-th cell from the K-th, so that each shard gets a mix of
// sizes and strategies (similar run times) and the shards are disjoint and
// cover the grid.
func (s Shard) Cells(g Grid) []Cell {
	var out []Cell
	for i, c := range g.Cells() {
		if i%s.N == s.K-1 {
			out = append(out, c)
		}
	}
	return out
}

// MergeResults joins the results.json of the shard folders dirs into one
// Results. It refuses shards of different grids (every field of the grid
// must agree), folders that are not shards, the same shard twice, a shard
// missing, and a shard with runs outside its share or unfinished.
func MergeResults(dirs []string) (*Results, error) {
	if len(dirs) == 0 {
		return nil, fmt.Errorf("strategies: merge: no shard folders")
	}
	var out *Results
	var first string
	seen := map[int]string{}
	for _, dir := range dirs {
		path := filepath.Join(dir, "results.json")
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("strategies: merge: %w", err)
		}
		var r Results
		if err := json.Unmarshal(b, &r); err != nil {
			return nil, fmt.Errorf("strategies: merge: %s: %v", path, err)
		}
		if r.Shard == nil {
			return nil, fmt.Errorf("strategies: merge: %s is not a shard (run with gtl compare --shard K/N)", path)
		}
		if out == nil {
			out, first = &Results{Grid: r.Grid}, path
		} else if !reflect.DeepEqual(out.Grid, r.Grid) {
			return nil, fmt.Errorf("strategies: merge: %s and %s are shards of different grids (%+v vs %+v)", first, path, out.Grid, r.Grid)
		}
		if out.Shard != nil && out.Shard.N != r.Shard.N { // the first shard sets N
			return nil, fmt.Errorf("strategies: merge: %s is shard %s, %s is one of %d", path, r.Shard, first, out.Shard.N)
		}
		if out.Shard == nil {
			out.Shard = &Shard{K: 0, N: r.Shard.N}
		}
		if prev, dup := seen[r.Shard.K]; dup {
			return nil, fmt.Errorf("strategies: merge: %s and %s are both shard %s", prev, path, r.Shard)
		}
		seen[r.Shard.K] = path
		share := map[Cell]bool{}
		for _, c := range r.Shard.Cells(r.Grid) {
			share[c] = true
		}
		for _, rec := range r.Runs {
			if !share[rec.Cell] {
				return nil, fmt.Errorf("strategies: merge: %s holds %s, which is not in shard %s", path, rec.Cell, r.Shard)
			}
		}
		for c := range share {
			if _, ok := r.Find(c); !ok {
				return nil, fmt.Errorf("strategies: merge: shard %s in %s has not finished (%s is missing; continue it with --resume)", r.Shard, dir, c)
			}
		}
		out.Runs = append(out.Runs, r.Runs...)
	}
	for k := 1; k <= out.Shard.N; k++ {
		if _, ok := seen[k]; !ok {
			return nil, fmt.Errorf("strategies: merge: shard %d/%d is missing", k, out.Shard.N)
		}
	}
	out.Shard = nil // the merged grid is whole
	out.Runs = out.inGrid()
	return out, nil
}
