package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/gtl-dev/gtl/onnx"
	"github.com/gtl-dev/gtl/torch"
	"github.com/gtl-dev/gtl/vision"
)

func exportCommand() *cli.Command {
	return &cli.Command{
		Name:  "export",
		Usage: "write a model's weights for PyTorch (.pth, .safetensors) or gotch (.ot), or the model for ONNX Runtime (.onnx)",
		Description: "--format pth writes a state dict that torch.load reads and torchvision's model class loads\n" +
			"strictly; safetensors writes a gtl checkpoint that the safetensors package reads; ot writes\n" +
			"gotch's VarStore format. Every format keeps the class names and the evaluation transform\n" +
			"(input size, resize, crop, interpolation, mean, std): a JSON description beside the file\n" +
			"(x.pth -> x.json), which gtl reads back, and for safetensors also the file's __metadata__.\n\n" +
			"--format onnx writes the inference graph (batch norm folded, dropout removed; opset 17, IR 8 by\n" +
			"default) with input \"input\" [batch, 3, size, size] (batch dynamic; height and width too with\n" +
			"--dynamic-size) and output \"logits\" [batch, classes]; the classes and the evaluation transform\n" +
			"are in the model's metadata_props (arch, classes, crop_size, resize_size, interpolation, mean,\n" +
			"std), so ONNX Runtime needs nothing else.",
		Flags: append(modelFlags(),
			&cli.StringFlag{Name: "format", Value: "pth", Usage: "pth, safetensors, ot or onnx"},
			&cli.IntFlag{Name: "opset", Value: onnx.DefaultOpset, Usage: fmt.Sprintf("ONNX operator set (--format onnx), %d to %d", onnx.MinOpset, onnx.DefaultOpset)},
			&cli.IntFlag{Name: "size", Usage: "ONNX input height and width in pixels (--format onnx; default: the weights' crop size, e.g. a checkpoint trained at 32 px: 32)"},
			&cli.BoolFlag{Name: "dynamic-size", Usage: "ONNX input height and width dynamic (--format onnx; convolutional models with global pooling)"},
			&cli.StringFlag{Name: "out", Required: true, Usage: "output file"},
		),
		Action: func(c *cli.Context) error {
			format := c.String("format")
			if format == "onnx" || strings.HasSuffix(strings.ToLower(c.String("out")), ".onnx") {
				return exportONNX(c)
			}
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

// exportONNX is gtl export --format onnx.
func exportONNX(c *cli.Context) error {
	out := c.String("out")
	if c.String("format") != "onnx" {
		return cli.Exit(fmt.Sprintf("--out %s does not fit --format %s (want --format onnx)", out, c.String("format")), 2)
	}
	if !strings.HasSuffix(strings.ToLower(out), ".onnx") {
		return cli.Exit(fmt.Sprintf("--out %s does not fit --format onnx (want a .onnx file)", out), 2)
	}
	if op := c.Int("opset"); op < onnx.MinOpset || op > onnx.DefaultOpset {
		return cli.Exit(fmt.Sprintf("--opset %d: want %d to %d", op, onnx.MinOpset, onnx.DefaultOpset), 2)
	}
	if c.Int("size") < 0 {
		return cli.Exit(fmt.Sprintf("--size %d: want a positive number of pixels", c.Int("size")), 2)
	}
	o, err := openModel(c)
	if err != nil {
		return err
	}
	meta := vision.CheckpointMeta{Classes: o.Classes, Preprocess: o.Prep}
	if o.Meta != nil {
		meta.Train = o.Meta.Train
	}
	opts := onnx.Options{Opset: c.Int("opset"), Size: c.Int("size"), DynamicSize: c.Bool("dynamic-size"), Meta: meta, Producer: versionString()}
	if err := torch.Do(func() error { return onnx.WriteFile(out, o.Model, opts) }); err != nil {
		return cli.Exit(err.Error(), 1)
	}
	st, err := os.Stat(out)
	if err != nil {
		return err
	}
	from := c.String("weights") + pretrainedNote(c)
	if from == "" {
		from = "random initialisation"
	}
	size := fmt.Sprint(opts.Size)
	if opts.Size == 0 {
		size = fmt.Sprint(o.Model.InputSize)
		if o.Prep.CropSize > 0 {
			size = fmt.Sprint(o.Prep.CropSize)
		}
	}
	if opts.DynamicSize {
		size = "dynamic"
	}
	fmt.Fprintf(c.App.Writer, "%s (%s, %d classes) -> %s (onnx opset %d, input [batch, 3, %s, %s], %.1f MB)\n", o.Model.Arch, from,
		o.Model.NumClasses, out, opts.Opset, size, size, float64(st.Size())/1e6)
	fmt.Fprintf(c.App.Writer, "metadata_props: %d classes; %s\n", len(o.Classes), describePrep(o.Prep))
	return nil
}
