package main

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/gtl-dev/gtl/internal/suggest"
	"github.com/gtl-dev/gtl/vision/datasets"
)

// onUsageError is every command's OnUsageError: a flag that cannot be
// parsed is one line naming it, with the closest flag for an unknown one
// and where the flags are listed, instead of the command's whole help.
func onUsageError(app *cli.App) cli.OnUsageErrorFunc {
	return func(c *cli.Context, err error, isSubcommand bool) error {
		cmd, flags := "gtl", app.Flags
		if isSubcommand && c.Command != nil {
			cmd, flags = "gtl "+c.Command.Name, append(append([]cli.Flag{}, c.Command.Flags...), app.Flags...)
		}
		return cli.Exit(describeUsageError(cmd, flags, err), 2)
	}
}

var (
	unknownFlagRE  = regexp.MustCompile(`^flag provided but not defined: -+(.*)$`)
	invalidValueRE = regexp.MustCompile(`^invalid value "(.*)" for flag -+([^:]*): (.*)$`)
	needsValueRE   = regexp.MustCompile(`^flag needs an argument: -+(.*)$`)
	requiredRE     = regexp.MustCompile(`^Required flags? "([^"]*)" not set$`)
)

// dashed writes a flag name as it is typed: -q, --epochs.
func dashed(name string) string {
	if len(name) == 1 {
		return "-" + name
	}
	return "--" + name
}

// describeUsageError words a flag-parsing error of command cmd ("gtl
// train") with the given flags in one line.
func describeUsageError(cmd string, flags []cli.Flag, err error) string {
	help := fmt.Sprintf("(%s --help lists the flags)", cmd)
	msg := err.Error()
	if m := unknownFlagRE.FindStringSubmatch(msg); m != nil {
		var names []string
		for _, f := range flags {
			for _, n := range f.Names() {
				if len(n) > 1 {
					names = append(names, n)
				}
			}
		}
		names = append(names, "help")
		if near := suggest.Closest(m[1], names, 1, suggest.TypoDistance(m[1])); len(near) > 0 {
			return fmt.Sprintf("unknown flag %s for %s; did you mean %s? %s", dashed(m[1]), cmd, dashed(near[0]), help)
		}
		return fmt.Sprintf("unknown flag %s for %s %s", dashed(m[1]), cmd, help)
	}
	if m := invalidValueRE.FindStringSubmatch(msg); m != nil {
		want := m[3]
		if want == "parse error" || strings.Contains(want, "strconv.") {
			want = "want " + flagKind(flags, m[2])
		}
		return fmt.Sprintf("%s %q: %s %s", dashed(m[2]), m[1], want, help)
	}
	if m := needsValueRE.FindStringSubmatch(msg); m != nil {
		return fmt.Sprintf("%s needs a value %s", dashed(m[1]), help)
	}
	return fmt.Sprintf("%s %s", msg, help)
}

// flagKind says what value the flag named name takes.
func flagKind(flags []cli.Flag, name string) string {
	for _, f := range flags {
		for _, n := range f.Names() {
			if n != name {
				continue
			}
			switch f.(type) {
			case *cli.IntFlag, *cli.Int64Flag, *cli.UintFlag, *cli.Uint64Flag:
				return "a whole number"
			case *cli.Float64Flag:
				return "a number"
			case *cli.BoolFlag:
				return "true or false"
			case *cli.DurationFlag:
				return "a duration such as 90s or 5m"
			}
		}
	}
	return "another value"
}

// describeRequired rewords urfave/cli's "Required flags "a, b" not set"
// for command cmd; other messages pass unchanged.
func describeRequired(cmd, msg string) string {
	m := requiredRE.FindStringSubmatch(msg)
	if m == nil {
		return msg
	}
	var names []string
	for _, n := range strings.Split(m[1], ",") {
		names = append(names, dashed(strings.TrimSpace(n)))
	}
	verb := "is"
	if len(names) > 1 {
		verb = "are"
	}
	return fmt.Sprintf("%s %s required (%s --help lists the flags)", strings.Join(names, " and "), verb, cmd)
}

// commandName is the name of the command args (after flagsFirst) run:
// "gtl train", or "gtl" for none.
func commandName(app *cli.App, args []string) string {
	for i := 1; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			break
		}
		if strings.HasPrefix(a, "-") {
			if takesValue(app.Flags, a) {
				i++
			}
			continue
		}
		if app.Command(a) != nil {
			return "gtl " + app.Command(a).Name
		}
		break
	}
	return "gtl"
}

// requireData checks --data of train, compare and recommend: it must be
// given (an image folder, or the built-in data set by name, so that a
// forgotten flag does not train on 60,000 Fashion-MNIST images) and name
// something that can be read, in one line naming the flag.
func requireData(c *cli.Context) error {
	src := c.String("data")
	if !c.IsSet("data") || src == "" {
		return cli.Exit(fmt.Sprintf("--data is required: an image folder (DIR/<class>/<image>), or %s for the built-in data set", datasets.FashionMNIST), 2)
	}
	if why := datasets.DescribeSource(src); why != "" {
		return cli.Exit(fmt.Sprintf("--data %s: %s", src, why), 2)
	}
	return nil
}

// plural writes n and the noun, with an s unless n is 1: "1 epoch",
// "3 epochs".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
