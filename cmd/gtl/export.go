package main

import (
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/gtl-dev/gtl/torch"
	"github.com/gtl-dev/gtl/vision"
)

func exportCommand() *cli.Command {
	return &cli.Command{
		Name:  "export",
		Usage: "write a model's weights for PyTorch (.pth, .safetensors) or gotch (.ot)",
		Description: "--format pth writes a state dict that torch.load reads and torchvision's model class loads\n" +
			"strictly; safetensors writes a gtl checkpoint that the safetensors package reads; ot writes\n" +
			"gotch's VarStore format. Every format keeps the class names and the evaluation transform\n" +
			"(input size, resize, crop, interpolation, mean, std): a JSON description beside the file\n" +
			"(x.pth -> x.json), which gtl reads back, and for safetensors also the file's __metadata__.",
		Flags: append(modelFlags(),
			&cli.StringFlag{Name: "format", Value: "pth", Usage: "pth, safetensors or ot"},
			&cli.StringFlag{Name: "out", Required: true, Usage: "output file"},
		),
		Action: func(c *cli.Context) error {
			format := c.String("format")
			want, err := vision.FormatOf(c.String("out"))
			if err != nil {
				return cli.Exit(err.Error(), 2)
			}
			if want != format {
				return cli.Exit(fmt.Sprintf("--out %s does not fit --format %s (want a .%s file)", c.String("out"), format, format), 2)
			}
			o, err := openModel(c)
			if err != nil {
				return err
			}
			// Every format keeps the classes and preprocessing: inside a
			// .safetensors and beside it, beside a .pth or .ot.
			meta := vision.CheckpointMeta{Classes: o.Classes, Preprocess: o.Prep}
			if o.Meta != nil {
				meta.Train = o.Meta.Train
			}
			err = torch.Do(func() error { return o.Model.Export(c.String("out"), meta) })
			if err != nil {
				return err
			}
			st, err := os.Stat(c.String("out"))
			if err != nil {
				return err
			}
			from := c.String("weights") + pretrainedNote(c)
			if from == "" {
				from = "random initialisation"
			}
			fmt.Fprintf(c.App.Writer, "%s (%s, %d classes) -> %s (%s, %.1f MB)\n", o.Model.Arch, from,
				o.Model.NumClasses, c.String("out"), format, float64(st.Size())/1e6)
			fmt.Fprintf(c.App.Writer, "description -> %s (%d classes; %s)\n", vision.MetaPath(c.String("out")), len(o.Classes), describePrep(o.Prep))
			return nil
		},
	}
}

func pretrainedNote(c *cli.Context) string {
	if c.Bool("pretrained") {
		if n := pretrainedName(c); n != "" {
			return "pretrained " + n
		}
		return "pretrained"
	}
	return ""
}
