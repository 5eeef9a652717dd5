package main

import (
	"fmt"
	"io"
	"strings"
)

// exitPanic is the exit code of a run that hit a Go panic (a gtl bug).
const exitPanic = 70 // EX_SOFTWARE in sysexits.h

// pleaseReport ends the line gtl prints for a bug.
const pleaseReport = "this is a bug in gtl: please report it with the command line that caused it"

// catchPanic, deferred at the top of run, turns a panic that escaped every
// command into one line on stderr and exitPanic, with no goroutine trace.
func catchPanic(stderr io.Writer, code *int) {
	r := recover()
	if r == nil {
		return
	}
	fmt.Fprintf(stderr, "gtl: internal error: %s (%s)\n", firstLine(fmt.Sprint(r)), pleaseReport)
	*code = exitPanic
}

// reportIfPanic adds the please-report note to an error message that says a
// panic was caught below run (torch.Do and the loader turn panics into
// errors), and gives the exit code to use.
func reportIfPanic(msg string, code int) (string, int) {
	if strings.Contains(msg, "panic:") {
		return msg + " (" + pleaseReport + ")", exitPanic
	}
	return msg, code
}
