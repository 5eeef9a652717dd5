package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gtl-dev/gtl/finetune"
)

// TestLayout: the status line fits the width it is given, leaving fields
// out from the least important, then the bar, and never wraps.
func TestLayout(t *testing.T) {
	fields := []field{{"step 12/300", 1}, {"loss 0.423", 2}, {"acc 85.1%", 3}, {"312 img/s", 5}, {"1m20s left", 4}}
	tests := []struct {
		cols int
		want string
	}{
		{120, "epoch 2/5 [=>                                      ] step 12/300  loss 0.423  acc 85.1%  312 img/s  1m20s left"},
		{79, "epoch 2/5 [>                   ] step 12/300  loss 0.423  acc 85.1%  1m20s left"}, // img/s left out first
		{70, "epoch 2/5 [>          ] step 12/300  loss 0.423  acc 85.1%  1m20s left"},
		{50, "epoch 2/5 [>             ] step 12/300  loss 0.423"},
		{30, "epoch 2/5 step 12/300"},
		{12, "epoch 2/5"},
		{5, "epoch"},
		{0, ""},
	}
	for _, tt := range tests {
		got := layout(tt.cols, "epoch 2/5", 12, 300, fields)
		if got != tt.want {
			t.Errorf("%d columns:\n got %q\nwant %q", tt.cols, got, tt.want)
		}
		if n := utf8.RuneCountInString(got); n > tt.cols {
			t.Errorf("%d columns: %d wide", tt.cols, n)
		}
	}
	if got := layout(30, "", 5, 10, nil); got != "[==============>             ]" {
		t.Errorf("bar alone: %q", got)
	}
	if got := layout(30, "x", 10, 10, nil); got != "x [==========================]" {
		t.Errorf("done: %q", got)
	}
}

// TestMeter: no rate or time left until three steps after the first and a
// second have been measured, and the first step (the warm-up) never counts.
func TestMeter(t *testing.T) {
	t0 := time.Unix(1000, 0)
	var m meter
	m.add(32, t0) // the first step: 32 images in no measured time
	if _, ok := m.rate(t0.Add(time.Millisecond)); ok {
		t.Fatal("a rate from the first step alone")
	}
	for i := 1; i <= 3; i++ {
		m.add(32, t0.Add(time.Duration(i)*200*time.Millisecond))
	}
	if _, ok := m.rate(t0.Add(600 * time.Millisecond)); ok {
		t.Fatal("a rate after 0.6 s of measurement")
	}
	r, ok := m.rate(t0.Add(2 * time.Second))
	if !ok || r != 48 { // 96 images after the first step in 2 s
		t.Fatalf("rate %v %v, want 48 img/s", r, ok)
	}
	left, ok := m.eta(30, t0.Add(2*time.Second))
	if !ok || left != 20*time.Second { // 3 steps in 2 s
		t.Fatalf("eta %v %v, want 20s", left, ok)
	}
}

func TestDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{0: "0s", 45 * time.Second: "45s", 185 * time.Second: "3m05s", 3720 * time.Second: "1h02m"} {
		if got := duration(d); got != want {
			t.Errorf("duration(%v) = %q, want %q", d, got, want)
		}
	}
}

// TestNoProgressOffTerminal: a bar on a writer that is not a terminal (a
// log, a pipe, a file) writes nothing.
func TestNoProgressOffTerminal(t *testing.T) {
	var buf bytes.Buffer
	f, err := os.CreateTemp(t.TempDir(), "stderr")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, w := range []interface{ Write([]byte) (int, error) }{&buf, f} {
		tb := &trainingBar{line: newLiveLine(w, false)}
		tb.start(finetune.Plan{Epochs: 1, StepsPerEpoch: 2})
		tb.step(finetune.Step{Epoch: 1, Step: 1, Images: 4, Loss: 1})
		tb.step(finetune.Step{Epoch: 1, Step: 2, Images: 4, Loss: 1})
		tb.clear()
		tb.finish()
		cb := newCountBar(w, false, "embedding", 10, nil)
		cb.set(10)
		cb.finish()
	}
	b, _ := os.ReadFile(f.Name())
	if buf.Len() != 0 || len(b) != 0 {
		t.Fatalf("wrote %q and %q off a terminal", buf.String(), b)
	}
}

// TestTrainingBarLine: on a terminal the line after a step fits it and
// shows no rate until one means something.
func TestTrainingBarLine(t *testing.T) {
	var buf bytes.Buffer
	l := &liveLine{w: &buf, cols: func() int { return 80 }}
	tb := &trainingBar{line: l}
	tb.start(finetune.Plan{Epochs: 3, StepsPerEpoch: 100})
	tb.step(finetune.Step{Epoch: 1, Step: 1, Images: 32, Correct: 8, Loss: 2.302})
	out := buf.String()
	if !strings.HasPrefix(out, "\r") || !strings.HasSuffix(out, "\x1b[K") {
		t.Fatalf("%q: want a line redrawn in place", out)
	}
	line := strings.TrimSuffix(strings.TrimPrefix(out, "\r"), "\x1b[K")
	if n := utf8.RuneCountInString(line); n > 79 {
		t.Errorf("%d columns on an 80-column terminal: %q", n, line)
	}
	if strings.Contains(line, "img/s") || strings.Contains(line, "left") {
		t.Errorf("a rate after the first step: %q", line)
	}
	if want := "epoch 1/3 [>"; !strings.HasPrefix(line, want) || !strings.Contains(line, "step 1/100  loss 2.302  acc 25.0%") {
		t.Errorf("line %q", line)
	}
	// A multi-label run's bar names what Correct counts.
	var mbuf bytes.Buffer
	mb := &trainingBar{line: &liveLine{w: &mbuf, cols: func() int { return 80 }}}
	mb.start(finetune.Plan{Epochs: 3, StepsPerEpoch: 100, MultiLabel: true})
	mb.step(finetune.Step{Epoch: 1, Step: 1, Images: 32, Correct: 8, Loss: 0.693})
	if !strings.Contains(mbuf.String(), "loss 0.693  exact 25.0%") {
		t.Errorf("multi-label line %q", mbuf.String())
	}
	buf.Reset()
	tb.clear()
	if buf.String() != "\r\x1b[K" {
		t.Errorf("clear wrote %q", buf.String())
	}
}

// TestEmbedNoCarriageReturn: gtl embed with its progress on (no -q) writes
// no carriage return into a stderr that is not a terminal.
func TestEmbedNoCarriageReturn(t *testing.T) {
	root := t.TempDir()
	for i := 0; i < 3; i++ {
		writeSeededPNG(t, filepath.Join(root, "cats", fmt.Sprintf("c%d.png", i)), uint64(i))
		writeSeededPNG(t, filepath.Join(root, "dogs", fmt.Sprintf("d%d.png", i)), uint64(10+i))
	}
	_, errOut, code := gtl("embed", "--model", "squeezenet1_1", "--num-classes", "2", "--batch", "2", "--data", root, "--out", filepath.Join(t.TempDir(), "f.npy"))
	if code != 0 || strings.Contains(errOut, "\r") || strings.Contains(errOut, "\x1b") {
		t.Fatalf("exit %d, stderr %q: want no carriage returns or escapes off a terminal", code, errOut)
	}
}
