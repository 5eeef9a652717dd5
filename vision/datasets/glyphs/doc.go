// Package glyphs generates a small, reproducible image-classification set of
// rendered characters (digits or capital letters) from a pinned list of
// TrueType and OpenType fonts: a target domain clearly unlike
// Fashion-MNIST's clothing, made offline and never committed as images.
//
// Each image is one class's character in a randomly chosen font face, put
// through a seeded random affine distortion (rotation, scale, aspect, shear,
// translation), a stroke-weight change, mild blur and mild noise, and drawn
// white on black like MNIST. [Generate] writes the ImageFolder layout that
// gtl train reads:
//
//	DIR/train/<class>/<i>.png
//	DIR/val/<class>/<i>.png
//	DIR/glyphs.json        the options, classes, fonts and a digest of the images
//
// The same options, seed and fonts give byte-identical files, whatever the
// number of workers. By default the fonts are [PinnedFonts]: 79 files from
// five Debian 12 packages ([PinnedPackages], which scripts/setup.sh
// installs), each checked against its SHA-256, so two machines with those
// packages draw the same set and write the same glyphs.json, and nothing
// else installed changes it; a missing or different file is a
// [*PinnedFontsError] naming the files and packages. [Options.AllFonts]
// draws from every font under [DefaultFontDirs] instead (more variety, but
// the set then depends on the machine), [Options.FontDirs] from the fonts
// under other folders.
//
//	m, err := glyphs.Generate("data/glyphs", glyphs.Options{Set: glyphs.Digits, Seed: 1})
//	fmt.Println(len(m.Fonts), "fonts,", m.TrainPerClass, "training images per class")
//
// It is pure Go (golang.org/x/image for font outlines and rasterisation) and
// imports no libtorch; cmd/gtl's glyphs command is its front end.
package glyphs
