package finetune

import (
	"fmt"
	"math"
)

// Schedule gives the learning-rate multiplier for optimisation step i
// (0-based) of total steps; every parameter group's rate is its base rate
// times the multiplier.
type Schedule func(i, total int) float64

// ScheduleNames lists the schedules ParseSchedule knows.
var ScheduleNames = []string{"constant", "cosine", "step", "onecycle"}

// ParseSchedule returns a named schedule. warmup is the fraction of all
// steps spent rising linearly from 0 (cosine and constant); "step" divides
// the rate by 10 at 1/2 and 3/4 of training; "onecycle" rises for 30% of
// training and anneals with a cosine to 1/10000 of the peak (fastai's
// fit_one_cycle).
func ParseSchedule(name string, warmup float64) (Schedule, error) {
	if warmup < 0 || warmup >= 1 {
		return nil, fmt.Errorf("finetune: warmup %g: want a fraction of training in [0, 1)", warmup)
	}
	warm := func(i, total int) (float64, bool) {
		w := int(warmup * float64(total))
		if i < w {
			return float64(i+1) / float64(w+1), true
		}
		return 0, false
	}
	switch name {
	case "", "constant":
		return func(i, total int) float64 {
			if f, ok := warm(i, total); ok {
				return f
			}
			return 1
		}, nil
	case "cosine":
		return func(i, total int) float64 {
			if f, ok := warm(i, total); ok {
				return f
			}
			w := int(warmup * float64(total))
			p := float64(i-w) / float64(max(total-w, 1))
			return 0.5 * (1 + math.Cos(math.Pi*p))
		}, nil
	case "step":
		return func(i, total int) float64 {
			switch p := float64(i) / float64(max(total, 1)); {
			case p >= 0.75:
				return 0.01
			case p >= 0.5:
				return 0.1
			}
			return 1
		}, nil
	case "onecycle":
		return func(i, total int) float64 {
			const pct, start, end = 0.3, 1.0 / 25, 1.0 / 1e4
			up := int(pct * float64(total))
			cos := func(a, b, p float64) float64 { return b + (a-b)/2*(1+math.Cos(math.Pi*p)) }
			if i < up {
				return cos(start, 1, float64(i)/float64(max(up, 1)))
			}
			return cos(1, end, float64(i-up)/float64(max(total-up, 1)))
		}, nil
	}
	return nil, fmt.Errorf("finetune: unknown schedule %q (want one of %v)", name, ScheduleNames)
}
