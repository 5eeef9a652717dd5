package main

import (
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/gtl-dev/gtl/vision/datasets"
)

// reportUnsupported says on stderr how many files of an image folder were
// left out for their type, naming the first few: nothing is dropped
// silently.
func reportUnsupported(c *cli.Context, files []string) {
	if len(files) == 0 || c.Bool("quiet") {
		return
	}
	names := files[:min(3, len(files))]
	more := ""
	if len(files) > 3 {
		more = fmt.Sprintf(" and %d more", len(files)-3)
	}
	fmt.Fprintf(c.App.ErrWriter, "skipped %d file(s) that are not images gtl reads (%s): %s%s\n",
		len(files), strings.Join(datasets.ImageExtensions, " "), strings.Join(names, ", "), more)
}
