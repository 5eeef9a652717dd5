package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/gtl-dev/gtl/torch"
)

// TestPanicsAreOneLine: a panic escaping a command, and one that torch.Do
// caught and returned as an error, each end as one stderr line saying
// "please report", with exit code 70 and no goroutine trace.
func TestPanicsAreOneLine(t *testing.T) {
	for _, c := range []struct {
		name string
		fn   func(stderr *bytes.Buffer) int
		want string
	}{
		{"escaped", func(stderr *bytes.Buffer) (code int) {
			defer catchPanic(stderr, &code)
			var m map[string]int
			m["x"] = 1 // assignment to entry in nil map
			return 0
		}, "gtl: internal error: assignment to entry in nil map"},
		{"via torch.Do", func(stderr *bytes.Buffer) int {
			err := torch.Do(func() error { panic(errors.New("boom")) })
			msg, code := reportIfPanic(firstLine(err.Error()), 1)
			stderr.WriteString("gtl: " + msg + "\n")
			return code
		}, "gtl: torch: panic: boom"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var stderr bytes.Buffer
			code := c.fn(&stderr)
			out := stderr.String()
			if code != exitPanic || strings.Count(out, "\n") != 1 || !strings.HasPrefix(out, c.want) ||
				!strings.Contains(out, "please report") || strings.Contains(out, "goroutine") {
				t.Fatalf("exit %d, stderr %q", code, out)
			}
		})
	}
}
