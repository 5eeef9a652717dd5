package main

import (
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/gtl-dev/gtl/finetune"
)

// labelsFlags read labels from a CSV file instead of class folders, for
// gtl train, gtl compare, gtl lr-find and gtl eval (finetune.DataSpec's
// Labels, FnCol, LabelCol, ValidCol, MultiLabel, LabelDelim, CSVDelimiter
// and Suffix; fastai's from_csv names and defaults).
func labelsFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "labels", Usage: "a CSV file of image paths (relative to --data) and labels, read instead of class folders; the first row is the header"},
		&cli.StringFlag{Name: "fn-col", Value: "0", Usage: "--labels column of the image paths: a header name or a 0-based index"},
		&cli.StringFlag{Name: "label-col", Value: "1", Usage: "--labels column of the labels: a header name or a 0-based index"},
		&cli.StringFlag{Name: "valid-col", Value: "is_valid", Usage: "--labels column marking validation rows (true/false), used when present; else a split column (train/valid/test), else --val-split"},
		&cli.BoolFlag{Name: "multi-label", Usage: "each --labels row holds a set of labels separated by --label-delim: a sigmoid head trained with binary cross-entropy, scored by mAP"},
		&cli.StringFlag{Name: "label-delim", Usage: "with --multi-label, what separates the labels of a row (default: a space; gtl eval: the checkpoint's)"},
		&cli.StringFlag{Name: "csv-delimiter", Usage: "what separates the columns of --labels: one character, or tab (default: the one of , ; tab | that splits the header into the most columns)"},
		&cli.StringFlag{Name: "suffix", Usage: "appended to every image path of --labels, for ids without their extension (e.g. .jpg)"},
	}
}

// labelsSpec sets the labels file's flags in a data spec.
func labelsSpec(c *cli.Context, d *finetune.DataSpec) {
	d.Labels, d.FnCol, d.LabelCol, d.ValidCol = c.String("labels"), c.String("fn-col"), c.String("label-col"), c.String("valid-col")
	d.MultiLabel, d.LabelDelim = c.Bool("multi-label"), c.String("label-delim")
	d.CSVDelimiter, d.Suffix = c.String("csv-delimiter"), c.String("suffix")
}

// requireLabelsData checks --data when --labels is given: a folder, in any
// layout (the labels file names the images).
func requireLabelsData(c *cli.Context) error {
	if c.IsSet("label-delim") && c.String("label-delim") == "" {
		return cli.Exit(`--label-delim "": want what separates the labels of a row (leave the flag out for a space)`, 2)
	}
	src := c.String("data")
	if !c.IsSet("data") || src == "" {
		return cli.Exit("--data is required: the folder the paths of --labels are relative to", 2)
	}
	if st, err := os.Stat(src); err != nil || !st.IsDir() {
		return cli.Exit(fmt.Sprintf("--data %s: not a folder (with --labels, the folder its image paths are relative to)", src), 2)
	}
	return nil
}
