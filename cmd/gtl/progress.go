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
	if b.bar != nil {
		b.bar.Describe(fmt.Sprintf("epoch %d loss %.3f", s.Epoch, s.Loss))
		_ = b.bar.Add(1)
	}
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
