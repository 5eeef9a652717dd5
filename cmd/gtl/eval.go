package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"image"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/gtl-dev/gtl/chart"
	"github.com/gtl-dev/gtl/finetune"
	"github.com/gtl-dev/gtl/metrics"
	"github.com/gtl-dev/gtl/npy"
	"github.com/gtl-dev/gtl/vision"
	"github.com/gtl-dev/gtl/vision/datasets"
	"github.com/gtl-dev/gtl/vision/transforms"
)

func evalCommand() *cli.Command {
	return &cli.Command{
		Name:  "eval",
		Usage: "evaluate a model on a labelled image folder or fashion-mnist: accuracy, per-class precision/recall/F1, confusion matrix, top losses",
		Description: "--data is an image folder or fashion-mnist. An image folder's split (--split): test (root/test/<class>/),\n" +
			"val (root/val, valid or validation), train (root/train/) or all (root/<class>/); by default test/,\n" +
			"else the validation folder, else root/<class>/ itself. Classes are matched by name with the\n" +
			"checkpoint's: a folder class the model does not know is an error; a model class without images\n" +
			"is named and scores recall 0 (left out of balanced accuracy). Weights without class names\n" +
			"(a bare .pth) take the folder's classes in sorted order, as gtl train numbers them.\n\n" +
			"Prints top-1/top-5, loss, balanced accuracy, macro F1, per-class precision/recall/F1, the\n" +
			"confusion matrix and the top losses (the most confidently wrong images). --out DIR writes\n" +
			"report.json, confusion.csv, confusion.png, top_losses.csv and top_losses.png (a contact sheet);\n" +
			"--out FILE.csv writes the confusion matrix alone. --tta also scores test-time augmentation (the\n" +
			"centre and corner crops and their mirror images, softmax averaged) beside the plain numbers.",
		Flags: append(append(modelFlags(),
			&cli.StringFlag{Name: "data", Value: "fashion-mnist", Usage: "image folder, or fashion-mnist"},
			&cli.StringFlag{Name: "split", Usage: "test, val, train or all for an image folder (default: test, else val, else all); test or train for fashion-mnist (default test)"},
			&cli.StringFlag{Name: "out", Usage: "folder for the report, confusion matrix (CSV, PNG) and top losses; or a .csv file for the confusion matrix alone"},
			&cli.BoolFlag{Name: "json", Usage: "print the report as JSON on stdout instead of text"},
			&cli.BoolFlag{Name: "tta", Usage: "also evaluate with test-time augmentation and print both"},
			&cli.IntFlag{Name: "top-losses", Value: 12, Usage: "how many of the most confidently wrong images to list and draw (0: none)"},
			&cli.IntFlag{Name: "batch", Value: 64, Usage: "images per forward pass"},
			&cli.StringFlag{Name: "threshold", Usage: evalThresholdUsage},
		),
			append(prepFlags(), labelsFlags()...)...),
		Action: runEval,
	}
}

// evalData is a labelled set to evaluate, its labels numbering its own
// classes.
type evalData struct {
	desc    string // what it is, for the report: "fashion-mnist test", a folder
	classes []string
	set     finetune.EvalImages
	labels  []int
}

func openEvalData(data, split string) (*evalData, []string, error) {
	if data == "fashion-mnist" {
		if split == "" {
			split = "test"
		}
		if split != "test" && split != "train" {
			return nil, nil, cli.Exit(fmt.Sprintf("--split %s: fashion-mnist's splits are test and train", split), 2)
		}
		im, err := datasets.LoadFashionMNIST("", datasets.Split(split))
		if err != nil {
			return nil, nil, err
		}
		return &evalData{desc: "fashion-mnist " + split, classes: im.Classes, set: finetune.ImagesSet(im), labels: im.Labels}, nil, nil
	}
	dir, err := evalDir(data, split)
	if err != nil {
		return nil, nil, cli.Exit(err.Error(), 2)
	}
	l, err := datasets.ScanImageFolder(dir)
	if err != nil {
		return nil, nil, cli.Exit(err.Error(), 2)
	}
	paths, labels := make([]string, len(l.Items)), make([]int, len(l.Items))
	for i, it := range l.Items {
		paths[i], labels[i] = it.Path, it.Label
	}
	return &evalData{desc: dir, classes: l.Classes, set: finetune.FilesSet(paths, labels), labels: labels}, l.Unsupported, nil
}

// evalDir picks the folder of an image folder's split.
func evalDir(root, split string) (string, error) {
	if fi, err := os.Stat(root); err != nil || !fi.IsDir() {
		return "", fmt.Errorf("--data %s: not a folder (want an image folder or fashion-mnist)", root)
	}
	if split != "" {
		dir, err := vision.SplitDir(root, split)
		if err != nil {
			return "", fmt.Errorf("--%w", err)
		}
		return dir, nil
	}
	if test, err := vision.SplitDir(root, vision.TestDir); err == nil {
		return test, nil
	}
	if val := vision.ValDir(root); val != "" {
		return val, nil
	}
	if _, err := vision.SplitDir(root, "train"); err == nil {
		return "", fmt.Errorf("--data %s: no test/ or validation folder beside train/; --split train evaluates on the training images", root)
	}
	return root, nil
}

func runEval(c *cli.Context) error {
	if c.String("weights") == "" && !c.Bool("pretrained") {
		return cli.Exit("eval: --weights CHECKPOINT is required", 2)
	}
	if c.Int("batch") < 1 || c.Int("top-losses") < 0 {
		return cli.Exit("--batch: want at least 1; --top-losses: want 0 or more", 2)
	}
	if c.Bool("multi-label") || c.String("labels") != "" {
		return runEvalMultiLabel(c)
	}
	out := c.String("out")
	csvOnly := strings.HasSuffix(strings.ToLower(out), ".csv")
	d, unsupported, err := openEvalData(c.String("data"), c.String("split"))
	if err != nil {
		return err
	}
	o, err := openPrepared(c)
	if err != nil {
		return err
	}
	// A folder gives one class per image: a multi-label checkpoint, or
	// --threshold, needs --labels.
	if multi, _, err := multiLabelOf(c, o); err != nil {
		return err
	} else if multi {
		return cli.Exit(fmt.Sprintf("--weights %s is a multi-label model: gtl eval reads its images and label sets from --labels FILE.csv (with --data, the folder its paths are relative to)", c.String("weights")), 2)
	}
	reportUnsupported(c, unsupported)
	labels, missing, err := matchClasses(c, o, d)
	if err != nil {
		return err
	}
	if len(missing) > 0 && !c.Bool("quiet") {
		fmt.Fprintf(c.App.ErrWriter, "note: %s has no images of %d of the model's classes (%s): their recall is 0, left out of the balanced accuracy\n",
			d.desc, len(missing), strings.Join(missing, ", "))
	}
	set := relabelled{d.set, labels}
	opts := finetune.EvalOptions{Batch: c.Int("batch"), Prep: o.Prep, TTA: c.Bool("tta")}
	var bar *countBar // on a terminal only (see liveLine)
	if !c.Bool("quiet") {
		opts.Progress = func(done, total int) {
			if bar == nil {
				bar = newCountBar(c.App.ErrWriter, false, "evaluating", int64(total), nil)
			}
			bar.set(int64(done))
		}
	}
	p, err := finetune.Evaluate(o.Model, set, opts)
	if bar != nil {
		bar.finish()
	}
	if err != nil {
		return cli.Exit(err.Error(), 2)
	}
	rep, err := buildEvalReport(o, d, set, p, c.Int("top-losses"))
	if err != nil {
		return err
	}
	if c.Bool("json") {
		b, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return err
		}
		fmt.Fprintf(c.App.Writer, "%s\n", b)
	} else {
		printEval(c.App.Writer, rep)
	}
	switch {
	case out == "":
		return nil
	case csvOnly:
		return finetune.WriteConfusionCSV(out, rep.plain)
	}
	return writeEvalFiles(out, rep, set, o.Prep)
}

// matchClasses maps the data's labels to the model's classes by name. A
// class of the data that the model does not have is an error; the model's
// classes without images are returned. Weights without class names take
// the data's classes in order.
func matchClasses(c *cli.Context, o *vision.Opened, d *evalData) (labels []int, missing []string, err error) {
	generated := true
	for i, name := range o.Classes {
		generated = generated && name == fmt.Sprintf("class %d", i)
	}
	if generated {
		if len(d.classes) != len(o.Classes) {
			return nil, nil, cli.Exit(fmt.Sprintf("eval: %s has %d classes and %s %d, and the weights name none of theirs", d.desc, len(d.classes), o.Model.Arch, len(o.Classes)), 2)
		}
		if !c.Bool("quiet") {
			fmt.Fprintf(c.App.ErrWriter, "note: %s carries no class names: the model's classes 0..%d are taken as %s's, in sorted order (%s)\n",
				sourceName(o), len(o.Classes)-1, d.desc, strings.Join(d.classes, ", "))
		}
		o.Classes = d.classes
		return d.labels, nil, nil
	}
	index := make([]int, len(d.classes))
	var unknown []string
	for i, name := range d.classes {
		index[i] = slices.Index(o.Classes, name)
		if index[i] < 0 {
			unknown = append(unknown, strconv.Quote(name))
		}
	}
	fashion := strings.HasPrefix(d.desc, "fashion-mnist")
	if len(unknown) > 0 && !fashion {
		return nil, nil, cli.Exit(fmt.Sprintf("eval: %s has class(es) %s that %s does not know (its classes: %s)",
			d.desc, strings.Join(unknown, ", "), sourceName(o), strings.Join(o.Classes, ", ")), 2)
	}
	// Fashion-MNIST: a checkpoint fine-tuned on some of its classes (gtl
	// train --classes) is evaluated on the images of those.
	var keep []int
	seen := make([]bool, len(o.Classes))
	for i, y := range d.labels {
		if index[y] >= 0 {
			keep = append(keep, i)
			seen[index[y]] = true
		}
	}
	if len(keep) == 0 {
		return nil, nil, cli.Exit(fmt.Sprintf("eval: %s has no images of %s's classes (%s)", d.desc, sourceName(o), strings.Join(o.Classes, ", ")), 2)
	}
	if fashion && len(keep) < len(d.labels) {
		d.set = subset{d.set, keep}
	}
	labels = make([]int, len(keep))
	for j, i := range keep {
		labels[j] = index[d.labels[i]]
	}
	for i, ok := range seen {
		if !ok {
			missing = append(missing, o.Classes[i])
		}
	}
	return labels, missing, nil
}

func sourceName(o *vision.Opened) string {
	if o.Source != "" {
		return o.Source
	}
	return o.Model.Arch
}

// subset is the images of a set at idx.
type subset struct {
	finetune.EvalImages
	idx []int
}

func (s subset) Len() int                            { return len(s.idx) }
func (s subset) Label(i int) int                     { return s.EvalImages.Label(s.idx[i]) }
func (s subset) Name(i int) string                   { return s.EvalImages.Name(s.idx[i]) }
func (s subset) Image(i int) (transforms.RGB, error) { return s.EvalImages.Image(s.idx[i]) }

// relabelled is a set with its labels replaced (the model's class indices).
type relabelled struct {
	finetune.EvalImages
	labels []int
}

func (s relabelled) Label(i int) int { return s.labels[i] }

// evalReport is what gtl eval prints and writes (--json's schema).
type evalReport struct {
	Model      string            `json:"model"`
	Weights    string            `json:"weights,omitempty"`
	Data       string            `json:"data"`
	Images     int               `json:"images"`
	Classes    []string          `json:"classes"`
	Preprocess vision.Preprocess `json:"preprocess"`
	scores
	PerClass  []classScore `json:"per_class"`
	Confusion [][]int      `json:"confusion"`
	TTA       *ttaScores   `json:"tta,omitempty"`
	Mistakes  int          `json:"mistakes"`
	TopLosses []topLoss    `json:"top_losses"`

	plain *finetune.Report
}

type scores struct {
	Top1             float64 `json:"top1"`
	Top5             float64 `json:"top5"`
	Loss             float64 `json:"loss"`
	BalancedAccuracy float64 `json:"balanced_accuracy"`
	MacroF1          float64 `json:"macro_f1"`
}

type ttaScores struct {
	Views int `json:"views"`
	scores
	Confusion [][]int `json:"confusion"`
}

type classScore struct {
	Class     string  `json:"class"`
	Precision float64 `json:"precision"`
	Recall    float64 `json:"recall"`
	F1        float64 `json:"f1"`
	Images    int     `json:"images"`
	Predicted int     `json:"predicted"`
}

type topLoss struct {
	Image     string  `json:"image"`
	True      string  `json:"true"`
	Predicted string  `json:"predicted"`
	Prob      float64 `json:"prob"`
	TrueProb  float64 `json:"true_prob"`
	Loss      float64 `json:"loss"`
	index     int
}

func scoresOf(r *metrics.Report) scores {
	return scores{Top1: r.Top1, Top5: r.Top5, Loss: r.Loss, BalancedAccuracy: r.BalancedAccuracy, MacroF1: r.MacroF1}
}

func buildEvalReport(o *vision.Opened, d *evalData, set finetune.EvalImages, p *finetune.Predictions, nLosses int) (*evalReport, error) {
	r, err := metrics.Score(p.Probs, p.Labels, o.Classes)
	if err != nil {
		return nil, err
	}
	rep := &evalReport{Model: o.Model.Arch, Weights: o.Source, Data: d.desc, Images: r.N, Classes: o.Classes, Preprocess: o.Prep,
		scores: scoresOf(r), Confusion: r.Confusion, plain: r}
	for i, name := range r.Classes {
		rep.PerClass = append(rep.PerClass, classScore{Class: name, Precision: r.Precision[i], Recall: r.Recall[i], F1: r.F1[i],
			Images: r.Support[i], Predicted: r.Predicted[i]})
	}
	if p.TTA != nil {
		t, err := metrics.Score(p.TTA, p.Labels, o.Classes)
		if err != nil {
			return nil, err
		}
		rep.TTA = &ttaScores{Views: p.Views, scores: scoresOf(t), Confusion: t.Confusion}
	}
	rep.Mistakes = r.N
	for i := range r.Confusion {
		rep.Mistakes -= r.Confusion[i][i]
	}
	rep.TopLosses = []topLoss{}
	if nLosses > 0 {
		for _, m := range metrics.TopLosses(p.Probs, p.Labels, nLosses) {
			rep.TopLosses = append(rep.TopLosses, topLoss{Image: set.Name(m.Index), True: o.Classes[m.True], Predicted: o.Classes[m.Predicted],
				Prob: m.Prob, TrueProb: m.TrueProb, Loss: m.Loss, index: m.Index})
		}
	}
	return rep, nil
}

// printEval writes the report as text.
func printEval(w io.Writer, r *evalReport) {
	fmt.Fprintf(w, "%s on %s\n", r.Model, r.Data)
	k := len(r.Classes)
	if k > 5 {
		fmt.Fprintf(w, "top-1 %.1f%%  top-5 %.1f%%  loss %.4f  (%d images, %d classes)\n", 100*r.Top1, 100*r.Top5, r.Loss, r.Images, k)
	} else { // top-5 says nothing with 5 classes or fewer (it is 100%)
		fmt.Fprintf(w, "top-1 %.1f%%  loss %.4f  (%d images, %d classes)\n", 100*r.Top1, r.Loss, r.Images, k)
	}
	fmt.Fprintf(w, "balanced accuracy %.1f%%  macro F1 %.3f\n", 100*r.BalancedAccuracy, r.MacroF1)
	if t := r.TTA; t != nil {
		fmt.Fprintf(w, "\n%-18s %8s %8s %8s\n", "", "plain", fmt.Sprintf("TTA ×%d", t.Views), "change")
		row := func(name string, a, b float64, pct bool) {
			if pct {
				fmt.Fprintf(w, "%-18s %7.1f%% %7.1f%% %+7.1f\n", name, 100*a, 100*b, 100*(b-a))
			} else {
				fmt.Fprintf(w, "%-18s %8.4f %8.4f %+8.4f\n", name, a, b, b-a)
			}
		}
		row("top-1", r.Top1, t.Top1, true)
		if k > 5 {
			row("top-5", r.Top5, t.Top5, true)
		}
		row("balanced accuracy", r.BalancedAccuracy, t.BalancedAccuracy, true)
		row("macro F1", r.MacroF1, t.MacroF1, false)
		row("loss", r.Loss, t.Loss, false)
	}
	fmt.Fprintf(w, "\n%-18s %9s %7s %6s %7s\n", "class", "precision", "recall", "F1", "images")
	for _, s := range r.PerClass {
		fmt.Fprintf(w, "%-18s %9.3f %7.3f %6.3f %7d\n", truncate(s.Class, 18), s.Precision, s.Recall, s.F1, s.Images)
	}
	fmt.Fprintln(w)
	printConfusion(w, r.plain)
	if len(r.TopLosses) > 0 {
		fmt.Fprintf(w, "\ntop losses: the %d most confidently wrong of %d mistakes\n", len(r.TopLosses), r.Mistakes)
		for _, l := range r.TopLosses {
			fmt.Fprintf(w, "%s\ttrue %s (%.1f%%)\tpredicted %s %.1f%%\tloss %.2f\n", l.Image, l.True, 100*l.TrueProb, l.Predicted, 100*l.Prob, l.Loss)
		}
	}
}

// writeEvalFiles writes report.json, confusion.csv and .png, and the top
// losses (CSV and contact sheet) into dir.
func writeEvalFiles(dir string, r *evalReport, set finetune.EvalImages, prep vision.Preprocess) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return cli.Exit(fmt.Sprintf("--out %s: %v", dir, err), 2)
	}
	if err := finetune.WriteJSON(filepath.Join(dir, "report.json"), r); err != nil {
		return err
	}
	if err := finetune.WriteConfusionCSV(filepath.Join(dir, "confusion.csv"), r.plain); err != nil {
		return err
	}
	if err := chart.Confusion(filepath.Join(dir, "confusion.png"), r.Confusion, r.Classes, fmt.Sprintf("%s on %d images: top-1 %.1f%%", r.Model, r.Images, 100*r.Top1)); err != nil {
		return err
	}
	var b strings.Builder
	cw := csv.NewWriter(&b)
	_ = cw.Write([]string{"image", "true", "predicted", "prob", "true_prob", "loss"})
	for _, l := range r.TopLosses {
		_ = cw.Write([]string{l.Image, l.True, l.Predicted, fmt.Sprintf("%.6f", l.Prob), fmt.Sprintf("%.6f", l.TrueProb), fmt.Sprintf("%.6f", l.Loss)})
	}
	cw.Flush()
	if err := npy.WriteFileAtomic(filepath.Join(dir, "top_losses.csv"), []byte(b.String())); err != nil {
		return err
	}
	if len(r.TopLosses) == 0 {
		return nil
	}
	eval := prep.Eval()
	tiles := make([]chart.Tile, len(r.TopLosses))
	for i, l := range r.TopLosses {
		img, err := set.Image(l.index)
		if err != nil {
			return cli.Exit(fmt.Sprintf("eval: %s: %v", l.Image, err), 2)
		}
		tiles[i] = chart.Tile{Image: rgbImage(eval.Apply(img)), Lines: []string{
			truncate(filepath.Join(filepath.Base(filepath.Dir(l.Image)), filepath.Base(l.Image)), 26), "true: " + truncate(l.True, 20), fmt.Sprintf("predicted: %s %.1f%%", truncate(l.Predicted, 14), 100*l.Prob)}}
	}
	return chart.ContactSheet(filepath.Join(dir, "top_losses.png"), tiles, 0,
		fmt.Sprintf("%s: the %d most confidently wrong of %d images", r.Model, len(tiles), r.Images))
}

// rgbImage converts an RGB picture to an image.Image.
func rgbImage(p transforms.RGB) image.Image {
	m := image.NewRGBA(image.Rect(0, 0, p.W, p.H))
	for i := range p.W * p.H {
		copy(m.Pix[4*i:4*i+3], p.Pix[3*i:3*i+3])
		m.Pix[4*i+3] = 255
	}
	return m
}

// printReport writes accuracy, per-class accuracy and the confusion matrix
// (gtl train's report on its validation images).
func printReport(w io.Writer, r *finetune.Report, n int) {
	if r.MultiLabel != nil {
		printMultiLabel(w, r.MultiLabel, r.Loss)
		return
	}
	// Top-5 accuracy says nothing with 5 classes or fewer (it is 100%).
	if len(r.Classes) > 5 {
		fmt.Fprintf(w, "top-1 %.1f%%  top-5 %.1f%%  loss %.4f  (%d images)\n", 100*r.Top1, 100*r.Top5, r.Loss, n)
	} else {
		fmt.Fprintf(w, "top-1 %.1f%%  loss %.4f  (%d images, %d classes)\n", 100*r.Top1, r.Loss, n, len(r.Classes))
	}
	fmt.Fprintf(w, "balanced accuracy %.1f%%  macro F1 %.3f\n", 100*r.BalancedAccuracy, r.MacroF1)
	printConfusion(w, r)
}

// printConfusion writes the confusion matrix with each class's accuracy.
func printConfusion(w io.Writer, r *finetune.Report) {
	fmt.Fprintf(w, "confusion matrix (rows: true class, columns: predicted)\n%-14s", "")
	for i := range r.Classes {
		fmt.Fprintf(w, "%6d", i)
	}
	fmt.Fprintf(w, "  accuracy\n")
	for i, row := range r.Confusion {
		fmt.Fprintf(w, "%-14s", fmt.Sprintf("%d %s", i, truncate(r.Classes[i], 11)))
		for _, v := range row {
			fmt.Fprintf(w, "%6d", v)
		}
		fmt.Fprintf(w, "  %.1f%%\n", 100*r.PerClass[i])
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
