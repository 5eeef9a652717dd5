package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/sugarme/gotch"
	"github.com/urfave/cli/v2"

	"github.com/gtl-dev/gtl/torch"
	"github.com/gtl-dev/gtl/vision"
	"github.com/gtl-dev/gtl/weights"
)

// modelFlags are the flags of every command that opens a model.
func modelFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "model", Aliases: []string{"m"}, Usage: "architecture (see gtl models); optional with a gtl checkpoint"},
		&cli.StringFlag{Name: "weights", Aliases: []string{"w"}, Usage: "weights file: torchvision .pth/.pt, .safetensors, gotch .ot, or a gtl checkpoint"},
		weightsKeyFlag(),
		weightsPrefixFlag(),
		allowNonFiniteFlag(),
		pretrainedFlag(),
		&cli.IntFlag{Name: "num-classes", Usage: "classes of the output layer; a different count than the weights' re-initialises the head (0: as in the weights)"},
		&cli.Int64Flag{Name: "seed", Value: trainDefaultSeed, Usage: "seed for the re-initialised head"},
		&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "no load report or progress on stderr"},
	}
}

// pretrainedFlag is --pretrained (see pretrainedValue).
func pretrainedFlag() cli.Flag {
	return &cli.GenericFlag{Name: "pretrained", Value: &pretrainedValue{},
		Usage: "pretrained weights for --model, from the cache ($GTL_HOME) or downloaded: bare for torchvision's DEFAULT, " +
			"or =NAME for one of the weights gtl models lists (IMAGENET1K_V1, IMAGENET1K_V2, …), or hf-hub:ORG/NAME for timm's from the Hugging Face Hub"}
}

// pretrainedValue is --pretrained: a boolean flag (bare --pretrained, or
// =true/=false, as it always was) that also takes a weights name
// (--pretrained=IMAGENET1K_V2, --pretrained=hf-hub:ORG/NAME). Its String is
// "true" or "false", so c.Bool("pretrained") keeps working; pretrainedName
// returns the name.
type pretrainedValue struct {
	on   bool
	name string
}

func (v *pretrainedValue) IsBoolFlag() bool { return true }

func (v *pretrainedValue) String() string {
	if v == nil {
		return "false"
	}
	return strconv.FormatBool(v.on)
}

func (v *pretrainedValue) Set(s string) error {
	if b, err := strconv.ParseBool(s); err == nil {
		v.on, v.name = b, ""
		return nil
	}
	if strings.TrimSpace(s) == "" {
		return fmt.Errorf("empty weights name")
	}
	v.on, v.name = true, s
	return nil
}

// pretrainedName returns the weights name given to --pretrained ("" for
// the default).
func pretrainedName(c *cli.Context) string {
	if v, ok := c.Generic("pretrained").(*pretrainedValue); ok && v.on {
		return v.name
	}
	return ""
}

// joinPretrainedArg rewrites "--pretrained NAME" as "--pretrained=NAME" when
// NAME is a weights name (hf-hub:…, DEFAULT, or an upper-case enum name
// such as IMAGENET1K_V2), so that the space-separated form works for a
// flag that may also stand alone.
func joinPretrainedArg(args []string) []string {
	out := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append(out, args[i:]...)
		}
		if (a == "--pretrained" || a == "-pretrained") && i+1 < len(args) && isWeightsName(args[i+1]) {
			out = append(out, a+"="+args[i+1])
			i++
			continue
		}
		out = append(out, a)
	}
	return out
}

func isWeightsName(s string) bool {
	if strings.HasPrefix(s, "hf-hub:") {
		return true
	}
	if i := strings.LastIndexByte(s, '.'); i >= 0 { // ResNet50_Weights.IMAGENET1K_V2
		s = s[i+1:]
	}
	return vision.IsWeightsName(s)
}

// weightsKeyFlag is --weights-key, on every command that takes --weights.
func weightsKeyFlag() cli.Flag {
	return &cli.StringFlag{Name: "weights-key", Usage: "entry of a wrapping checkpoint to load, e.g. state_dict_ema (default: the plain weights: state_dict, model, ...)"}
}

// weightsPrefixFlag is --weights-prefix, on every command that takes --weights.
func weightsPrefixFlag() cli.Flag {
	return &cli.StringFlag{Name: "weights-prefix", Usage: "load the tensors under this name prefix, removing it: a backbone inside a larger checkpoint (MoCo: module.encoder_q., mmselfsup: backbone.)"}
}

// allowNonFiniteFlag is --allow-nonfinite, on every command that takes --weights.
func allowNonFiniteFlag() cli.Flag {
	return &cli.BoolFlag{Name: "allow-nonfinite", Usage: "load weights (and, for predict, an .npy batch) holding NaN or Inf instead of refusing them; the model then computes NaN, as PyTorch does"}
}

// openModel opens the model the flags describe, printing the load report
// (and a download's progress) on stderr.
func openModel(c *cli.Context) (*vision.Opened, error) { return openModelFor(c, nil) }

// openModelFor is openModel for training on data with the given classes:
// a head trained on other classes is re-initialised.
func openModelFor(c *cli.Context, classes []string) (*vision.Opened, error) {
	if c.Int("num-classes") < 0 {
		return nil, cli.Exit(fmt.Sprintf("--num-classes %d: want at least 1 (or 0 for the weights' own)", c.Int("num-classes")), 2)
	}
	if c.String("model") == "" && c.String("weights") == "" && !vision.IsHubRef(pretrainedName(c)) {
		return nil, cli.Exit("--model is required (or --weights with a gtl checkpoint, or --pretrained hf-hub:ORG/NAME)", 2)
	}
	quiet := c.Bool("quiet")
	dev := gotch.CPU
	if d := c.String("device"); d != "" { // commands with --device
		var err error
		if dev, err = torch.ParseDevice(d); err != nil {
			return nil, cli.Exit("--device: "+err.Error(), 2)
		}
	}
	opts := vision.OpenOptions{Arch: c.String("model"), Weights: c.String("weights"), WeightsKey: c.String("weights-key"),
		WeightsPrefix: c.String("weights-prefix"), AllowNonFinite: c.Bool("allow-nonfinite"), Pretrained: c.Bool("pretrained"),
		PretrainedName: pretrainedName(c), NumClasses: c.Int("num-classes"), Classes: classes, Device: dev}
	if !quiet {
		opts.Fetch = fetchProgress(c)
	}
	var o *vision.Opened
	err := torch.Do(func() error {
		if err := torch.ManualSeed(c.Int64("seed")); err != nil {
			return err
		}
		var err error
		o, err = vision.Open(opts)
		return err
	})
	if err != nil {
		return nil, err
	}
	if !quiet {
		printLoadReport(c.App.ErrWriter, o)
	}
	return o, nil
}

// fetchProgress shows a download of pretrained weights on stderr.
func fetchProgress(c *cli.Context) vision.FetchOptions {
	var f vision.FetchOptions
	var bar *countBar
	f.Started = func(url, dst string) { fmt.Fprintf(c.App.ErrWriter, "downloading %s to %s\n", url, dst) }
	f.Progress = func(done, total int64) {
		if bar == nil {
			bar = newCountBar(c.App.ErrWriter, false, "weights", total, mebibytes)
		}
		bar.set(done)
		if done >= total {
			bar.finish()
		}
	}
	return f
}

func printLoadReport(w io.Writer, o *vision.Opened) {
	m := o.Model
	if o.Source == "" {
		fmt.Fprintf(w, "%s: %d classes, random initialisation (no weights)\n", m.Arch, m.NumClasses)
		return
	}
	r := o.Report
	fmt.Fprintf(w, "%s: loaded %s: %d tensors loaded, %d re-initialised, %d unexpected, %d missing\n",
		m.Arch, o.Source, len(r.Loaded), len(r.Reinitialized), len(r.Unexpected), len(r.Missing))
	f := o.File
	if f.Format == "TorchScript archive" {
		fmt.Fprintf(w, "  a TorchScript archive of %s: its parameters and buffers loaded by name\n", f.Class)
	}
	if f.Key != "" {
		fmt.Fprintf(w, "  weights taken from the checkpoint's %q entry", f.Key)
		if len(f.Skipped) > 0 {
			fmt.Fprintf(w, "; also there, not loaded: %s (--weights-key NAME loads one)", strings.Join(f.Skipped, ", "))
		}
		fmt.Fprintln(w)
	}
	if f.Prefix != "" {
		fmt.Fprintf(w, "  tensors under %q taken (prefix removed); %d others in the file not loaded\n", f.Prefix, f.Dropped)
	}
	if f.Stripped != "" {
		fmt.Fprintf(w, "  prefix %q removed from every tensor name\n", f.Stripped)
	}
	if len(f.NonFinite) > 0 {
		fmt.Fprintf(w, "  warning: %d tensor(s) hold NaN or Inf (--allow-nonfinite): %s\n", len(f.NonFinite), weights.NonFiniteList(f.NonFinite))
	}
	if len(r.Skipped) > 0 {
		fmt.Fprintf(w, "  no classifier head in the file: %d tensor(s) under the head's names not loaded: %s\n", len(r.Skipped), strings.Join(r.Skipped, ", "))
	}
	if len(r.Filled) > 0 {
		fmt.Fprintf(w, "  %d num_batches_tracked buffer(s) absent from the file (saved before PyTorch 0.4.1), set to 0\n", len(r.Filled))
	}
	if len(r.Initialized) > 0 {
		fmt.Fprintf(w, "  optional part absent from the file, initialised: %s (%d tensors)\n", optionalParts(m.OptionalPrefixes, r.Initialized), len(r.Initialized))
	}
	if len(r.Reinitialized) > 0 {
		fmt.Fprintf(w, "  new head for %d classes: %v\n", m.NumClasses, r.Reinitialized)
	}
}

// optionalParts names the optional prefixes that the given tensors fall under.
func optionalParts(prefixes, names []string) string {
	var parts []string
	for _, p := range prefixes {
		for _, n := range names {
			if strings.HasPrefix(n, p) {
				parts = append(parts, strings.TrimSuffix(p, "."))
				break
			}
		}
	}
	return strings.Join(parts, ", ")
}

// trainDefaultSeed is gtl train's default --seed; gtl compare splits a
// folder's validation images with it too.
const trainDefaultSeed = 1
