package main

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/gtl-dev/gtl/env"
	"github.com/gtl-dev/gtl/torch"
)

// run builds the app, runs it and turns its error into one line on stderr
// and an exit code.
func run(args []string, stdout, stderr io.Writer) (code int) {
	defer catchPanic(stderr, &code)
	invocation = args
	app := newApp(stdout, stderr)
	args = flagsFirst(app, joinPretrainedArg(args))
	err := app.Run(args)
	if err == nil {
		return 0
	}
	err = specError(err) // library errors name fields: say the flags
	code = 1
	var ec cli.ExitCoder
	if errors.As(err, &ec) {
		code = ec.ExitCode()
	}
	msg, code := reportIfPanic(firstLine(err.Error()), code)
	if code != exitPanic {
		msg = withoutPackages(msg)
	}
	if msg != "" {
		fmt.Fprintln(stderr, "gtl:", msg)
	}
	return code
}

// flagsFirst moves a command's flags (with their values) before its
// positional arguments, so that "gtl predict photo.jpg --top-k 3" means what
// it says: urfave/cli stops reading flags at the first positional argument.
// "--" ends the flags: what follows it stays positional, after a "--" that
// tells urfave/cli the same. args[0] is the program name.
func flagsFirst(app *cli.App, args []string) []string {
	if len(args) < 2 {
		return args
	}
	out := []string{args[0]}
	i := 1
	// Global flags, then the command's name.
	for i < len(args) && strings.HasPrefix(args[i], "-") && args[i] != "--" {
		if takesValue(app.Flags, args[i]) {
			out = append(out, args[i])
			i++
		}
		if i < len(args) {
			out = append(out, args[i])
			i++
		}
	}
	if i >= len(args) || args[i] == "--" {
		return args
	}
	cmd := app.Command(args[i])
	name := args[i]
	i++
	if cmd == nil {
		return append(append(out, name), args[i:]...)
	}
	// A global flag after the command's name ("gtl train --threads 1")
	// goes before it, unless the command has a flag of that name.
	var flags, positional []string
	for ; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			positional = append(positional, args[i+1:]...)
			out = append(append(out, name), flags...)
			if len(positional) == 0 {
				return append(out, "--")
			}
			return append(append(out, "--"), positional...)
		case strings.HasPrefix(a, "-") && a != "-":
			global := !hasFlag(cmd.Flags, a) && hasFlag(app.Flags, a)
			vals := []string{a}
			if global && takesValue(app.Flags, a) && i+1 < len(args) || !global && takesValue(cmd.Flags, a) && i+1 < len(args) {
				i++
				vals = append(vals, args[i])
			}
			if global {
				out = append(out, vals...)
			} else {
				flags = append(flags, vals...)
			}
		default:
			positional = append(positional, a)
		}
	}
	out = append(append(out, name), flags...)
	// A positional argument that starts with "-" after the flags would be
	// read as one: "--" keeps them apart.
	for _, p := range positional {
		if strings.HasPrefix(p, "-") && p != "-" {
			return append(append(out, "--"), positional...)
		}
	}
	return append(out, positional...)
}

// hasFlag reports whether arg ("--name", "-n" or "--name=value") names one
// of flags.
func hasFlag(flags []cli.Flag, arg string) bool {
	name, _, _ := strings.Cut(strings.TrimLeft(arg, "-"), "=")
	for _, f := range flags {
		if slices.Contains(f.Names(), name) {
			return true
		}
	}
	return false
}

// takesValue reports whether arg ("--name", "-n", without "=value") is a
// flag among flags that takes a value: every flag but a boolean one.
// Unknown flags are left to urfave/cli to refuse.
func takesValue(flags []cli.Flag, arg string) bool {
	name := strings.TrimLeft(arg, "-")
	if strings.Contains(name, "=") {
		return false
	}
	for _, f := range flags {
		for _, n := range f.Names() {
			if n == name {
				_, isBool := f.(*cli.BoolFlag)
				if g, ok := f.(*cli.GenericFlag); ok { // --pretrained: bare, or =NAME
					b, ok := g.Value.(interface{ IsBoolFlag() bool })
					isBool = ok && b.IsBoolFlag()
				}
				return !isBool
			}
		}
	}
	return false
}

// firstLine keeps an error to one line: libtorch errors carry C++ and Go
// stack traces that help nobody who mistyped a flag.
// libraryPackages are gtl's packages whose errors begin with their name
// ("datasets: …"), as Go errors do; a user reads the message without them.
var libraryPackages = []string{"augment", "chart", "datasets", "finetune", "loader", "metrics", "models", "npy", "onnx",
	"strategies", "torch", "transforms", "vision", "weights"}

// withoutPackages removes the package names that begin a message or one
// of its ": "-separated parts: "--labels: datasets: labels x.csv: …" reads
// "--labels: labels x.csv: …". A panic's message keeps them (it is a
// report for gtl's developers).
func withoutPackages(msg string) string {
	for {
		cut := false
		for _, p := range libraryPackages {
			if strings.HasPrefix(msg, p+": ") {
				msg, cut = msg[len(p)+2:], true
			}
			if i := strings.Index(msg, ": "+p+": "); i >= 0 {
				msg, cut = msg[:i+2]+msg[i+len(p)+4:], true
			}
		}
		if !cut {
			return msg
		}
	}
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

func newApp(stdout, stderr io.Writer) *cli.App {
	app := &cli.App{
		Name:    "gtl",
		Usage:   "transfer learning for images: fine-tune pretrained vision models from one Go binary",
		Version: version,
		Writer:  stdout, ErrWriter: stderr,
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "threads", Usage: "threads libtorch uses inside one op (0: " + env.NumThreads.Name + ", else one per physical core)"},
		},
		Before: setup,
		Commands: []*cli.Command{
			versionCommand(),
			doctorCommand(),
			modelsCommand(),
			predictCommand(),
			embedCommand(),
			exportCommand(),
			trainCommand(),
			lrFindCommand(),
			evalCommand(),
			compareCommand(),
			recommendCommand(),
			glyphsCommand(),
			smokeCommand(),
			benchCommand(),
			benchDataCommand(),
		},
		HideVersion: true,
		CommandNotFound: func(c *cli.Context, name string) {
			cli.HandleExitCoder(cli.Exit(fmt.Sprintf("gtl: unknown command %q; run gtl --help for the list", name), 2))
		},
		EnableBashCompletion: true,
		// Errors are printed once, by run.
		ExitErrHandler: func(*cli.Context, error) {},
	}
	addImageFlags(app.Commands)
	app.OnUsageError = onUsageError(app)
	for _, c := range app.Commands {
		c.OnUsageError = app.OnUsageError
		requireFlags(c)
	}
	checkTildePaths(app.Commands)
	app.CustomAppHelpTemplate = cli.AppHelpTemplate + envHelp()
	return app
}

// setup applies the global flags before any command runs.
func setup(c *cli.Context) error {
	if err := env.CheckMalloc(); err != nil && c.Args().First() != "doctor" {
		return cli.Exit(err.Error(), 2)
	}
	n := c.Int("threads")
	if n == 0 {
		var err error
		if n, err = env.Threads(); err != nil {
			if c.Args().First() == "doctor" {
				return nil // the doctor reports it
			}
			return cli.Exit(err.Error(), 2)
		}
	}
	if n == 0 {
		n = torch.DefaultThreads()
	}
	if n < 0 {
		return cli.Exit(fmt.Sprintf("--threads %d: want at least 1", n), 2)
	}
	return torch.SetNumThreads(n)
}

func envHelp() string {
	var b strings.Builder
	b.WriteString("\nENVIRONMENT:\n")
	for _, v := range env.All() {
		fmt.Fprintf(&b, "   %-22s %s", v.Name, v.Description)
		if v.Default != "" {
			fmt.Fprintf(&b, " (default: %s)", v.Default)
		}
		b.WriteString("\n")
	}
	return b.String()
}
