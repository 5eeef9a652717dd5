package strategies

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gtl-dev/gtl/internal/outdir"
	"github.com/gtl-dev/gtl/npy"
	"github.com/gtl-dev/gtl/vision/datasets"
)

// All is the shot count that means "every training image".
const All = 0

// Grid is what a comparison measures: every strategy at every target size
// with every seed, evaluated on the same images.
type Grid struct {
	Model       string              `json:"model"`
	Weights     string              `json:"weights"`
	WeightsKey  string              `json:"weights_key,omitempty"` // entry of a wrapping checkpoint (see vision.OpenOptions.WeightsKey); "" the plain weights
	Data        string              `json:"data"`
	Classes     datasets.ClassNames `json:"classes"` // escaped in JSON (see datasets.EscapeName)
	ValImages   int                 `json:"val_images"`
	ImageSize   int                 `json:"image_size"`
	EqualBudget bool                `json:"equal_budget"`
	Augment     bool                `json:"augment,omitempty"` // each strategy with gtl train's augmentation for it
	Strategies  []string            `json:"strategies"`
	Shots       []int               `json:"shots"` // images per class; All (0) = every image
	Seeds       int                 `json:"seeds"`
	// MultiLabel: the runs are multi-label, scored by mAP where
	// single-label runs are scored by top-1 accuracy (see Metric).
	MultiLabel bool `json:"multi_label,omitempty"`
}

// Metric names the score the grid's runs are compared by: "mAP" for a
// multi-label grid, else "accuracy" (top-1).
func (g Grid) Metric() string {
	if g.MultiLabel {
		return "mAP"
	}
	return "accuracy"
}

// sameBase reports whether two grids measure the same thing (results of
// one can stand in the other); strategies, shots and seeds may differ.
func (g Grid) sameBase(o Grid) bool {
	return g.Model == o.Model && g.Weights == o.Weights && g.WeightsKey == o.WeightsKey && g.Data == o.Data && slices.Equal(g.Classes, o.Classes) &&
		g.ValImages == o.ValImages && g.ImageSize == o.ImageSize && g.EqualBudget == o.EqualBudget && g.Augment == o.Augment && g.MultiLabel == o.MultiLabel
}

// ShotsLabel names a shot count ("all" for All).
func ShotsLabel(n int) string {
	if n == All {
		return "all"
	}
	return strconv.Itoa(n)
}

// ParseShots reads a list like "5,20,100,all".
func ParseShots(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "all" {
			out = append(out, All)
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("strategies: shots %q: want a positive number of images per class, or all", f)
		}
		out = append(out, n)
	}
	return out, nil
}

// Cell identifies one run of a grid.
type Cell struct {
	Strategy string `json:"strategy"`
	Shots    int    `json:"shots"` // All (0) = every image
	Seed     uint64 `json:"seed"`
}

func (c Cell) String() string {
	return fmt.Sprintf("%s, %s shots, seed %d", c.Strategy, ShotsLabel(c.Shots), c.Seed)
}

// Cells lists the grid's runs in the order they are run: by target size,
// then seed, then strategy, so that an early stop leaves complete columns.
func (g Grid) Cells() []Cell {
	var out []Cell
	for _, sh := range g.Shots {
		for s := 1; s <= g.Seeds; s++ {
			for _, st := range g.Strategies {
				out = append(out, Cell{Strategy: st, Shots: sh, Seed: uint64(s)})
			}
		}
	}
	return out
}

// Record is one finished run: its cell, its resolved plan and what it
// measured.
type Record struct {
	Cell
	Plan     Plan      `json:"config"`
	Finished time.Time `json:"finished"`
	// Diverged, when set, says why the run stopped with a non-finite loss;
	// its outcome is empty and reports leave it out of their numbers.
	Diverged string `json:"diverged,omitempty"`
	Outcome
}

// Results is the content of results.json.
type Results struct {
	Grid  Grid     `json:"grid"`
	Shard *Shard   `json:"shard,omitempty"` // the share of the grid this folder runs; nil: all of it
	Runs  []Record `json:"runs"`
	// Summary is recomputed from Runs by Save (for readers of the file);
	// it is never read back.
	Summary []Summary `json:"summary,omitempty"`

	release func() // the folder's lock (OpenResults)
}

// Find returns the record of a cell, if any.
func (r *Results) Find(c Cell) (Record, bool) {
	for _, rec := range r.Runs {
		if rec.Cell == c {
			return rec, true
		}
	}
	return Record{}, false
}

// ErrDifferentGrid is returned by OpenResults when the folder holds
// results of another comparison.
var ErrDifferentGrid = errors.New("holds results of a different comparison")

// OpenResults claims dir (created when missing) for grid g: it takes the
// folder's exclusive lock, so that no other process writes there while
// this one does (a folder another process holds is refused with an error
// naming its PID, wrapping an *outdir.InUseError), and reads what the
// folder holds. A folder without results starts empty. A folder with
// results of the same grid continues them when resume is set, and is
// refused otherwise; one with results of a grid that measures something
// else is refused unless force is set. With force, the results and the
// report files (ResultFiles) are removed. The refusals say what the folder
// holds and the choices. Records of cells no longer in g are kept in the
// file but not reported. Close releases the folder (the kernel also drops
// the lock when the process ends).
func OpenResults(dir string, g Grid, resume, force bool) (r *Results, err error) {
	release, err := outdir.Dir(dir, "gtl compare")
	if err != nil {
		if iu := (*outdir.InUseError)(nil); errors.As(err, &iu) {
			return nil, fmt.Errorf("strategies: --out %w: wait for it to end, or choose another --out (the shards of a grid each write into their own folder, and --merge joins them)", iu)
		}
		return nil, fmt.Errorf("strategies: %w", err)
	}
	defer func() {
		if err != nil {
			release()
		}
	}()
	r, err = readResults(dir, g, resume, force)
	if err != nil {
		return nil, err
	}
	if force {
		files, err := ResultFiles(dir)
		if err != nil {
			return nil, fmt.Errorf("strategies: %w", err)
		}
		for _, f := range files {
			if err := os.Remove(filepath.Join(dir, f)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("strategies: --overwrite: %w", err)
			}
		}
	}
	r.release = release
	return r, nil
}

// Close releases the folder OpenResults claimed; later calls do nothing.
func (r *Results) Close() {
	if r.release != nil {
		r.release()
	}
}

func readResults(dir string, g Grid, resume, force bool) (*Results, error) {
	path := filepath.Join(dir, "results.json")
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &Results{Grid: g}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("strategies: %w", err)
	}
	replace := func() string {
		files, _ := ResultFiles(dir)
		return "--overwrite replaces it (removes " + strings.Join(files, ", ") + ")"
	}
	var old Results
	if err := json.Unmarshal(b, &old); err != nil {
		if force {
			return &Results{Grid: g}, nil
		}
		return nil, fmt.Errorf("strategies: %s: %v: %s, or choose another --out", path, err, replace())
	}
	switch {
	case force:
		return &Results{Grid: g}, nil
	case !old.Grid.sameBase(g):
		return nil, fmt.Errorf("strategies: %s %w (model %s, data %s, classes %v, %d px): %s, or choose another --out",
			dir, ErrDifferentGrid, old.Grid.Model, old.Grid.Data, old.Grid.Classes, old.Grid.ImageSize, replace())
	case !resume && len(old.Runs) > 0:
		them := "them"
		if len(old.Runs) == 1 {
			them = "it"
		}
		return nil, fmt.Errorf("strategies: %s already holds %s of this comparison (%s on %s): --resume continues %s, %s, or choose another --out",
			dir, datasets.Plural(len(old.Runs), "finished run"), old.Grid.Model, old.Grid.Data, them, replace())
	}
	if left := outside(old.Runs, g); len(left) > 0 {
		are, them := "are", "them"
		if len(left) == 1 {
			are, them = "is", "it"
		}
		return nil, fmt.Errorf("strategies: %s %w: %s %s not in this grid (%s; it was %s); --resume continues the same grid, or one that adds to it; use another --out, or --overwrite to discard %s",
			dir, ErrDifferentGrid, datasets.Plural(len(left), "finished run"), are, describeCells(left), old.Grid.cellsString(), them)
	}
	old.Grid = g
	return &old, nil
}

// outside returns the cells of runs that grid g does not have.
func outside(runs []Record, g Grid) []Cell {
	in := map[Cell]bool{}
	for _, c := range g.Cells() {
		in[c] = true
	}
	var out []Cell
	for _, r := range runs {
		if !in[r.Cell] {
			out = append(out, r.Cell)
		}
	}
	return out
}

// describeCells names up to three cells: "linear, 5 shots, seed 1; …".
func describeCells(cs []Cell) string {
	var parts []string
	for _, c := range cs[:min(3, len(cs))] {
		parts = append(parts, c.String())
	}
	if len(cs) > 3 {
		parts = append(parts, fmt.Sprintf("and %d more", len(cs)-3))
	}
	return strings.Join(parts, "; ")
}

// cellsString writes what the grid runs, as its flags: "--strategies
// scratch,linear --shots 5,all --seeds 2".
func (g Grid) cellsString() string {
	shots := make([]string, len(g.Shots))
	for i, s := range g.Shots {
		shots[i] = ShotsLabel(s)
	}
	return fmt.Sprintf("--strategies %s --shots %s --seeds %d", strings.Join(g.Strategies, ","), strings.Join(shots, ","), g.Seeds)
}

// ResultFiles returns the names of the files in dir that a comparison
// writes there: results.json, results.csv, report.md, report.html and the
// report's plots.
func ResultFiles(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var plots []string
	have := map[string]bool{}
	for _, e := range ents {
		n := e.Name()
		have[n] = true
		if n == PlotAccuracy || n == PlotTimeTo95 || strings.HasPrefix(n, plotCurvesPrefix) && strings.HasSuffix(n, ".png") {
			plots = append(plots, n)
		}
	}
	var out []string
	for _, n := range []string{"results.json", "results.csv", "report.md", "report.html"} {
		if have[n] {
			out = append(out, n)
		}
	}
	sort.Strings(plots)
	return append(out, plots...), nil
}

// Save writes results.json and results.csv atomically.
func (r *Results) Save(dir string) error {
	r.Summary = r.Summaries()
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("strategies: results: %w", err)
	}
	if err := npy.WriteFileAtomic(filepath.Join(dir, "results.json"), append(b, '\n')); err != nil {
		return err
	}
	return npy.WriteFileAtomic(filepath.Join(dir, "results.csv"), []byte(r.CSV()))
}

// CSV returns one line per run of the grid. lr is the head's rate the run
// trained at (the LR finder's with Plan.LRFind), and lr_found, the last
// column, the LR finder's rate (empty without it). With early stopping
// (Plan.Patience) best_epoch is the epoch whose weights the final model
// holds and stopped_epoch the one training stopped after (0: every epoch
// ran); both are empty without it.
func (r *Results) CSV() string {
	var sb strings.Builder
	sb.WriteString("strategy,shots,seed,train_images,epochs,steps,lr,final_accuracy,best_accuracy,epochs_to_95,seconds_to_95,seconds,images_per_sec,final_balanced_accuracy,final_macro_f1,best_epoch,stopped_epoch,lr_found\n")
	for _, rec := range r.inGrid() {
		early := ","
		if es := rec.EarlyStop; es != nil {
			early = fmt.Sprintf("%d,%d", es.BestEpoch, es.StoppedEpoch)
		}
		found := ""
		if rec.LRFound > 0 {
			found = strconv.FormatFloat(rec.LRFound, 'g', -1, 64)
		}
		fmt.Fprintf(&sb, "%s,%s,%d,%d,%d,%d,%g,%.4f,%.4f,%d,%.2f,%.2f,%.1f,%.4f,%.4f,%s,%s\n", rec.Strategy, ShotsLabel(rec.Shots), rec.Seed,
			rec.TrainImages, rec.Plan.Epochs, rec.Plan.Steps, rec.TrainedLR(), rec.FinalAccuracy, rec.BestAccuracy, rec.EpochsTo95,
			rec.SecondsTo95, rec.Seconds, rec.ImagesPerSec, rec.FinalBalancedAccuracy, rec.FinalMacroF1, early, found)
	}
	return sb.String()
}

// TrainedLR is the head's rate the run trained at: the LR finder's
// (LRFound) when the plan had one, else the plan's.
func (rec Record) TrainedLR() float64 {
	if rec.LRFound > 0 {
		return rec.LRFound
	}
	return rec.Plan.LR
}

// inGrid returns the records of the grid's cells, in the grid's order.
func (r *Results) inGrid() []Record {
	var out []Record
	for _, c := range r.Grid.Cells() {
		if rec, ok := r.Find(c); ok && rec.Diverged == "" {
			out = append(out, rec)
		}
	}
	return out
}

// Add records a finished run, replacing an older record of its cell. Its
// plan becomes the training settings the run resolved (every default
// filled in: the optimiser, momentum, schedule …), and its rate
// (results.json's config.lr) the one the run trained at (Record.TrainedLR).
func (r *Results) Add(rec Record) {
	if rec.resolved != nil { // the settings as the run resolved them: sgd, momentum 0.9 …, not "" and 0
		rec.Plan.TrainSpec = *rec.resolved
	}
	rec.Plan.LR = rec.TrainedLR()
	r.Runs = slices.DeleteFunc(r.Runs, func(o Record) bool { return o.Cell == rec.Cell })
	r.Runs = append(r.Runs, rec)
}

// Stat is a mean and a sample standard deviation over seeds.
type Stat struct {
	Mean, Std float64
	N         int
}

// MarshalJSON writes {"mean":…,"std":…,"n":…}, null for a mean or std
// that is not a number (no values).
func (s Stat) MarshalJSON() ([]byte, error) {
	num := func(x float64) any {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil
		}
		return x
	}
	return json.Marshal(map[string]any{"mean": num(s.Mean), "std": num(s.Std), "n": s.N})
}

func stat(xs []float64) Stat {
	s := Stat{N: len(xs)}
	if s.N == 0 {
		return Stat{Mean: math.NaN(), Std: math.NaN()}
	}
	for _, x := range xs {
		s.Mean += x
	}
	s.Mean /= float64(s.N)
	if s.N > 1 {
		for _, x := range xs {
			s.Std += (x - s.Mean) * (x - s.Mean)
		}
		s.Std = math.Sqrt(s.Std / float64(s.N-1))
	}
	return s
}

// TargetShare sets the fixed accuracy that convergence is measured
// against at each target size: this share of the best strategy's mean
// final accuracy at that size. The same target for every strategy makes
// "steps to target" comparable across strategies (the issue's "time to a
// fixed accuracy"; 90% of the best run, as in DAWNBench-style
// time-to-accuracy, applied per size).
const TargetShare = 0.9

// Summary aggregates the runs of one strategy at one target size over
// seeds.
type Summary struct {
	Strategy     string `json:"strategy"`
	Shots        int    `json:"shots"`
	Accuracy     Stat   `json:"accuracy"` // final accuracy
	SecondsTo95  Stat   `json:"seconds_to_95"`
	EpochsTo95   Stat   `json:"epochs_to_95"`
	Seconds      Stat   `json:"seconds"` // wall time per run
	ImagesPerSec Stat   `json:"images_per_sec"`
	Epochs       int    `json:"epochs"` // of the first seed's plan
	Steps        int    `json:"steps"`
	// Target is the size's fixed accuracy (TargetShare of the best mean
	// final accuracy); StepsToTarget and SecondsToTarget average the runs
	// that reached it (Reached of Accuracy.N) at a validated epoch.
	Target          float64 `json:"target_accuracy"`
	StepsToTarget   Stat    `json:"steps_to_target"`
	SecondsToTarget Stat    `json:"seconds_to_target"`
	Reached         int     `json:"reached_target"`

	// BalancedAccuracy and MacroF1 are the final model's (see Outcome).
	BalancedAccuracy Stat `json:"balanced_accuracy"`
	MacroF1          Stat `json:"macro_f1"`
}

// Summaries returns one summary per strategy and target size that has at
// least one finished run, strategies in the grid's order within each size.
func (r *Results) Summaries() []Summary {
	var out []Summary
	for _, sh := range r.Grid.Shots {
		var size []Summary
		var recs [][]Record
		for _, st := range r.Grid.Strategies {
			var acc, bal, f1, s95, e95, secs, ips []float64
			var mine []Record
			sum := Summary{Strategy: st, Shots: sh}
			for _, rec := range r.inGrid() {
				if rec.Strategy != st || rec.Shots != sh {
					continue
				}
				if len(acc) == 0 {
					sum.Epochs, sum.Steps = rec.Plan.Epochs, rec.Plan.Steps
				}
				mine = append(mine, rec)
				acc = append(acc, rec.FinalAccuracy)
				bal, f1 = append(bal, rec.FinalBalancedAccuracy), append(f1, rec.FinalMacroF1)
				s95 = append(s95, rec.SecondsTo95)
				e95 = append(e95, float64(rec.EpochsTo95))
				secs = append(secs, rec.Seconds)
				ips = append(ips, rec.ImagesPerSec)
			}
			if len(acc) == 0 {
				continue
			}
			sum.BalancedAccuracy, sum.MacroF1 = stat(bal), stat(f1)
			sum.Accuracy, sum.SecondsTo95, sum.EpochsTo95, sum.Seconds, sum.ImagesPerSec = stat(acc), stat(s95), stat(e95), stat(secs), stat(ips)
			size = append(size, sum)
			recs = append(recs, mine)
		}
		best := math.Inf(-1)
		for _, s := range size {
			best = max(best, s.Accuracy.Mean)
		}
		for i := range size {
			size[i].Target = TargetShare * best
			var steps, secs []float64
			for _, rec := range recs[i] {
				if n, t, ok := StepsTo(rec.Curve, rec.Plan.StepsPerEpoch(), size[i].Target); ok {
					steps, secs = append(steps, float64(n)), append(secs, t)
				}
			}
			size[i].Reached = len(steps)
			size[i].StepsToTarget, size[i].SecondsToTarget = stat(steps), stat(secs)
		}
		out = append(out, size...)
	}
	return out
}

// StepsTo returns the optimisation steps and seconds of training until the
// first validated epoch of curve whose accuracy reaches target (epoch ×
// stepsPerEpoch, every epoch having the same number of steps); ok is false
// when no validated epoch does.
func StepsTo(curve []Point, stepsPerEpoch int, target float64) (steps int, seconds float64, ok bool) {
	e, s := TimeTo(curve, target)
	if e == 0 {
		return 0, 0, false
	}
	return e * stepsPerEpoch, s, true
}

// Verdict says which strategy is best at one target size, or that the
// best ones are tied within noise.
type Verdict struct {
	// Best is the strategy with the highest mean accuracy when it beats
	// every other by more than the noise; "" when some are tied.
	Best string
	// Tied are the strategies within noise of the highest mean (it
	// included, first), when there is no clear best.
	Tied []string
	// Margin is the highest mean accuracy less the runner-up's, and Noise
	// the noise that margin was compared with (fractions; see PairNoise).
	Margin, Noise float64
	// Seeds is the number of seeds of the top strategy.
	Seeds int
}

// String words the verdict: "linear (ahead by 3.1 points, noise 1.2)", or
// "tie within noise: linear, full (0.4 points apart, noise 1.6)".
func (v Verdict) String() string {
	switch {
	case v.Best != "" && len(v.Tied) == 0 && v.Noise == 0 && v.Margin == 0:
		return v.Best // the only strategy
	case v.Best != "":
		return fmt.Sprintf("%s (ahead by %.1f points, noise %.1f)", v.Best, 100*v.Margin, 100*v.Noise)
	case len(v.Tied) > 0:
		return fmt.Sprintf("tie within noise: %s (%.1f points apart, noise %.1f)", strings.Join(v.Tied, ", "), 100*v.Margin, 100*v.Noise)
	}
	return ""
}

// Verdict compares the strategies at a target size. The strategy with the
// highest mean final accuracy is named best only when its lead over each
// other strategy exceeds their PairNoise; the strategies whose lead it
// does not exceed are tied with it.
func (r *Results) Verdict(shots int) Verdict {
	var sums []Summary
	for _, s := range r.Summaries() {
		if s.Shots == shots {
			sums = append(sums, s)
		}
	}
	if len(sums) == 0 {
		return Verdict{}
	}
	sort.SliceStable(sums, func(i, j int) bool { return sums[i].Accuracy.Mean > sums[j].Accuracy.Mean })
	top := sums[0]
	v := Verdict{Seeds: top.Accuracy.N}
	if len(sums) == 1 {
		v.Best = top.Strategy
		return v
	}
	v.Margin = top.Accuracy.Mean - sums[1].Accuracy.Mean
	tied := []string{top.Strategy}
	for i, s := range sums[1:] {
		noise := r.PairNoise(top.Strategy, s.Strategy, shots)
		if i == 0 {
			v.Noise = noise
		}
		if top.Accuracy.Mean-s.Accuracy.Mean <= noise {
			tied = append(tied, s.Strategy)
			v.Noise = max(v.Noise, noise)
		}
	}
	if len(tied) == 1 {
		v.Best = top.Strategy
	} else {
		v.Tied = tied
	}
	return v
}

// Best returns, for a target size, the strategy with the highest mean
// accuracy and the strategies within noise of it (see Verdict).
func (r *Results) Best(shots int) (best string, tied []string) {
	v := r.Verdict(shots)
	if v.Best != "" {
		return v.Best, nil
	}
	if len(v.Tied) == 0 {
		return "", nil
	}
	return v.Tied[0], v.Tied[1:]
}

// PairNoise is the accuracy difference between strategies a and b at a
// target size that cannot be told from noise: the larger of the spread of
// their differences paired over seeds (the sample standard deviation of
// a's accuracy less b's, seed by seed: the same seed draws the same
// training images), and the standard error of the difference of two
// accuracies measured on the evaluation images (sqrt(p(1-p)/n) each), which
// is all there is with a single seed.
func (r *Results) PairNoise(a, b string, shots int) float64 {
	accs := map[string]map[uint64]float64{a: {}, b: {}}
	for _, rec := range r.inGrid() {
		if m, ok := accs[rec.Strategy]; ok && rec.Shots == shots {
			m[rec.Seed] = rec.FinalAccuracy
		}
	}
	var diffs, pa, pb []float64
	for seed, x := range accs[a] {
		if y, ok := accs[b][seed]; ok {
			diffs = append(diffs, x-y)
		}
		pa = append(pa, x)
	}
	for _, y := range accs[b] {
		pb = append(pb, y)
	}
	sort.Float64s(diffs) // map order must not change the sums
	spread := 0.0
	if len(diffs) > 1 {
		spread = stat(diffs).Std
	}
	n := float64(max(r.Grid.ValImages, 1))
	ma, mb := stat(pa).Mean, stat(pb).Mean
	if math.IsNaN(ma) || math.IsNaN(mb) {
		return math.Inf(1)
	}
	eval := math.Sqrt(ma*(1-ma)/n + mb*(1-mb)/n)
	return max(spread, eval)
}

// FormatAccuracy writes a strategy's accuracy over seeds: "86.1 ± 0.4%"
// with a spread, "86.1% (1 seed)" with one seed, whose spread is unknown
// (not zero).
func FormatAccuracy(s Stat) string {
	if s.N == 1 {
		return fmt.Sprintf("%.1f%% (1 seed)", 100*s.Mean)
	}
	return fmt.Sprintf("%.1f ± %.1f%%", 100*s.Mean, 100*s.Std)
}

