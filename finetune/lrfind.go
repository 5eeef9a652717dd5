package finetune

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"

	"github.com/gtl-dev/gtl/chart"
	"github.com/gtl-dev/gtl/npy"
	"github.com/gtl-dev/gtl/torch"
)

// LRFindSpec is the learning-rate finder of fastai's Learner.lr_find
// (fastai/callback/schedule.py: LRFinder, valley, steep, minimum): a short
// mock training whose head rate grows exponentially from Start to End over
// Iters steps (the other groups keep their ratio to the head, LRDecay),
// with the loss smoothed as fastai's Recorder does and the sweep stopped
// once the smoothed loss passes 4× its minimum. The weights, batch-norm
// statistics, optimiser and random state are then restored, and the
// suggested rate (Suggest) becomes the run's LR. The zero value of each
// field means fastai's default.
type LRFindSpec struct {
	// Start and End are the head's first and last rates; default 1e-7 and
	// 10 (fastai's start_lr, end_lr).
	Start float64 `json:"start_lr"`
	End   float64 `json:"end_lr"`
	// Iters is the number of steps of the sweep (fastai's num_it, at least
	// 6); default 100.
	Iters int `json:"num_it"`
	// Suggest picks the rate the run trains at: valley (default), steep or
	// minimum (see SuggestLR).
	Suggest string `json:"suggest"`
}

// The LR finder's constants, fastai's: the smoothing of the loss
// (Recorder's AvgSmoothLoss, beta 0.98) and the divergence threshold
// (LRFinder.after_batch: smoothed loss > 4 × best).
const (
	lrFindBeta = 0.98
	lrFindDiv  = 4
)

// SuggestMethods are the suggestion functions of the LR finder, in the
// order they are reported.
var SuggestMethods = []string{"valley", "steep", "minimum"}

// withDefaults fills the finder's defaults and checks its values.
func (f LRFindSpec) withDefaults() (LRFindSpec, error) {
	if f.Start == 0 {
		f.Start = 1e-7
	}
	if f.End == 0 {
		f.End = 10
	}
	if f.Iters == 0 {
		f.Iters = 100
	}
	if f.Suggest == "" {
		f.Suggest = "valley"
	}
	switch {
	case !(f.Start > 0) || !(f.End > f.Start) || math.IsInf(f.End, 0):
		return f, FieldErrorf("Train.LRFind", "{Train.LRFind.Start} %g, {Train.LRFind.End} %g: want 0 < start < end", f.Start, f.End)
	case f.Iters < 6:
		return f, FieldErrorf("Train.LRFind", "{Train.LRFind.Iters} %d: want at least 6 steps (fastai's minimum)", f.Iters)
	}
	for _, m := range SuggestMethods {
		if f.Suggest == m {
			return f, nil
		}
	}
	return f, FieldErrorf("Train.LRFind", "{Train.LRFind.Suggest} %s: want valley, steep or minimum", f.Suggest)
}

// rate is the head's rate at step i (0-based): fastai's SchedExp at
// position i/Iters, Start·(End/Start)^(i/Iters).
func (f LRFindSpec) rate(i int) float64 {
	return f.Start * math.Pow(f.End/f.Start, float64(i)/float64(f.Iters))
}

// LRFindResult is what the LR finder measured and suggests.
type LRFindResult struct {
	Spec LRFindSpec `json:"spec"` // with its defaults
	// LRs are the head's rates of the steps taken, Losses their batch
	// losses and Smoothed the smoothed losses (fastai's recorder.losses).
	LRs      []float64 `json:"lrs"`
	Losses   []float64 `json:"losses"`
	Smoothed []float64 `json:"smoothed"`
	// Diverged is set when the sweep stopped before Iters steps: the
	// smoothed loss passed 4× its minimum, or a loss was not finite.
	Diverged bool `json:"diverged"`
	// Suggestions are every method's (SuggestMethods' order); LR is the
	// one of Spec.Suggest, the rate the run trains at.
	Suggestions []Suggestion `json:"suggestions"`
	LR          float64      `json:"lr"`
	// Warnings say why the suggestion may not be reliable (see
	// lrFindWarnings): a sweep shorter than MinReliableSteps, or one whose
	// smoothed loss was still falling at its last step. The library never
	// prints them; gtl writes each as one line on stderr. Their messages
	// name the spec's fields ({Train.LRFind.Iters}, see FieldError.Render).
	Warnings []*FieldError `json:"-"`
}

// MinReliableSteps is the shortest sweep whose suggestion the LR finder
// does not warn about: below it, the curve the suggestions see (without
// the first num_it/10 and the last 5 points, as fastai's lr_find) has
// fewer than 13 points, too few to tell a valley from the noise of single
// batches. fastai itself does not warn; its default sweep is 100 steps.
const MinReliableSteps = 20

// lrFindWarnings are the warnings of a finished sweep (see
// LRFindResult.Warnings).
func lrFindWarnings(r *LRFindResult) []*FieldError {
	var out []*FieldError
	n := len(r.LRs)
	switch {
	case n == 0:
		return nil
	case n < MinReliableSteps && r.Spec.Iters < MinReliableSteps:
		out = append(out, FieldErrorf("Train.LRFind.Iters", "{Train.LRFind.Iters} %d: too few steps for a reliable suggestion; give %d or more (fastai's default: 100)", r.Spec.Iters, MinReliableSteps))
	case n < MinReliableSteps:
		out = append(out, FieldErrorf("Train.LRFind.End", "the loss diverged after %d of %d steps: too few steps for a reliable suggestion; lower {Train.LRFind.End} %g", n, r.Spec.Iters, r.Spec.End))
	}
	last, lowest := r.Smoothed[n-1], true
	for _, s := range r.Smoothed[:n-1] {
		if !(last < s) {
			lowest = false
			break
		}
	}
	if !r.Diverged && lowest && n > 1 {
		out = append(out, FieldErrorf("Train.LRFind.End", "the loss still fell at the end of the sweep (its minimum is at the last step, rate %.3g); raise {Train.LRFind.End} %g", r.LRs[n-1], r.Spec.End))
	}
	return out
}

// Suggestion is one method's suggested rate, and the point of the curve
// it marks (PointLR, PointLoss: for minimum, the minimum, ten times the
// suggestion).
type Suggestion struct {
	Method    string  `json:"method"`
	LR        float64 `json:"lr"`
	PointLR   float64 `json:"point_lr"`
	PointLoss float64 `json:"point_loss"`
}

// smoother is fastai's AvgSmoothLoss: an exponential moving average of the
// losses with bias correction, avg/(1-beta^count).
type smoother struct {
	avg   float64
	count int
}

func (s *smoother) add(loss float64) float64 {
	s.count++
	s.avg = lrFindBeta*s.avg + (1-lrFindBeta)*loss // torch.lerp(loss, avg, beta)
	return s.avg / (1 - math.Pow(lrFindBeta, float64(s.count)))
}

// lrRecorder follows a sweep: it records each step and says when to stop
// (fastai's LRFinder.after_batch).
type lrRecorder struct {
	spec LRFindSpec
	res  LRFindResult
	sm   smoother
	best float64
}

func newLRRecorder(f LRFindSpec) *lrRecorder {
	return &lrRecorder{spec: f, res: LRFindResult{Spec: f}, best: math.Inf(1)}
}

// observe records step i's rate and loss and reports whether the sweep
// ends: after Iters steps, when the smoothed loss passes 4× its minimum,
// or on a non-finite loss (from which fastai drops the rest of the curve).
func (r *lrRecorder) observe(lr, loss float64) bool {
	s := r.sm.add(loss)
	r.res.LRs, r.res.Losses, r.res.Smoothed = append(r.res.LRs, lr), append(r.res.Losses, loss), append(r.res.Smoothed, s)
	if math.IsNaN(s) || math.IsInf(s, 0) {
		r.res.Diverged = true
		return true
	}
	if s < r.best {
		r.best = s
	}
	if s > lrFindDiv*r.best {
		r.res.Diverged = true
		return true
	}
	return len(r.res.LRs) >= r.spec.Iters
}

// finish computes the suggestions from the recorded curve.
func (r *lrRecorder) finish() (*LRFindResult, error) {
	res := r.res
	lrs, losses := SuggestionCurve(res.LRs, res.Smoothed, r.spec.Iters)
	if len(lrs) == 0 {
		return nil, FieldErrorf("Train.LRFind.Start", "lr finder: the loss diverged after %d of %d steps, too early for a suggestion (fastai leaves out the first num_it/10 and the last 5 points): lower {Train.LRFind.Start} %g or {Train.LRFind.End} %g", len(res.LRs), r.spec.Iters, r.spec.Start, r.spec.End)
	}
	for _, m := range SuggestMethods {
		s, err := SuggestLR(m, lrs, losses)
		if err != nil {
			return nil, err
		}
		res.Suggestions = append(res.Suggestions, s)
		if m == r.spec.Suggest {
			res.LR = s.LR
		}
	}
	res.Warnings = lrFindWarnings(&res)
	return &res, nil
}

// SuggestionCurve is the part of a sweep's curve (rates, smoothed losses)
// that fastai's lr_find hands to the suggestion functions: without the
// first iters/10 points and the last 5, and cut at the first NaN.
func SuggestionCurve(lrs, losses []float64, iters int) ([]float64, []float64) {
	lo, hi := iters/10, len(losses)-5
	if hi <= lo {
		return nil, nil
	}
	lrs, losses = lrs[lo:hi], losses[lo:hi]
	for i, l := range losses {
		if math.IsNaN(l) {
			return lrs[:i], losses[:i]
		}
	}
	return lrs, losses
}

// SuggestLR applies one of fastai's suggestion functions (v2.5+,
// fastai/callback/schedule.py) to a curve of rates and smoothed losses
// (see SuggestionCurve), at least one point:
//
//   - valley: the longest valley, i.e. the longest decreasing subsequence
//     of the losses (O(n²), as fastai), ending at max_end and starting at
//     max_start = max_end - its length; the rate at max_start +
//     int(len/3) + int(len/6) — about 2/3 down the valley (an index below
//     0 counts from the end, as Python's).
//   - steep: the rate where the loss falls fastest against log(rate):
//     argmin of (loss[i+1]-loss[i]) / (log lr[i+1] - log lr[i]), at
//     lr[i].
//   - minimum: a tenth of the rate of the lowest loss.
func SuggestLR(method string, lrs, losses []float64) (Suggestion, error) {
	n := len(losses)
	if n == 0 || len(lrs) != n {
		return Suggestion{}, fmt.Errorf("finetune: suggest %s: %d rates and %d losses, want the same number, at least 1", method, len(lrs), n)
	}
	at := func(i int, lr float64) Suggestion {
		return Suggestion{Method: method, LR: lr, PointLR: lrs[i], PointLoss: losses[i]}
	}
	switch method {
	case "valley":
		maxStart, maxEnd := 0, 0
		lds := make([]int, n)
		for i := range lds {
			lds[i] = 1
		}
		for i := 1; i < n; i++ {
			for j := 0; j < i; j++ {
				if losses[i] < losses[j] && lds[i] < lds[j]+1 {
					lds[i] = lds[j] + 1
				}
				if lds[maxEnd] < lds[i] {
					maxEnd = i
					maxStart = maxEnd - lds[maxEnd]
				}
			}
		}
		sections := float64(maxEnd-maxStart) / 3
		idx := maxStart + int(sections) + int(sections/2)
		if idx < 0 {
			idx += n
		}
		return at(idx, lrs[idx]), nil
	case "steep":
		if n < 2 {
			return at(0, lrs[0]), nil
		}
		best, bi := math.Inf(1), 0
		for i := 0; i+1 < n; i++ {
			g := (losses[i+1] - losses[i]) / (math.Log(lrs[i+1]) - math.Log(lrs[i]))
			if g < best {
				best, bi = g, i
			}
		}
		return at(bi, lrs[bi]), nil
	case "minimum":
		bi := 0
		for i, l := range losses {
			if l < losses[bi] {
				bi = i
			}
		}
		return at(bi, lrs[bi]/10), nil
	}
	return Suggestion{}, fmt.Errorf("finetune: suggest %s: want valley, steep or minimum", method)
}

// errLRFindDist refuses the LR finder in a data-parallel run (RunEnv.Dist):
// the sweep runs in one process.
var errLRFindDist = FieldErrorf("Train.LRFind", "{Train.LRFind} (the LR finder) runs in one process: find the rate without a process group, then give it as {Train.LR}")

// lrFinder is a Trainer's pending sweep: set, Trainer.run sweeps instead
// of training and leaves the result here.
type lrFinder struct {
	spec LRFindSpec
	res  *LRFindResult
}

// sweep is the LR finder's mock training on the run's own data path and
// step (Stepper): a fresh optimiser (as the run builds it), batches of
// its own shuffling, the head's rate growing exponentially with the other
// groups at their ratio to it, no validation. Afterwards it restores every
// tensor of vs (weights and batch-norm statistics) and libtorch's random
// generator bit for bit, and frees the optimiser, so that the run trains
// as if the sweep had not happened.
func (t *Trainer) sweep(m Model, vs *nn.VarStore, cfg loop, newOpt func() (*torch.Optimizer, []Group, error), nTrain int, train trainSource) (*Result, error) {
	if t.Dist != nil {
		return nil, errLRFindDist
	}
	f := t.finder
	rec := newLRRecorder(f.spec)
	err := t.worker().Do(func() error {
		restore, err := snapshotVars(vs)
		if err != nil {
			return err
		}
		defer restore.close()
		rng0, err := torch.RNGState()
		if err != nil {
			return err
		}
		if err := torch.ManualSeed(int64(cfg.Seed)); err != nil {
			return err
		}
		opt, _, err := newOpt()
		if err != nil {
			return err
		}
		defer opt.Close()
		st := newStepper(m, opt, cfg, nil)
		var base []float64
		for g := 0; g < opt.Groups(); g++ {
			lr, err := opt.LR(g)
			if err != nil {
				return err
			}
			base = append(base, lr)
		}
		head := base[len(base)-1]
		rng := rand.New(rand.NewPCG(cfg.Seed, 0x6c722d66696e64)) // "lr-find": not the run's shuffling
		steps := StepsPerEpoch(nTrain, cfg.Batch)
		err = func() error {
			for pass := 1; ; pass++ {
				order := rng.Perm(nTrain)
				it := train(order[:min(len(order), steps*cfg.Batch)], pass, 0)
				for s := 0; s < steps; s++ {
					b, err := it.next()
					if err == nil && b == nil {
						err = fmt.Errorf("%d batches, want %d", s, steps)
					}
					if err != nil {
						it.close()
						return fmt.Errorf("finetune: lr finder step %d: %w", len(rec.res.LRs)+1, err)
					}
					if b.n == 0 { // every image of the batch was skipped
						b.free()
						continue
					}
					lr := f.spec.rate(len(rec.res.LRs))
					for g, r := range base {
						if err := opt.SetLR(g, r/head*lr); err != nil {
							b.free()
							it.close()
							return err
						}
					}
					loss, _, err := st.run(b)
					if err != nil {
						it.close()
						return fmt.Errorf("finetune: lr finder step %d: %w", len(rec.res.LRs)+1, err)
					}
					if rec.observe(lr, loss) {
						it.close()
						return nil
					}
				}
				it.close()
			}
		}()
		if err != nil {
			return err
		}
		if err := restore.restore(); err != nil {
			return err
		}
		return torch.SetRNGState(rng0)
	})
	if err != nil {
		return nil, err
	}
	if f.res, err = rec.finish(); err != nil {
		return nil, err
	}
	return &Result{}, nil
}

// varSnapshot holds copies of a store's tensors, to put back bit for bit.
type varSnapshot struct {
	names       []string // sorted
	live, saved []*ts.Tensor
}

// snapshotVars copies every tensor of vs (trainable or not: batch-norm
// statistics included). Call on the torch thread.
func snapshotVars(vs *nn.VarStore) (*varSnapshot, error) {
	vars := vs.Variables()
	names := make([]string, 0, len(vars))
	for n := range vars {
		names = append(names, n)
	}
	sort.Strings(names)
	s := &varSnapshot{}
	err := torch.WithoutGrad(func() error {
		for _, n := range names {
			v := vars[n]
			c, err := v.ZerosLike(false)
			if err != nil {
				return fmt.Errorf("finetune: copy %s: %w", n, err)
			}
			c.Copy_(&v)
			s.names, s.live, s.saved = append(s.names, n), append(s.live, &v), append(s.saved, c)
		}
		return nil
	})
	if err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

// restore copies the saved values back into the store's tensors.
func (s *varSnapshot) restore() error {
	return torch.WithoutGrad(func() error {
		for i, c := range s.saved {
			s.live[i].Copy_(c)
		}
		return nil
	})
}

func (s *varSnapshot) close() {
	for _, c := range s.saved {
		c.MustDrop()
	}
	s.saved = nil
}

// LRFindSummary is what config.json records of the LR finder: the
// suggestions, the one the run trains at, and how far the sweep went.
type LRFindSummary struct {
	Suggest     string       `json:"suggest"`
	LR          float64      `json:"lr"`
	Suggestions []Suggestion `json:"suggestions"`
	Steps       int          `json:"steps"`
	Diverged    bool         `json:"diverged"`
}

// StepsString says how far the sweep went over which range: "100 steps
// from 1e-07 to 10", or "37 of 100 steps from 1e-07 to 10" when it
// stopped early.
func (r *LRFindResult) StepsString() string {
	n := strconv.Itoa(len(r.LRs))
	if len(r.LRs) < r.Spec.Iters {
		n += " of " + strconv.Itoa(r.Spec.Iters)
	}
	return fmt.Sprintf("%s steps from %g to %g", n, r.Spec.Start, r.Spec.End)
}

// Summary returns what config.json records of r (nil for nil).
func (r *LRFindResult) Summary() *LRFindSummary {
	if r == nil {
		return nil
	}
	return &LRFindSummary{Suggest: r.Spec.Suggest, LR: r.LR, Suggestions: r.Suggestions, Steps: len(r.LRs), Diverged: r.Diverged}
}

// The LR finder's files in a run's folder: the curve (lr, loss,
// smoothed_loss per step) and its plot.
const (
	lrFindCSV = "lr-find.csv"
	lrFindPNG = "lr-find.png"
)

// findLR runs the LR finder through fit (the run's data path, with the
// trainer's finder set) and sets the spec's and the trainer's rate to the
// suggestion. A resumed run does not sweep again: it continues at the rate
// its first run found (config.json).
func findLR(tr *Trainer, s *RunSpec, fit func() (*Result, error)) (*LRFindResult, error) {
	if s.Resume {
		var rc RunConfig
		b, err := os.ReadFile(filepath.Join(s.Out, "config.json"))
		if err == nil {
			err = json.Unmarshal(b, &rc)
		}
		if err != nil || rc.LRFind == nil {
			return nil, FieldErrorf("Train.LRFind", "{Train.LRFind} with {Resume}: %s does not record a found rate (config.json); resume with the rate given as {Train.LR}", s.Out)
		}
		s.Train.LR, tr.Train.LR = rc.Spec.Train.LR, rc.Spec.Train.LR
		return &LRFindResult{Spec: *s.Train.LRFind, Suggestions: rc.LRFind.Suggestions, LR: rc.LRFind.LR, Diverged: rc.LRFind.Diverged}, nil
	}
	tr.finder = &lrFinder{spec: *s.Train.LRFind}
	defer func() { tr.finder = nil }()
	if _, err := fit(); err != nil {
		return nil, err
	}
	r := tr.finder.res
	s.Train.LR, tr.Train.LR = r.LR, r.LR
	return r, nil
}

// FindLR runs the LR finder of spec.Train.LRFind (its defaults when nil)
// on spec's data and model, as Run would before training, and returns the
// sweep and its suggestions without training. With spec.Out set it writes
// lr-find.csv and lr-find.png there (and nothing else).
func FindLR(ctx context.Context, spec RunSpec, env RunEnv) (*LRFindResult, error) {
	if spec.Train.LRFind == nil {
		spec.Train.LRFind = &LRFindSpec{}
	}
	out := spec.Out
	spec.Out, spec.Resume, spec.TensorBoard = "", false, ""
	env.lrFindOnly = true
	res, err := Run(ctx, spec, env)
	if err != nil {
		return nil, err
	}
	if out != "" {
		if err := os.MkdirAll(out, 0o755); err != nil {
			return nil, err
		}
		if err := writeLRFind(out, res.LRFind); err != nil {
			return nil, err
		}
	}
	return res.LRFind, nil
}

// writeLRFind writes the sweep's curve and plot into dir.
func writeLRFind(dir string, r *LRFindResult) error {
	var b strings.Builder
	b.WriteString("lr,loss,smoothed_loss\n")
	for i := range r.LRs {
		fmt.Fprintf(&b, "%s,%s,%s\n", strconv.FormatFloat(r.LRs[i], 'g', -1, 64), strconv.FormatFloat(r.Losses[i], 'g', -1, 64), strconv.FormatFloat(r.Smoothed[i], 'g', -1, 64))
	}
	if err := npy.WriteFileAtomic(filepath.Join(dir, lrFindCSV), []byte(b.String())); err != nil {
		return err
	}
	return PlotLRFind(filepath.Join(dir, lrFindPNG), r)
}

// PlotLRFind draws the sweep as fastai's plot_lr_find does: the smoothed
// loss against the rate (log axis) without the last 5 points, with each
// suggestion's point marked and named, the chosen one first.
func PlotLRFind(path string, r *LRFindResult) error {
	n := max(len(r.LRs)-5, min(len(r.LRs), 2))
	var xs, ys []float64
	for i := 0; i < n; i++ {
		if !math.IsNaN(r.Smoothed[i]) && !math.IsInf(r.Smoothed[i], 0) {
			xs, ys = append(xs, r.LRs[i]), append(ys, r.Smoothed[i])
		}
	}
	var marks []chart.Mark
	for _, s := range r.Suggestions {
		name := fmt.Sprintf("%s: %.3g", s.Method, s.LR)
		if s.PointLR != s.LR { // minimum marks the curve's minimum and suggests a tenth of its rate
			name = fmt.Sprintf("%s at %.3g: %.3g", s.Method, s.PointLR, s.LR)
		}
		if s.Method == r.Spec.Suggest {
			name += " (used)"
			marks = append([]chart.Mark{{Name: name, X: s.PointLR, Y: s.PointLoss}}, marks...)
			continue
		}
		marks = append(marks, chart.Mark{Name: name, X: s.PointLR, Y: s.PointLoss})
	}
	title := "LR finder: " + r.StepsString()
	if r.Diverged {
		title += ", stopped at divergence"
	}
	return chart.Sweep(path, chart.SweepChart{Title: title, XLabel: "learning rate (head)", YLabel: "loss (smoothed)", X: xs, Y: ys, Marks: marks})
}
