package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/gtl-dev/gtl/vision/datasets/glyphs"
)

func glyphsCommand() *cli.Command {
	return &cli.Command{
		Name:      "glyphs",
		Usage:     "generate an offline image set of rendered digits or letters (a domain unlike Fashion-MNIST)",
		ArgsUsage: " ",
		Description: "Draws each class's character from a pinned list of fonts with seeded random rotation,\n" +
			"scale, shear, shift, stroke weight, blur and noise, white on black, into --out/train/<class>/<i>.png\n" +
			"and --out/val/<class>/<i>.png, and records the options, the fonts with their SHA-256 and a digest\n" +
			"of the images in --out/glyphs.json. The same seed and fonts give byte-identical files.\n\n" +
			"The pinned list is " + strconv.Itoa(len(glyphs.PinnedFonts)) + " font files from the Debian packages\n" + pinnedPackages() + "\n" +
			"(scripts/setup.sh installs them); each must be there with its pinned SHA-256, so the set does\n" +
			"not depend on what else is installed. --fonts all draws from every font under\n" +
			strings.Join(glyphs.DefaultFontDirs, " and ") + " instead (more variety; the set then depends on the machine).",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "out", Required: true, Usage: "folder to write the set to (a previous glyph set there is replaced)"},
			&cli.StringFlag{Name: "set", Value: string(glyphs.Digits), Usage: "classes: digits (0-9) or letters (A-Z)"},
			&cli.IntFlag{Name: "train-per-class", Value: 600, Usage: "training images per class"},
			&cli.IntFlag{Name: "val-per-class", Value: 200, Usage: "validation images per class"},
			&cli.IntFlag{Name: "size", Value: 28, Usage: "image side in pixels"},
			&cli.Uint64Flag{Name: "seed", Value: 1, Usage: "seed for every random draw"},
			&cli.StringSliceFlag{Name: "fonts", Usage: "pinned (the pinned list), all (every installed font) or a font folder to search (repeatable)", DefaultText: "pinned"},
			&cli.BoolFlag{Name: "force", Usage: "write into a non-empty folder that is not a glyph set, replacing its train/ and val/"},
		},
		Action: runGlyphs,
	}
}

func runGlyphs(c *cli.Context) error {
	if c.Args().Present() {
		return cli.Exit(fmt.Sprintf("glyphs: unexpected argument %q (the folder goes in --out)", c.Args().First()), 2)
	}
	for _, f := range []string{"train-per-class", "val-per-class"} {
		if c.Int(f) < 1 {
			return cli.Exit(fmt.Sprintf("--%s %d: want at least 1", f, c.Int(f)), 2)
		}
	}
	if s := c.Int("size"); s < 8 || s > 512 {
		return cli.Exit(fmt.Sprintf("--size %d: want 8..512", s), 2)
	}
	set := glyphs.Set(c.String("set"))
	if _, err := set.Classes(); err != nil {
		return cli.Exit(fmt.Sprintf("--set %q: want digits or letters", c.String("set")), 2)
	}
	opts := glyphs.Options{
		Set:           set,
		TrainPerClass: c.Int("train-per-class"),
		ValPerClass:   c.Int("val-per-class"),
		Size:          c.Int("size"),
		Seed:          c.Uint64("seed"),
		Force:         c.Bool("force"),
	}
	fonts := c.StringSlice("fonts")
	for _, f := range fonts {
		switch {
		case (f == "pinned" || f == "all") && len(fonts) > 1:
			return cli.Exit(fmt.Sprintf("--fonts %s: not with other --fonts values (a folder named %s: write ./%s)", f, f, f), 2)
		case f == "all":
			opts.AllFonts = true
		case f != "pinned":
			opts.FontDirs = append(opts.FontDirs, f)
		}
	}
	out := c.String("out")
	start := time.Now()
	m, err := glyphs.Generate(out, opts)
	if errors.Is(err, glyphs.ErrNotEmpty) {
		return cli.Exit(fmt.Sprintf("glyphs: --out %s is not empty and holds no %s from a previous glyph set; pass --force to replace its train/ and val/", out, glyphs.ManifestName), 1)
	}
	var pinErr *glyphs.PinnedFontsError
	if errors.As(err, &pinErr) {
		return cli.Exit(fmt.Sprintf("%v; or draw from the fonts installed with --fonts all", err), 1)
	}
	if err != nil {
		return err
	}
	from := fmt.Sprintf("%d fonts", len(m.Fonts))
	if m.FontSource == glyphs.FontsPinned {
		from = fmt.Sprintf("the %d pinned fonts", len(m.Fonts))
	}
	fmt.Fprintf(c.App.Writer, "wrote %d images (%d classes × %d train + %d val, %d×%d) from %s to %s in %.1fs\n",
		m.Images, len(m.Classes), m.TrainPerClass, m.ValPerClass, m.Size, m.Size, from, out, time.Since(start).Seconds())
	return nil
}

// pinnedPackages lists the pinned fonts' Debian packages with versions.
func pinnedPackages() string {
	var ps []string
	for _, p := range glyphs.PinnedPackages {
		ps = append(ps, p.Name+" "+p.Version)
	}
	return strings.Join(ps, ", ")
}
