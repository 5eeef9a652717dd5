package main

import (
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/gtl-dev/gtl/vision/datasets"
	"github.com/gtl-dev/gtl/vision/transforms"
)

// imageCommands are the commands that read image files: they take the
// image flags.
var imageCommands = []string{"train", "lr-find", "eval", "predict", "embed", "compare", "recommend"}

// imageFlags are how image files are decoded.
func imageFlags() []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: "exif", Value: true, Usage: "apply an image's EXIF orientation (as it is meant to be seen); --exif=false keeps it as stored, as torchvision's ImageFolder does"},
		&cli.Int64Flag{Name: "max-pixels", Value: transforms.DefaultMaxPixels, Usage: "refuse images whose header claims more pixels (a decompression bomb; PIL's limit); 0: no limit"},
	}
}

// addImageFlags gives the image-reading commands the image flags, applied
// before the command runs.
func addImageFlags(cmds []*cli.Command) {
	for _, cmd := range cmds {
		if !containsName(imageCommands, cmd.Name) {
			continue
		}
		cmd.Flags = append(cmd.Flags, imageFlags()...)
		before := cmd.Before
		cmd.Before = func(c *cli.Context) error {
			if err := applyImageFlags(c); err != nil {
				return err
			}
			if before != nil {
				return before(c)
			}
			return nil
		}
	}
}

// applyImageFlags sets the process's decode options from the flags.
func applyImageFlags(c *cli.Context) error {
	n := c.Int64("max-pixels")
	if n < 0 {
		return cli.Exit(fmt.Sprintf("--max-pixels %d: want at least 1, or 0 for no limit", n), 2)
	}
	if n == 0 {
		n = -1 // DecodeOptions: negative is no limit
	}
	transforms.SetDefaultDecodeOptions(transforms.DecodeOptions{KeepOrientation: !c.Bool("exif"), MaxPixels: n})
	return nil
}

func containsName(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

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
