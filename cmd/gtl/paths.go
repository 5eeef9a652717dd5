package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/gtl-dev/gtl/vision/datasets"
)

// pathFlags are the flags whose values are files or folders.
var pathFlags = []string{"data", "weights", "out", "merge", "fonts", "logits", "cpuprofile"}

// checkTildePaths makes every command refuse, before it does anything, a
// path flag or a positional argument that starts with "~" and does not
// exist, with a hint that no shell expanded it (datasets.PathHint): a
// quoted "~/photos" in a script or job file would otherwise be "not found"
// as a missing path is, and --out "~/runs" would make a folder named "~".
func checkTildePaths(cmds []*cli.Command) {
	for _, cmd := range cmds {
		before := cmd.Before
		cmd.Before = func(c *cli.Context) error {
			if err := tildePaths(c); err != nil {
				return err
			}
			if before != nil {
				return before(c)
			}
			return nil
		}
	}
}

func tildePaths(c *cli.Context) error {
	for _, name := range pathFlags {
		if !c.IsSet(name) {
			continue
		}
		vals := c.StringSlice(name)
		if len(vals) == 0 {
			vals = []string{c.String(name)}
		}
		for _, v := range vals {
			if h := datasets.PathHint(v); h != "" {
				return cli.Exit(fmt.Sprintf("--%s %s: not found, and %s", name, v, h), 2)
			}
		}
	}
	for _, v := range c.Args().Slice() {
		if h := datasets.PathHint(v); h != "" {
			return cli.Exit(fmt.Sprintf("%s: not found, and %s", v, h), 2)
		}
	}
	return nil
}
