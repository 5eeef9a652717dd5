package main

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/gtl-dev/gtl/vision"
)

// prepFlags override the evaluation transform a model's weights carry, on
// the commands that run a model on images (predict, eval, embed).
func prepFlags() []cli.Flag {
	return []cli.Flag{
		&cli.IntFlag{Name: "image-size", Usage: "resize the shorter side to N and centre crop N×N, as gtl train --image-size does (default: the weights' own preprocessing)"},
		&cli.StringFlag{Name: "mean", Usage: "normalisation mean, R,G,B (default: the weights' own, else ImageNet's 0.485,0.456,0.406)"},
		&cli.StringFlag{Name: "std", Usage: "normalisation standard deviation, R,G,B (default: the weights' own, else ImageNet's 0.229,0.224,0.225)"},
	}
}

// openPrepared opens the model of the flags (openModel) with the
// preprocessing that --image-size, --mean and --std set (applyPrep): what
// every command that feeds images to a model (predict, eval, embed) opens.
func openPrepared(c *cli.Context) (*vision.Opened, error) {
	o, err := openModel(c)
	if err != nil {
		return nil, err
	}
	if err := applyPrep(c, o); err != nil {
		return nil, err
	}
	return o, nil
}

// applyPrep sets o.Prep from --image-size, --mean and --std, and says in
// one line on stderr (unless --quiet) when the weights carry no
// preprocessing and which is used instead.
func applyPrep(c *cli.Context, o *vision.Opened) error {
	if n := c.Int("image-size"); c.IsSet("image-size") {
		if n < 1 || n > 8192 {
			return cli.Exit(fmt.Sprintf("--image-size %d: want 1 to 8192 pixels", n), 2)
		}
		o.Prep.CropSize, o.Prep.ResizeSize = n, n
	}
	for _, f := range []struct {
		name string
		dst  *[3]float32
	}{{"mean", &o.Prep.Mean}, {"std", &o.Prep.Std}} {
		if !c.IsSet(f.name) {
			continue
		}
		v, err := parseRGB(c.String(f.name), f.name == "std")
		if err != nil {
			return cli.Exit(fmt.Sprintf("--%s %s: %v", f.name, c.String(f.name), err), 2)
		}
		*f.dst = v
	}
	if !c.Bool("quiet") && o.Source != "" && !carriesPrep(c, o) {
		fmt.Fprintf(c.App.ErrWriter, "note: %s carries no preprocessing (no %s beside it): using %s; --image-size, --mean and --std set it\n",
			o.Source, filepath.Base(vision.MetaPath(o.Source)), describePrep(o.Prep))
	}
	return nil
}

// carriesPrep reports whether the opened weights say how to preprocess: a
// gtl description, or torchvision's or the Hub's published weights.
func carriesPrep(c *cli.Context, o *vision.Opened) bool {
	if o.Meta != nil && o.Meta.Preprocess.CropSize > 0 || c.Bool("pretrained") {
		return true
	}
	ws, _ := vision.PretrainedWeights(o.Model.Arch)
	for _, w := range ws {
		if filepath.Base(o.Source) == w.FileName() {
			return true
		}
	}
	return false
}

// describePrep writes a preprocessing in one phrase.
func describePrep(p vision.Preprocess) string {
	return fmt.Sprintf("resize %d, crop %d, %s, mean %s, std %s", p.ResizeSize, p.CropSize, p.Filter, formatRGB(p.Mean), formatRGB(p.Std))
}

func formatRGB(v [3]float32) string {
	return strings.Join([]string{fmt.Sprint(v[0]), fmt.Sprint(v[1]), fmt.Sprint(v[2])}, ",")
}

// parseRGB reads three comma-separated finite numbers (positive ones when
// positive is set).
func parseRGB(s string, positive bool) ([3]float32, error) {
	var out [3]float32
	parts := strings.Split(s, ",")
	if len(parts) != 3 {
		return out, fmt.Errorf("want three comma-separated values (R,G,B)")
	}
	for i, p := range parts {
		v, err := strconv.ParseFloat(strings.TrimSpace(p), 32)
		if err != nil || v != v || v > 1e30 || v < -1e30 {
			return out, fmt.Errorf("value %q is not a finite number", p)
		}
		if positive && !(v > 0) {
			return out, fmt.Errorf("value %q: want a positive number", p)
		}
		out[i] = float32(v)
	}
	return out, nil
}
