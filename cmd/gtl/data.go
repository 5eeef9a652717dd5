package main

import (
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/gtl-dev/gtl/finetune"
)

// loadTarget reads --data for gtl compare and gtl recommend:
// fashion-mnist (with --classes; --val training images held out for
// validation, balanced over the classes) or an image folder (train/ and val/, or a --val-split of
// each class), every training image in memory, the evaluation images at
// size (see finetune.LoadData).
func loadTarget(c *cli.Context, size int, seed uint64) (*finetune.Data, error) {
	spec := finetune.DataSpec{Source: c.String("data"), Classes: c.String("classes"), Val: c.Int("val"),
		ValSplit: c.Float64("val-split"), ImageSize: size, OnBadImage: c.String("on-bad-image")}
	labelsSpec(c, &spec)
	ds, err := spec.Resolve()
	if err != nil {
		return nil, specError(err)
	}
	d, err := finetune.LoadData(ds, seed, false)
	if err != nil {
		return nil, specError(err)
	}
	reportUnsupported(c, d.Unsupported)
	reportSkipped(c, d.Skipped)
	return d, nil
}

// reportSkipped says on stderr how many images were left out, naming the
// first few.
func reportSkipped(c *cli.Context, skipped []string) {
	if len(skipped) == 0 {
		return
	}
	names := skipped[:min(3, len(skipped))]
	more := ""
	if len(skipped) > 3 {
		more = fmt.Sprintf(" and %d more", len(skipped)-3)
	}
	fmt.Fprintf(c.App.ErrWriter, "skipped %d images that do not load: %s%s\n", len(skipped), strings.Join(names, ", "), more)
}
