package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/urfave/cli/v2"

	"github.com/gtl-dev/gtl/torch"
)

// version is gtl's release; builds from a checkout add the commit.
const version = "0.1.0-dev"

func versionString() string {
	v := version
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				v += "+" + s.Value[:12]
			}
		}
	}
	return v
}

func versionCommand() *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "print gtl's version and what it was built against",
		Action: func(c *cli.Context) error {
			b := torch.Build()
			device := "CPU"
			if b.CUDA {
				device = "CUDA"
			}
			_, err := fmt.Fprintf(c.App.Writer, "gtl %s (%s, %s/%s)\nlibtorch %s (%s build), gotch %s\n",
				versionString(), runtime.Version(), runtime.GOOS, runtime.GOARCH, b.LibtorchVersion, device, b.GotchVersion)
			return err
		},
	}
}
