package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/gtl-dev/gtl/internal/outdir"
	"github.com/gtl-dev/gtl/npy"
	"github.com/gtl-dev/gtl/torch"
	"github.com/gtl-dev/gtl/vision"
	"github.com/gtl-dev/gtl/vision/datasets"
	"github.com/gtl-dev/gtl/vision/transforms"
)

func embedCommand() *cli.Command {
	return &cli.Command{
		Name:  "embed",
		Usage: "write the penultimate features of every image of a data set to .npy (feature extraction)",
		Description: "--data is an image folder or fashion-mnist. Writes OUT (float32 [N, features]), OUT's\n" +
			".labels.npy (int64 [N]) and prints the class names by label.\n\n" +
			"An image folder is read as gtl train reads it: root/train/<class>/<image> when there is a train/\n" +
			"folder, else root/<class>/<image>; a test/ folder is never a class, and neither are hidden files\n" +
			"and folders. --split chooses the images: train (default: every image of the classes), val (the\n" +
			"folder root/val, root/valid or root/validation beside train/) or test (root/test/<class>/<image>).\n" +
			"Labels always number the training classes, so the splits' labels agree; a class of val/ or test/\n" +
			"that is not a training class is an error.",
		Flags: append(append(modelFlags(),
			&cli.StringFlag{Name: "data", Required: true, Usage: "image folder, or fashion-mnist"},
			&cli.StringFlag{Name: "split", Usage: "split: train or test for fashion-mnist (default test); train, val or test for an image folder (default train)"},
			&cli.IntFlag{Name: "limit", Usage: "embed only the first N images (0: all)"},
			&cli.StringFlag{Name: "out", Required: true, Usage: "output .npy file"},
			&cli.BoolFlag{Name: "overwrite", Usage: "replace --out and its .labels.npy when they exist (default: refused)"},
			&cli.IntFlag{Name: "batch", Value: 32, Usage: "images per forward pass"},
		),
			prepFlags()...),
		Action: runEmbed,
	}
}

// source yields the images of a data set as RGB.
type source struct {
	n       int
	classes []string
	label   func(i int) int
	image   func(i int) (transforms.RGB, error)
	// unsupported are the folder's files left out for their type.
	unsupported []string
}

func openSource(data, split string) (*source, error) {
	if data == "fashion-mnist" {
		if split == "" {
			split = "test"
		}
		im, err := datasets.LoadFashionMNIST("", datasets.Split(split))
		if err != nil {
			return nil, err
		}
		return &source{n: im.Len(), classes: im.Classes, label: func(i int) int { return im.Labels[i] },
			image: func(i int) (transforms.RGB, error) {
				g := im.Image(i) // grayscale: repeated into R, G and B
				rgb := transforms.RGB{W: im.Width, H: im.Height, Pix: make([]uint8, 3*len(g))}
				for j, v := range g {
					rgb.Pix[3*j], rgb.Pix[3*j+1], rgb.Pix[3*j+2] = v, v, v
				}
				return rgb, nil
			}}, nil
	}
	l, err := folderSplit(data, split)
	if err != nil {
		return nil, cli.Exit(err.Error(), 2)
	}
	items, classes := l.Items, l.Classes
	return &source{n: len(items), classes: classes, unsupported: l.Unsupported, label: func(i int) int { return items[i].Label },
		image: func(i int) (transforms.RGB, error) { return transforms.Load(items[i].Path) }}, nil
}

func runEmbed(c *cli.Context) error {
	if c.Int("batch") < 1 || c.Int("limit") < 0 {
		return cli.Exit("--batch: want at least 1; --limit: want 0 or more", 2)
	}
	if !strings.HasSuffix(c.String("out"), ".npy") {
		return cli.Exit(fmt.Sprintf("--out %s: want a .npy file name", c.String("out")), 2)
	}
	if err := checkEmbedOut(c.String("out"), c.Bool("overwrite")); err != nil { // before any work
		return err
	}
	if why := datasets.DescribeSource(c.String("data")); why != "" {
		return cli.Exit(fmt.Sprintf("--data %s: %s", c.String("data"), why), 2)
	}
	src, err := openSource(c.String("data"), c.String("split"))
	if err != nil {
		return err
	}
	reportUnsupported(c, src.unsupported)
	n := src.n
	if l := c.Int("limit"); l > 0 && l < n {
		n = l
	}
	o, err := openPrepared(c)
	if err != nil {
		return err
	}
	// No other process writes the pair of files while this one computes
	// them; checked again under the lock.
	release, err := outdir.File(c.String("out"), "gtl embed")
	if err != nil {
		if iu := (*outdir.InUseError)(nil); errors.As(err, &iu) {
			return cli.Exit(fmt.Sprintf("--out %v: wait for it to end, or choose another --out", iu), 2)
		}
		return cli.Exit("--out: "+err.Error(), 2)
	}
	defer release()
	if err := checkEmbedOut(c.String("out"), c.Bool("overwrite")); err != nil {
		return err
	}
	eval := o.Prep.Eval()
	feats := make([]float32, 0, n*o.Model.FeaturesDim())
	bar := newCountBar(c.App.ErrWriter, c.Bool("quiet"), "embedding", int64(n), nil)
	labels := make([]int64, n)
	for start := 0; start < n; start += c.Int("batch") {
		end := min(start+c.Int("batch"), n)
		imgs := make([]transforms.RGB, 0, end-start)
		for i := start; i < end; i++ {
			img, err := src.image(i)
			if err != nil {
				return cli.Exit(err.Error(), 2)
			}
			imgs = append(imgs, eval.Apply(img))
			labels[i] = int64(src.label(i))
		}
		err := torch.Do(func() error {
			x, err := vision.ImagesTensor(imgs, o.Prep, o.Model.VS.Device())
			if err != nil {
				return err
			}
			defer x.MustDrop()
			rows, err := o.Model.Embed(x)
			if err != nil {
				return err
			}
			for _, r := range rows {
				feats = append(feats, r...)
			}
			return nil
		})
		if err != nil {
			return err
		}
		bar.set(int64(end))
	}
	bar.finish()
	out := c.String("out")
	if err := npy.Write(out, &npy.Array{Shape: []int{n, o.Model.FeaturesDim()}, Float32: feats}); err != nil {
		return err
	}
	lab := labelsPath(out)
	if err := npy.Write(lab, &npy.Array{Shape: []int{n}, Int64: labels}); err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "features [%d %d] -> %s\nlabels [%d] -> %s\nclasses: %s\n", n, o.Model.FeaturesDim(), out, n, lab, strings.Join(src.classes, ", "))
	return nil
}

// labelsPath is the labels file gtl embed writes beside out.
func labelsPath(out string) string { return strings.TrimSuffix(out, ".npy") + ".labels.npy" }

// checkEmbedOut refuses an --out whose features or labels file exists,
// unless overwrite is set, with one line that names what is there and the
// choices.
func checkEmbedOut(out string, overwrite bool) error {
	if overwrite {
		return nil
	}
	var there []string
	for _, p := range []string{out, labelsPath(out)} {
		if _, err := os.Lstat(p); err == nil {
			there = append(there, p)
		}
	}
	if len(there) == 0 {
		return nil
	}
	verb := "exists"
	if len(there) > 1 {
		verb = "exist"
	}
	return cli.Exit(fmt.Sprintf("--out %s: %s already %s (an earlier gtl embed's output?): --overwrite replaces %s and %s, or choose another --out",
		out, strings.Join(there, " and "), verb, out, labelsPath(out)), 2)
}

// folderSplit lists one split of an image folder for embed: the training
// images ("" or "train": root/train/<class>, else root/<class> with test/
// left out, as vision.ListFolder reads them), the validation folder
// ("val", or any name of vision.ValDirs: root/val, root/valid or
// root/validation) or the test folder ("test": root/test). The listing's
// classes are the training classes, and its labels number them.
func folderSplit(root, split string) (*datasets.Listing, error) {
	base := filepath.Join(root, "train")
	if fi, err := os.Stat(base); err != nil || !fi.IsDir() {
		base = root
	}
	tr, err := datasets.ScanImageFolder(base, vision.TestDir)
	if err != nil {
		return nil, err
	}
	switch {
	case split == "" || split == "train":
		return tr, nil
	case slices.Contains(vision.ValDirs, split) && base == root:
		return nil, fmt.Errorf("--split %s: a validation folder is read beside train/, and %s has no train/ folder", split, root)
	case split != vision.TestDir && !slices.Contains(vision.ValDirs, split):
		return nil, fmt.Errorf("--split %s: an image folder's splits are train, val and test", split)
	}
	dir, err := vision.SplitDir(root, split)
	if err != nil {
		return nil, fmt.Errorf("--%w", err)
	}
	l, err := datasets.ScanImageFolder(dir)
	if err != nil {
		return nil, err
	}
	for i := range l.Items {
		c := l.Classes[l.Items[i].Label]
		j, ok := slices.BinarySearch(tr.Classes, c)
		if !ok {
			return nil, fmt.Errorf("--split %s: class folder %q is in %s but not among the training classes (%s)", split, c, dir, strings.Join(tr.Classes, ", "))
		}
		l.Items[i].Label = j
	}
	l.Classes = tr.Classes
	return l, nil
}
