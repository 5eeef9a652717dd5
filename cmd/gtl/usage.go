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

// requireFlags checks cmd's required flags in its Before, in one line
// naming the missing ones (exit status 2), instead of urfave/cli's check,
// which prints the command's whole help first.
func requireFlags(cmd *cli.Command) {
	var required []string
	for _, f := range cmd.Flags {
		switch f := f.(type) {
		case *cli.StringFlag:
			if f.Required {
				f.Required = false
				required = append(required, f.Name)
			}
		case *cli.IntFlag:
			if f.Required {
				f.Required = false
				required = append(required, f.Name)
			}
		case *cli.StringSliceFlag:
			if f.Required {
				f.Required = false
				required = append(required, f.Name)
			}
		case cli.RequiredFlag:
			if f.IsRequired() {
				panic("gtl: requireFlags: add a case for the required flag " + f.Names()[0])
			}
		}
	}
	if len(required) == 0 {
		return
	}
	before := cmd.Before
	cmd.Before = func(c *cli.Context) error {
		var missing []string
		for _, n := range required {
			if !c.IsSet(n) {
				missing = append(missing, dashed(n))
			}
		}
		if len(missing) > 0 {
			verb := "is"
			if len(missing) > 1 {
				verb = "are"
			}
			return cli.Exit(fmt.Sprintf("%s %s required (gtl %s --help lists the flags)", strings.Join(missing, " and "), verb, cmd.Name), 2)
		}
		if before != nil {
			return before(c)
		}
		return nil
	}
}

// requireData checks --data of train, compare and recommend: it must be
// given (an image folder, or the built-in data set by name, so that a
// forgotten flag does not train on 60,000 Fashion-MNIST images) and name
// something that can be read, in one line naming the flag.
func requireData(c *cli.Context) error {
	if c.String("labels") != "" {
		return requireLabelsData(c)
	}
	if c.Bool("multi-label") { // before --data's layout: the labels file is what is missing
		return cli.Exit("--multi-label needs --labels: a CSV file whose label column holds each image's labels separated by --label-delim", 2)
	}
	src := c.String("data")
	if !c.IsSet("data") || src == "" {
		return cli.Exit(fmt.Sprintf("--data is required: an image folder (DIR/<class>/<image>), or %s for the built-in data set", datasets.FashionMNIST), 2)
	}
	if why := datasets.DescribeSource(src); why != "" {
		return cli.Exit(fmt.Sprintf("--data %s: %s", src, why), 2)
	}
	return nil
}

// plural is datasets.Plural: "1 epoch", "3 epochs", "2 strategies".
func plural(n int, noun string) string { return datasets.Plural(n, noun) }
