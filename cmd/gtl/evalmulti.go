package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/gtl-dev/gtl/finetune"
	"github.com/gtl-dev/gtl/metrics"
	"github.com/gtl-dev/gtl/torch"
	"github.com/gtl-dev/gtl/vision"
)

// runEvalMultiLabel is gtl eval of a multi-label model on the images of a
// labels file (--labels, read as gtl train reads it, its label sets split
// by --label-delim, by default the delimiter the checkpoint was trained
// with): by default its validation rows when it marks them,
// else all (--split train, val or all picks). It prints mAP, micro,
// macro and sample F1 and each class's precision, recall, F1 and AP at
// the thresholds (see metrics.ScoreMultiLabel; --threshold tune: tuned
// on these images by metrics.TuneThresholds, with a warning that the
// scores are optimistic); --json prints them as JSON, --out DIR writes
// report.json and per_class.csv (its class and threshold columns are a
// --threshold file).
func runEvalMultiLabel(c *cli.Context) error {
	if c.String("labels") == "" {
		return cli.Exit("--multi-label: gtl eval reads a multi-label model's images and label sets from --labels FILE.csv (with --data, the folder its paths are relative to)", 2)
	}
	if err := requireLabelsData(c); err != nil {
		return err
	}
	if c.Bool("tta") {
		return cli.Exit("--tta: test-time augmentation averages softmax probabilities; not with a multi-label model", 2)
	}
	if out := c.String("out"); strings.HasSuffix(strings.ToLower(out), ".csv") {
		return cli.Exit(fmt.Sprintf("--out %s: a multi-label evaluation has no confusion matrix; give a folder", out), 2)
	}
	spec := finetune.DataSpec{Source: c.String("data")}
	labelsSpec(c, &spec)
	spec.MultiLabel = true
	if !c.IsSet("label-delim") {
		spec.LabelDelim = trainedLabelDelim(c.String("weights"))
	}
	l, err := spec.ReadLabels()
	if err != nil {
		return specError(err)
	}
	split := c.String("split")
	if split == "" {
		split = "all"
		if l.Valid != nil {
			split = "val"
		}
	}
	if split != "all" && split != "val" && split != "train" {
		return cli.Exit(fmt.Sprintf("--split %s: with --labels, val, train or all", split), 2)
	}
	if split != "all" && l.Valid == nil {
		return cli.Exit(fmt.Sprintf("--split %s: %s marks no validation rows (--valid-col %s)", split, c.String("labels"), c.String("valid-col")), 2)
	}
	o, err := openPrepared(c)
	if err != nil {
		return err
	}
	multi, thresholds, err := multiLabelOf(c, o)
	if err != nil {
		return err
	}
	if !multi {
		return cli.Exit(fmt.Sprintf("--labels: %s is not a multi-label model (its checkpoint has no multi_label); --multi-label evaluates it as one", c.String("weights")), 2)
	}
	index := map[string]int{}
	for i, name := range o.Classes {
		index[name] = i
	}
	var ins []input
	var truth [][]bool
	for i, p := range l.Paths {
		if split != "all" && l.Valid[i] != (split == "val") {
			continue
		}
		row := make([]bool, len(o.Classes))
		for _, name := range l.Labels[i] {
			k, ok := index[name]
			if !ok {
				return cli.Exit(fmt.Sprintf("--labels %s: row %d: class %q is not one of the model's %d (%s)", c.String("labels"), l.Rows[i], name,
					len(o.Classes), strings.Join(o.Classes, ", ")), 2)
			}
			row[k] = true
		}
		ins, truth = append(ins, input{name: p, path: p}), append(truth, row)
	}
	if len(ins) == 0 {
		return cli.Exit(fmt.Sprintf("--labels %s: no %s rows", c.String("labels"), split), 2)
	}
	eval := o.Prep.Eval()
	probs := make([][]float64, 0, len(ins))
	var loss float64
	for start := 0; start < len(ins); start += c.Int("batch") {
		batch := ins[start:min(start+c.Int("batch"), len(ins))]
		data, dims, err := batchData(batch, eval, o.Prep)
		if err != nil {
			return err
		}
		var rows [][]float32
		if err := torch.Do(func() error {
			x, err := vision.FloatTensor(data, append([]int64{int64(len(batch))}, dims...), o.Model.VS.Device())
			if err != nil {
				return err
			}
			defer x.MustDrop()
			rows, err = o.Model.Logits(x)
			return err
		}); err != nil {
			return fmt.Errorf("eval %s: %w", batch[0].name, err)
		}
		for j, r := range rows {
			p := make([]float64, len(r))
			for k, x := range r {
				p[k] = 1 / (1 + math.Exp(-float64(x)))
				y := 0.0
				if truth[start+j][k] {
					y = 1
				}
				loss += max(float64(x), 0) - float64(x)*y + math.Log1p(math.Exp(-math.Abs(float64(x))))
			}
			probs = append(probs, p)
		}
	}
	loss /= float64(len(probs) * len(o.Classes))
	tuned := thresholds == nil // --threshold tune
	if tuned {
		if thresholds, err = metrics.TuneThresholds(probs, truth); err != nil {
			return err
		}
	}
	ml, err := metrics.ScoreMultiLabel(probs, truth, o.Classes, thresholds)
	if err != nil {
		return err
	}
	if tuned {
		where := "pass the per-class CSV of --out DIR to --threshold elsewhere"
		if c.String("out") != "" {
			where = "pass " + filepath.Join(c.String("out"), "per_class.csv") + " to --threshold elsewhere"
		}
		fmt.Fprintf(c.App.ErrWriter, "gtl: warning: --threshold tune: thresholds tuned on the images they score, so these F1 scores are optimistic; tune on validation images and %s\n", where)
	}
	rep := multiLabelJSON(ml, loss, fmt.Sprintf("%s (%s rows)", c.String("labels"), split))
	if out := c.String("out"); out != "" {
		if err := os.MkdirAll(out, 0o755); err != nil {
			return err
		}
		b, _ := json.MarshalIndent(rep, "", "  ")
		if err := os.WriteFile(filepath.Join(out, "report.json"), append(b, '\n'), 0o644); err != nil {
			return err
		}
		if err := finetune.WriteMultiLabelCSV(filepath.Join(out, "per_class.csv"), ml); err != nil {
			return err
		}
	}
	if c.Bool("json") {
		b, _ := json.MarshalIndent(rep, "", "  ")
		fmt.Fprintln(c.App.Writer, string(b))
		return nil
	}
	fmt.Fprintf(c.App.Writer, "%s on %s\n", o.Model.Arch, rep["data"])
	printMultiLabel(c.App.Writer, ml, loss)
	return nil
}

// trainedLabelDelim is the label delimiter a gtl checkpoint's run was
// trained with (label_delim in its JSON's train entry), or " " (fastai's
// default) when it records none.
func trainedLabelDelim(weights string) string {
	if weights == "" {
		return " "
	}
	m, err := vision.ReadMeta(weights)
	if err != nil || m == nil { // a bad JSON is reported when the model opens
		return " "
	}
	if d, ok := m.Train["label_delim"].(string); ok && d != "" {
		return d
	}
	return " "
}

// multiLabelJSON is a multi-label evaluation as JSON values (an AP of a
// class no image carries is null).
func multiLabelJSON(ml *metrics.MultiLabel, loss float64, data string) map[string]any {
	num := func(v float64) any {
		if math.IsNaN(v) {
			return nil
		}
		return v
	}
	var classes []map[string]any
	for c, name := range ml.Classes {
		classes = append(classes, map[string]any{"class": name, "support": ml.Support[c], "predicted": ml.Predicted[c], "threshold": ml.Thresholds[c],
			"precision": ml.Precision[c], "recall": ml.Recall[c], "f1": ml.F1[c], "ap": num(ml.AP[c])})
	}
	return map[string]any{"data": data, "images": ml.N, "loss": loss, "map": num(ml.MAP), "micro_f1": ml.MicroF1, "macro_f1": ml.MacroF1,
		"sample_f1": ml.SampleF1, "per_class": classes}
}
