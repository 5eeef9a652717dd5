package main

import (
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/gtl-dev/gtl/finetune"
	"github.com/gtl-dev/gtl/metrics"
	"github.com/gtl-dev/gtl/npy"
	"github.com/gtl-dev/gtl/torch"
	"github.com/gtl-dev/gtl/vision"
	"github.com/gtl-dev/gtl/vision/datasets"
	"github.com/gtl-dev/gtl/vision/transforms"
)

func predictCommand() *cli.Command {
	return &cli.Command{
		Name:      "predict",
		Usage:     "classify images (files, folders, or an .npy batch) and print the top classes",
		ArgsUsage: "IMAGE|FOLDER|BATCH.npy ...",
		Description: "Images get the weights' evaluation transform (resize, centre crop, ImageNet normalisation).\n" +
			"An .npy input is a batch already normalised: float32 [N, 3, H, W] (for Python pipelines).\n" +
			"Class names come from a gtl checkpoint, or ImageNet's for 1000-class torchvision weights.",
		Flags: append(append(modelFlags(),
			&cli.IntFlag{Name: "top-k", Aliases: []string{"k"}, Value: 5, Usage: "classes to print per image (a multi-label model prints every class over its threshold instead)"},
			&cli.StringFlag{Name: "logits", Usage: "also write the raw logits, float32 [N, classes], to this .npy file"},
			&cli.IntFlag{Name: "batch", Value: 16, Usage: "images per forward pass"},
			&cli.BoolFlag{Name: "multi-label", Usage: "the model is multi-label (default: as its checkpoint says): print every class whose sigmoid is above its threshold"},
			&cli.StringFlag{Name: "threshold", Usage: predictThresholdUsage},
			&cli.BoolFlag{Name: "tta", Usage: "test-time augmentation: average the softmax over the centre and corner crops and their mirror images (image files only)"},
		),
			prepFlags()...),
		Action: runPredict,
	}
}

// input is one thing to classify: an image file, or one row of an .npy batch.
type input struct {
	name string
	path string // image file; empty for .npy rows
	row  []float32
	dims []int64 // [3, H, W] of an .npy row
}

// collectInputs lists the inputs the arguments name, and the files of named
// folders left out for their type.
func collectInputs(args []string, allowNonFinite bool) (ins []input, unsupported []string, err error) {
	for _, a := range args {
		st, err := os.Stat(a)
		if err != nil {
			return nil, nil, cli.Exit(fmt.Sprintf("input %s: %v", a, err), 2)
		}
		switch {
		case st.IsDir():
			files, skip, err := datasets.ScanImages(a)
			if err != nil {
				return nil, nil, err
			}
			unsupported = append(unsupported, skip...)
			if len(files) == 0 {
				return nil, nil, cli.Exit(fmt.Sprintf("input %s: no images in the folder (%s)", a, strings.Join(datasets.ImageExtensions, " ")), 2)
			}
			for _, f := range files {
				ins = append(ins, input{name: f, path: f})
			}
		case strings.HasSuffix(strings.ToLower(a), ".npy"):
			arr, err := npy.Read(a)
			if err != nil {
				return nil, nil, cli.Exit(err.Error(), 2)
			}
			if arr.Float32 == nil || len(arr.Shape) != 4 || arr.Shape[1] != 3 {
				return nil, nil, cli.Exit(fmt.Sprintf("input %s: %s array of shape %v; want float32 [N, 3, H, W], normalised", a, arr.DType(), arr.Shape), 2)
			}
			if nf := arr.NonFinite(); nf.Count() > 0 && !allowNonFinite {
				return nil, nil, cli.Exit(fmt.Sprintf("input %s: %s: its logits would be NaN (--allow-nonfinite classifies it anyway)", a, nf), 2)
			}
			per := 3 * arr.Shape[2] * arr.Shape[3]
			for i := 0; i < arr.Shape[0]; i++ {
				ins = append(ins, input{name: fmt.Sprintf("%s[%d]", a, i), row: arr.Float32[i*per : (i+1)*per],
					dims: []int64{3, int64(arr.Shape[2]), int64(arr.Shape[3])}})
			}
		default:
			ins = append(ins, input{name: a, path: a})
		}
	}
	return ins, unsupported, nil
}

func runPredict(c *cli.Context) error {
	if c.NArg() == 0 {
		return cli.Exit("predict: give at least one image, folder or .npy batch", 2)
	}
	if c.Int("top-k") < 1 || c.Int("batch") < 1 {
		return cli.Exit("--top-k and --batch: want at least 1", 2)
	}
	ins, unsupported, err := collectInputs(c.Args().Slice(), c.Bool("allow-nonfinite"))
	if err != nil {
		return err
	}
	reportUnsupported(c, unsupported)
	if c.Bool("tta") {
		if c.String("logits") != "" {
			return cli.Exit("--tta and --logits: test-time augmentation averages probabilities, there are no logits to write", 2)
		}
		for _, in := range ins {
			if in.path == "" {
				return cli.Exit(fmt.Sprintf("--tta: input %s is an already preprocessed .npy batch; test-time augmentation needs image files", in.name), 2)
			}
		}
	}
	o, err := openPrepared(c)
	if err != nil {
		return err
	}
	multi, thresholds, err := multiLabelOf(c, o)
	if err != nil {
		return err
	}
	if multi && thresholds == nil {
		return cli.Exit("--threshold tune needs labelled images: gtl eval --threshold tune --out DIR tunes them, then give DIR/per_class.csv to --threshold", 2)
	}
	if multi && c.IsSet("top-k") {
		return cli.Exit("--top-k: a multi-label model prints every class over its threshold; set --threshold instead", 2)
	}
	eval := o.Prep.Eval()
	var all [][]float32
	var tta [][]float64 // with --tta: the averaged softmax of each input
	if c.Bool("tta") {
		paths := make([]string, len(ins))
		for i, in := range ins {
			paths[i] = in.path
		}
		p, err := finetune.Evaluate(o.Model, finetune.FilesSet(paths, make([]int, len(paths))), finetune.EvalOptions{Batch: c.Int("batch"), Prep: o.Prep, TTA: true})
		if err != nil {
			return cli.Exit(err.Error(), 2)
		}
		tta = p.TTA
		if !c.Bool("quiet") {
			fmt.Fprintf(c.App.ErrWriter, "test-time augmentation: softmax averaged over up to %d views per image\n", p.Views)
		}
	}
	for start := 0; start < len(ins) && tta == nil; start += c.Int("batch") {
		batch := ins[start:min(start+c.Int("batch"), len(ins))]
		data, dims, err := batchData(batch, eval, o.Prep)
		if err != nil {
			return err
		}
		err = torch.Do(func() error {
			x, err := vision.FloatTensor(data, append([]int64{int64(len(batch))}, dims...), o.Model.VS.Device())
			if err != nil {
				return err
			}
			defer x.MustDrop()
			rows, err := o.Model.Logits(x)
			if err != nil {
				return fmt.Errorf("predict %s: %w", batch[0].name, err)
			}
			all = append(all, rows...)
			return nil
		})
		if err != nil {
			return err
		}
	}
	w := c.App.Writer
	k := min(c.Int("top-k"), o.Model.NumClasses)
	for i, in := range ins {
		if multi {
			fmt.Fprintf(w, "%s\t%s\n", in.name, multiLabelLine(all[i], o.Classes, thresholds))
			continue
		}
		var probs []float64
		if tta != nil {
			probs = tta[i]
		} else {
			probs = metrics.Softmax(all[i])
		}
		idx := make([]int, len(probs))
		for j := range idx {
			idx[j] = j
		}
		sort.SliceStable(idx, func(a, b int) bool { return probs[idx[a]] > probs[idx[b]] })
		parts := make([]string, k)
		for r := 0; r < k; r++ {
			parts[r] = fmt.Sprintf("%s %.1f%%", o.Classes[idx[r]], 100*probs[idx[r]])
		}
		fmt.Fprintf(w, "%s\t%s\n", in.name, strings.Join(parts, " | "))
	}
	if out := c.String("logits"); out != "" {
		flat := make([]float32, 0, len(all)*o.Model.NumClasses)
		for _, r := range all {
			flat = append(flat, r...)
		}
		if err := npy.Write(out, &npy.Array{Shape: []int{len(all), o.Model.NumClasses}, Float32: flat}); err != nil {
			return err
		}
		fmt.Fprintf(c.App.ErrWriter, "logits [%d %d] written to %s\n", len(all), o.Model.NumClasses, out)
	}
	return nil
}

// batchData preprocesses a batch of inputs into one float32 slice.
func batchData(batch []input, eval transforms.Eval, prep vision.Preprocess) ([]float32, []int64, error) {
	var data []float32
	var dims []int64
	for _, in := range batch {
		var d []int64
		var v []float32
		if in.path != "" {
			img, err := transforms.Load(in.path)
			if err != nil {
				return nil, nil, cli.Exit(err.Error(), 2)
			}
			img = eval.Apply(img)
			v, d = img.CHW(prep.Mean, prep.Std), []int64{3, int64(img.H), int64(img.W)}
		} else {
			v, d = in.row, in.dims
		}
		if dims == nil {
			dims = d
		} else if fmt.Sprint(d) != fmt.Sprint(dims) {
			return nil, nil, cli.Exit(fmt.Sprintf("input %s: size %v differs from %v in the same batch", in.name, d, dims), 2)
		}
		data = append(data, v...)
	}
	return data, dims, nil
}
