package main

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
)

// function is one generated wrapper function: lines [start, end] (0-based,
// inclusive) of the generated file, from its signature to its closing brace.
type function struct {
	name       string // C name, e.g. atg__cslt_compress
	returnType string // e.g. "void", "tensor *", "int64_t"
	start, end int
}

// signatureRE matches the first line of a generated function: a return type,
// the atg_ name and the opening brace at the end of the line.
var signatureRE = regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_ ]*?[ *]+)(atg_[A-Za-z0-9_]+)\(.*\)\s*\{\s*$`)

// parseFunctions finds the generated functions in lines.
func parseFunctions(lines []string) []function {
	var fns []function
	for i := 0; i < len(lines); i++ {
		m := signatureRE.FindStringSubmatch(lines[i])
		if m == nil {
			continue
		}
		fn := function{name: m[2], returnType: strings.TrimSpace(m[1]), start: i, end: -1}
		for j := i + 1; j < len(lines); j++ {
			if strings.TrimRight(lines[j], " \t\r") == "}" {
				fn.end = j
				break
			}
		}
		if fn.end < 0 {
			break // unterminated: ignore the tail
		}
		fns = append(fns, fn)
		i = fn.end
	}
	return fns
}

// diagnostic is what the compiler output says about the generated file.
type diagnostic struct {
	genLines   []int    // 1-based lines of the generated file that errors trace to
	unassigned []string // error lines that trace to no line of the generated file
}

// parseErrors reads g++/clang diagnostics and returns, for every error, the
// line of the file named genBase it comes from: the error's own location when
// it is in that file, otherwise the last "required from" (template
// instantiation) location in that file within the same diagnostic context.
func parseErrors(r io.Reader, genBase string) (diagnostic, error) {
	loc := regexp.MustCompile(`^(?:\S*/)?` + regexp.QuoteMeta(genBase) + `:(\d+):(?:\d+:)?\s*(error|required from|fatal error)`)
	// A new diagnostic context (a function, an instantiation, an include
	// chain) ends the previous "required from" trace.
	context := regexp.MustCompile(`^In file included from |: In (?:instantiation|function|member function|static member function|constructor|destructor|lambda|substitution)`)
	errLine := regexp.MustCompile(`^[^\s:]+:\d+(?::\d+)?:\s*(?:fatal )?error:`)
	var d diagnostic
	pending := 0
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		line := sc.Text()
		m := loc.FindStringSubmatch(line)
		isErr := errLine.MatchString(line)
		if context.MatchString(line) {
			pending = 0
		}
		switch {
		case m != nil && strings.Contains(m[2], "error"):
			n, _ := strconv.Atoi(m[1])
			d.genLines = append(d.genLines, n)
		case m != nil: // required from
			n, _ := strconv.Atoi(m[1])
			pending = n
		case isErr:
			if pending > 0 {
				d.genLines = append(d.genLines, pending)
			} else {
				d.unassigned = append(d.unassigned, strings.TrimSpace(line))
			}
		}
	}
	return d, sc.Err()
}

// stub returns the replacement lines for fn: same signature, a body that
// records a libtorch-style error, and a zero return value where one is needed.
func stub(fn function, signature, version string) []string {
	msg := fmt.Sprintf("gtl: op %s is not available in libtorch %s (disabled when the wrapper was built; see scripts/setup.sh)",
		strings.TrimPrefix(fn.name, "atg_"), version)
	out := []string{
		signature,
		"  // gtl: disabled by scripts/stubops: it does not compile against this libtorch.",
		fmt.Sprintf("  PROTECT(throw std::runtime_error(%s);)", strconv.Quote(msg)),
	}
	switch rt := fn.returnType; {
	case rt == "void":
	case strings.HasSuffix(rt, "*"):
		out = append(out, "  return nullptr;")
	default:
		out = append(out, "  return 0;")
	}
	return append(out, "}")
}

// result is what apply did.
type result struct {
	disabled []string // names of the functions replaced in this pass
	skipped  []int    // error lines inside the generated file but in no function
}

// apply replaces every function of src that an error line in genLines falls
// into, and returns the new file text.
func apply(src string, genLines []int, version string) (string, result) {
	lines := strings.Split(src, "\n")
	fns := parseFunctions(lines)
	hit := map[int]bool{} // index into fns
	var res result
	for _, ln := range genLines {
		i := ln - 1
		found := false
		for k, fn := range fns {
			if i >= fn.start && i <= fn.end {
				hit[k] = true
				found = true
				break
			}
		}
		if !found {
			res.skipped = append(res.skipped, ln)
		}
	}
	var out []string
	prev := 0
	for k, fn := range fns {
		if !hit[k] {
			continue
		}
		out = append(out, lines[prev:fn.start]...)
		out = append(out, stub(fn, lines[fn.start], version)...)
		prev = fn.end + 1
		res.disabled = append(res.disabled, fn.name)
	}
	out = append(out, lines[prev:]...)
	return strings.Join(out, "\n"), res
}
