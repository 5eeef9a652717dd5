package main

import (
	"fmt"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/urfave/cli/v2"

	"github.com/gtl-dev/gtl/finetune"
)

// trainingBar is a progress bar over a training run, attached to the
// trainer's hooks; it shows only on a terminal and without --quiet.
type trainingBar struct {
	show bool
	bar  *progressbar.ProgressBar
	// this epoch so far: images, correct predictions, start
	epoch, images, correct int
	began                  time.Time
}

func newTrainingBar(c *cli.Context) *trainingBar {
	return &trainingBar{show: !c.Bool("quiet") && isTerminal(os.Stderr)}
}

func (b *trainingBar) start(p finetune.Plan) {
	if b.show {
		b.bar = newBar(p.Epochs*p.StepsPerEpoch, "training")
	}
}

func (b *trainingBar) step(s finetune.Step) {
	if b.bar == nil {
		return
	}
	if s.Epoch != b.epoch {
		b.epoch, b.images, b.correct, b.began = s.Epoch, 0, 0, time.Now()
	}
	b.images += s.Images
	b.correct += s.Correct
	ips := float64(b.images) / max(time.Since(b.began).Seconds(), 1e-3)
	b.bar.Describe(fmt.Sprintf("epoch %d step %d loss %.3f acc %.1f%% %.0f img/s", s.Epoch, s.Step, s.Loss, 100*float64(b.correct)/float64(max(1, b.images)), ips))
	_ = b.bar.Add(1)
}

// clear removes the bar before a line of results is printed.
func (b *trainingBar) clear() {
	if b.bar != nil {
		_ = b.bar.Clear()
	}
}

func (b *trainingBar) finish() {
	if b.bar != nil {
		_ = b.bar.Finish()
	}
}

func newBar(total int, desc string) *progressbar.ProgressBar {
	return progressbar.NewOptions(total,
		progressbar.OptionSetWriter(os.Stderr),
		progressbar.OptionSetDescription(desc),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("steps"),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionClearOnFinish(),
	)
}

// isTerminal reports whether f is a character device (a terminal), so
// progress bars stay out of logs and pipes.
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// gridBar is a progress bar over all the optimisation steps of a
// comparison, with the run in progress as its description.
type gridBar struct {
	bar *progressbar.ProgressBar
}

func newGridBar(c *cli.Context, totalSteps int) *gridBar {
	if c.Bool("quiet") || !isTerminal(os.Stderr) {
		return &gridBar{}
	}
	return &gridBar{bar: newBar(totalSteps, "compare")}
}

func (b *gridBar) describe(cell fmt.Stringer) {
	if b.bar != nil {
		b.bar.Describe(cell.String())
	}
}

func (b *gridBar) add(n int) {
	if b.bar != nil {
		_ = b.bar.Add(n)
	}
}

// skip counts the steps of a run finished before (--resume) without
// letting them shorten the time estimate much.
func (b *gridBar) skip(n int) {
	if b.bar != nil {
		b.bar.ChangeMax(b.bar.GetMax() - n)
	}
}

func (b *gridBar) clear() {
	if b.bar != nil {
		_ = b.bar.Clear()
	}
}

func (b *gridBar) finish() {
	if b.bar != nil {
		_ = b.bar.Finish()
	}
}
