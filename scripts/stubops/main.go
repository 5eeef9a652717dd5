package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "stubops:", err)
		var ue usageError
		if errors.As(err, &ue) {
			os.Exit(2)
		}
		os.Exit(3)
	}
}

type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func run(args []string) error {
	fs := flag.NewFlagSet("stubops", flag.ContinueOnError)
	gen := fs.String("gen", "", "generated wrapper file to edit in place (torch_api_generated.cpp.h)")
	errs := fs.String("errors", "", "compiler diagnostics for a compile that includes the generated file")
	version := fs.String("version", "unknown", "libtorch version named in the disabled ops' error message")
	list := fs.String("list", "", "file to append the names of disabled ops to, one per line")
	if err := fs.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	if *gen == "" || *errs == "" {
		return usageError{"-gen and -errors are required"}
	}
	ef, err := os.Open(*errs)
	if err != nil {
		return fmt.Errorf("read diagnostics: %w", err)
	}
	defer ef.Close()
	d, err := parseErrors(ef, filepath.Base(*gen))
	if err != nil {
		return fmt.Errorf("read diagnostics %s: %w", *errs, err)
	}
	if len(d.unassigned) > 0 {
		return fmt.Errorf("%d compile error(s) outside the generated ops, first: %s", len(d.unassigned), d.unassigned[0])
	}
	src, err := os.ReadFile(*gen)
	if err != nil {
		return fmt.Errorf("read generated file: %w", err)
	}
	out, res := apply(string(src), d.genLines, *version)
	if len(res.skipped) > 0 {
		return fmt.Errorf("%s: errors at lines %v are in no generated function", *gen, res.skipped)
	}
	if len(res.disabled) == 0 {
		return fmt.Errorf("%s: the compiler reported no error that stubops can fix", *gen)
	}
	tmp := *gen + ".tmp"
	if err := os.WriteFile(tmp, []byte(out), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, *gen); err != nil {
		return fmt.Errorf("replace %s: %w", *gen, err)
	}
	if *list != "" {
		f, err := os.OpenFile(*list, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			return fmt.Errorf("open %s: %w", *list, err)
		}
		_, werr := f.WriteString(strings.Join(res.disabled, "\n") + "\n")
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			return fmt.Errorf("write %s: %w", *list, werr)
		}
	}
	fmt.Printf("disabled %d op(s)\n", len(res.disabled))
	return nil
}
