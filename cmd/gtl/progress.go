package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/gtl-dev/gtl/finetune"
)

// Progress on stderr is one line redrawn in place, and only on a terminal:
// a log or a pipe gets no carriage returns. The line is laid out for the
// terminal's width at every redraw (see layout), so that it never wraps.

// liveLine is a status line redrawn in place on a terminal. On any other
// writer it draws nothing.
type liveLine struct {
	w     io.Writer
	cols  func() int    // the terminal's width; nil: not a terminal
	every time.Duration // least time between redraws
	last  time.Time
	drawn bool
}

// newLiveLine returns a live line on w, off unless w is a terminal and
// quiet is false.
func newLiveLine(w io.Writer, quiet bool) *liveLine {
	l := &liveLine{w: w, every: 100 * time.Millisecond}
	if f, ok := w.(*os.File); ok && !quiet && term.IsTerminal(int(f.Fd())) {
		fd := int(f.Fd())
		l.cols = func() int {
			if c, _, err := term.GetSize(fd); err == nil && c > 0 {
				return c
			}
			return 80
		}
	}
	return l
}

// on reports whether the line is drawn at all.
func (l *liveLine) on() bool { return l != nil && l.cols != nil }

// due reports whether a redraw is due (the last was long enough ago).
func (l *liveLine) due() bool { return l.on() && time.Since(l.last) >= l.every }

// draw replaces the line with the text render returns for the terminal's
// width, when a redraw is due or force is set.
func (l *liveLine) draw(render func(cols int) string, force bool) {
	if !l.on() || !force && !l.due() {
		return
	}
	l.last = time.Now()
	// One column short of the width: a character in the last column
	// makes some terminals wrap.
	fmt.Fprintf(l.w, "\r%s\x1b[K", render(l.cols()-1))
	l.drawn = true
}

// clear removes the line, so that a line of results can be printed.
func (l *liveLine) clear() {
	if l.on() && l.drawn {
		fmt.Fprint(l.w, "\r\x1b[K")
		l.drawn = false
	}
}

// field is one piece of a status line; fields with a higher drop value are
// left out first when the line does not fit.
type field struct {
	text string
	drop int
}

// minBar is the narrowest progress bar worth drawing, brackets included.
const minBar = 12

// maxBar is the widest.
const maxBar = 42

// keepOverBar: fields whose drop is at most this are kept over the bar
// (the step count says as much as the bar, in fewer columns).
const keepOverBar = 1

// layout lays a status line out in cols columns: head, a bar of done out
// of total, then the fields in order. Fields are left out, the highest drop
// first, until the line fits with a bar of at least minBar columns; the
// bar goes before the fields of drop keepOverBar or less; what still does
// not fit is cut. total <= 0 draws no bar.
func layout(cols int, head string, done, total int, fields []field) string {
	if cols <= 0 {
		return ""
	}
	kept := append([]field(nil), fields...)
	line := func(bar string) string {
		var fs []string
		for _, f := range kept {
			fs = append(fs, f.text)
		}
		var parts []string
		for _, p := range []string{head, bar, strings.Join(fs, "  ")} {
			if p != "" {
				parts = append(parts, p)
			}
		}
		return strings.Join(parts, " ")
	}
	width := utf8.RuneCountInString
	withBar := total > 0
	for {
		need := width(line(""))
		if withBar {
			need += minBar + 1
		}
		if need <= cols {
			break
		}
		i := worst(kept)
		if withBar && (i < 0 || kept[i].drop <= keepOverBar) {
			withBar = false
			continue
		}
		if i < 0 {
			break
		}
		kept = append(kept[:i], kept[i+1:]...)
	}
	if !withBar {
		return cut(line(""), cols)
	}
	room := cols - width(line(""))
	if line("") != "" {
		room-- // the space before the bar
	}
	return line(bar(min(maxBar, room), done, total))
}

// worst returns the index of the field to leave out first (-1: none left).
func worst(fs []field) int {
	w := -1
	for i, f := range fs {
		if w < 0 || f.drop >= fs[w].drop {
			w = i
		}
	}
	return w
}

// bar draws [=====>    ] in width columns, brackets included.
func bar(width, done, total int) string {
	inner := width - 2
	if inner < 1 {
		return ""
	}
	n := inner
	if done < total {
		n = inner * max(done, 0) / total
	}
	s := strings.Repeat("=", n)
	if n < inner {
		s += ">" + strings.Repeat(" ", inner-n-1)
	}
	return "[" + s + "]"
}

// cut shortens s to cols columns.
func cut(s string, cols int) string {
	if utf8.RuneCountInString(s) <= cols {
		return s
	}
	r := []rune(s)
	return string(r[:max(cols, 0)])
}

// duration writes d for a status line: 45s, 3m05s, 1h02m.
func duration(d time.Duration) string {
	s := int(d.Round(time.Second).Seconds())
	switch {
	case s < 60:
		return fmt.Sprintf("%ds", s)
	case s < 3600:
		return fmt.Sprintf("%dm%02ds", s/60, s%60)
	}
	return fmt.Sprintf("%dh%02dm", s/3600, s%3600/60)
}

// meter measures a rate from a run of steps, leaving the first out: it
// carries the warm-up (allocations, the first batch's decoding, lazy
// initialisation), and a rate from it alone is noise ("32000 img/s").
type meter struct {
	began time.Time // the end of the first step
	steps int       // counted after the first
	units int       // images (or steps) counted after the first step
}

// minSteps and minTime are how much a meter must have measured before its
// rate is shown.
const (
	minSteps = 3
	minTime  = time.Second
)

// add counts a step of n units that ended at now.
func (m *meter) add(n int, now time.Time) {
	if m.began.IsZero() {
		m.began = now
		return
	}
	m.steps++
	m.units += n
}

// rate returns units per second, and false until enough is measured.
func (m *meter) rate(now time.Time) (float64, bool) {
	d := now.Sub(m.began)
	if m.began.IsZero() || m.steps < minSteps || d < minTime {
		return 0, false
	}
	return float64(m.units) / d.Seconds(), true
}

// eta returns the time the remaining steps will take at the measured rate
// of steps, and false until enough is measured.
func (m *meter) eta(remaining int, now time.Time) (time.Duration, bool) {
	d := now.Sub(m.began)
	if m.began.IsZero() || m.steps < minSteps || d < minTime {
		return 0, false
	}
	return time.Duration(float64(remaining) * float64(d) / float64(m.steps)), true
}

// trainingBar is a progress line over a training run, attached to the
// trainer's hooks; it shows only on a terminal and without --quiet.
type trainingBar struct {
	line   *liveLine
	epochs int
	steps  int  // per epoch
	multi  bool // multi-label: Correct counts exact label-set matches
	// this epoch so far
	epoch, at, images, correct int // at: the step within the epoch
	loss                       float64
	speed                      meter // images, this epoch
	all                        meter // steps, the whole run (for the time left)
	done                       int   // steps of the run so far
}

func newTrainingBar(c *cli.Context) *trainingBar {
	return &trainingBar{line: newLiveLine(c.App.ErrWriter, c.Bool("quiet"))}
}

func (b *trainingBar) start(p finetune.Plan) {
	b.epochs, b.steps, b.done, b.multi = p.Epochs, p.StepsPerEpoch, p.Done, p.MultiLabel // a resumed run's earlier steps are done
}

func (b *trainingBar) step(s finetune.Step) {
	if !b.line.on() {
		return
	}
	now := time.Now()
	if s.Epoch != b.epoch {
		b.epoch, b.images, b.correct, b.speed = s.Epoch, 0, 0, meter{}
	}
	b.at, b.loss = s.Step, s.Loss
	b.images += s.Images
	b.correct += s.Correct
	b.speed.add(s.Images, now)
	b.all.add(1, now)
	b.done++
	b.line.draw(b.render(now), s.Step == b.steps)
}

// render lays out the line for the state after a step.
func (b *trainingBar) render(now time.Time) func(int) string {
	return func(cols int) string {
		acc := "acc"
		if b.multi {
			acc = "exact" // the share of images whose whole label set is right
		}
		fs := []field{
			{fmt.Sprintf("step %d/%d", b.at, b.steps), 1},
			{fmt.Sprintf("loss %.3f", b.loss), 2},
			{fmt.Sprintf("%s %.1f%%", acc, 100*float64(b.correct)/float64(max(1, b.images))), 3},
		}
		if r, ok := b.speed.rate(now); ok {
			fs = append(fs, field{fmt.Sprintf("%.0f img/s", r), 5})
		}
		if left, ok := b.all.eta(b.epochs*b.steps-b.done, now); ok {
			fs = append(fs, field{duration(left) + " left", 4})
		}
		return layout(cols, fmt.Sprintf("epoch %d/%d", b.epoch, b.epochs), b.at, b.steps, fs)
	}
}

// clear removes the line before a line of results is printed.
func (b *trainingBar) clear() { b.line.clear() }

func (b *trainingBar) finish() { b.line.clear() }

// isTerminal reports whether f is a terminal, so progress stays out of
// logs and pipes.
func isTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }

// gridBar is a progress line over all the optimisation steps of a
// comparison, with the run in progress.
type gridBar struct {
	line        *liveLine
	total, done int
	cell        string
	speed       meter // steps
}

func newGridBar(c *cli.Context, totalSteps int) *gridBar {
	return &gridBar{line: newLiveLine(c.App.ErrWriter, c.Bool("quiet")), total: totalSteps}
}

func (b *gridBar) describe(cell fmt.Stringer) {
	b.cell = cell.String()
	b.speed = meter{} // a new run: its own warm-up
}

func (b *gridBar) add(n int) {
	if !b.line.on() {
		return
	}
	now := time.Now()
	b.done += n
	b.speed.add(n, now)
	b.line.draw(func(cols int) string {
		fs := []field{{fmt.Sprintf("%d/%d steps", b.done, b.total), 1}, {b.cell, 2}}
		if left, ok := b.speed.eta(b.total-b.done, now); ok {
			fs = append(fs, field{duration(left) + " left", 3})
		}
		return layout(cols, "compare", b.done, b.total, fs)
	}, false)
}

// skip counts the steps of a run finished before (--resume): they leave
// the total.
func (b *gridBar) skip(n int) { b.total -= n }

func (b *gridBar) clear() { b.line.clear() }

func (b *gridBar) finish() { b.line.clear() }

// countBar is a progress line over a count of things (images embedded,
// bytes downloaded).
type countBar struct {
	line  *liveLine
	head  string
	total int64
	unit  func(int64) string
}

func newCountBar(w io.Writer, quiet bool, head string, total int64, unit func(int64) string) *countBar {
	if unit == nil {
		unit = func(n int64) string { return fmt.Sprint(n) }
	}
	return &countBar{line: newLiveLine(w, quiet), head: head, total: total, unit: unit}
}

// set draws done out of the total.
func (b *countBar) set(done int64) {
	b.line.draw(func(cols int) string {
		return layout(cols, b.head, int(done*1000/max(b.total, 1)), 1000,
			[]field{{b.unit(done) + "/" + b.unit(b.total), 1}})
	}, done >= b.total)
}

func (b *countBar) finish() { b.line.clear() }

// mebibytes writes a byte count in MiB.
func mebibytes(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
