package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/gtl-dev/gtl/env"
	"github.com/gtl-dev/gtl/vision/torch"
)

// run builds the app, runs it and turns its error into one line on stderr
// and an exit code.
func run(args []string, stdout, stderr io.Writer) (code int) {
	defer catchPanic(stderr, &code)
	app := newApp(stdout, stderr)
	err := app.Run(args)
	if err == nil {
		return 0
	}
	code = 1
	var ec cli.ExitCoder
	if errors.As(err, &ec) {
		code = ec.ExitCode()
	}
	msg, code := reportIfPanic(firstLine(err.Error()), code)
	if msg != "" {
		fmt.Fprintln(stderr, "gtl:", msg)
	}
	return code
}

// firstLine keeps an error to one line: libtorch errors carry C++ and Go
// stack traces that help nobody who mistyped a flag.
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
	app.CustomAppHelpTemplate = cli.AppHelpTemplate + envHelp()
	return app
}

// setup applies the global flags before any command runs.
func setup(c *cli.Context) error {
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
