// Package glyphs generates a small, reproducible image-classification set of
// rendered characters (digits or capital letters) from the TrueType and
// OpenType fonts installed on the machine: a target domain clearly unlike
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
//	DIR/glyphs.json        the options, classes and fonts used
//
// The same options, seed and fonts give byte-identical files.
//
//	m, err := glyphs.Generate("data/glyphs", glyphs.Options{Set: glyphs.Digits, Seed: 1})
//	fmt.Println(len(m.Fonts), "fonts,", m.TrainPerClass, "training images per class")
//
// It is pure Go (golang.org/x/image for font outlines and rasterisation) and
// imports no libtorch; cmd/gtl's glyphs command is its front end.
package glyphs
