package finetune

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/gtl-dev/gtl/chart"
)

// curvePoint is one epoch of a run's curves; NaN where not measured.
type curvePoint struct {
	epoch                           int
	trainLoss, valLoss, valAccuracy float64
}

// plotCurves draws a run's curves.png: train and validation loss above,
// validation accuracy (with chance) below, at whole epochs, under a title
// naming the model, the data and the strategy. It reads the run's folder
// (path's): config.json for the title, and metrics.jsonl for every epoch,
// a resumed run's earlier ones included; res's epochs stand in for
// metrics it cannot read.
func plotCurves(path string, res *Result) error {
	dir := filepath.Dir(path)
	var rc RunConfig
	if b, err := os.ReadFile(filepath.Join(dir, "config.json")); err == nil {
		_ = json.Unmarshal(b, &rc) // a title without names is still a chart
	}
	pts, err := readCurve(filepath.Join(dir, "metrics.jsonl"))
	if err != nil || len(pts) == 0 {
		pts = pts[:0]
		for _, e := range res.Epochs {
			pts = append(pts, curvePoint{e.Epoch, e.TrainLoss, e.ValLoss, e.ValAccuracy})
		}
	}
	return chart.Panels(path, curvesChart(rc, pts))
}

// readCurve reads the epochs of a metrics.jsonl; a torn last line is left
// out.
func readCurve(path string) ([]curvePoint, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var pts []curvePoint
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r struct {
			Epoch       int      `json:"epoch"`
			TrainLoss   *float64 `json:"train_loss"`
			ValLoss     *float64 `json:"val_loss"`
			ValAccuracy *float64 `json:"val_accuracy"`
		}
		if json.Unmarshal(sc.Bytes(), &r) != nil || r.Epoch < 1 {
			continue
		}
		num := func(p *float64) float64 {
			if p == nil {
				return math.NaN()
			}
			return *p
		}
		pts = append(pts, curvePoint{r.Epoch, num(r.TrainLoss), num(r.ValLoss), num(r.ValAccuracy)})
	}
	return pts, sc.Err()
}

// lossLogRatio is the spread of the losses (largest over smallest) from
// which they are drawn on a log axis: a validation loss that blows up to
// thousands stays on the chart without flattening the rest.
const lossLogRatio = 20

// curvesChart lays out the curves of a run.
func curvesChart(rc RunConfig, pts []curvePoint) chart.PanelsChart {
	train := chart.Series{Name: "train loss"}
	val := chart.Series{Name: "val loss"}
	acc := chart.Series{Name: "val accuracy"}
	lo, hi := math.Inf(1), math.Inf(-1)
	add := func(s *chart.Series, e int, v float64) {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return
		}
		s.X, s.Y = append(s.X, float64(e)), append(s.Y, v)
	}
	for _, p := range pts {
		add(&train, p.epoch, p.trainLoss)
		add(&val, p.epoch, p.valLoss)
		add(&acc, p.epoch, 100*p.valAccuracy)
	}
	var losses []chart.Series
	for _, s := range []chart.Series{train, val} {
		if len(s.X) > 0 {
			losses = append(losses, s)
			for _, v := range s.Y {
				lo, hi = math.Min(lo, v), math.Max(hi, v)
			}
		}
	}
	c := chart.PanelsChart{Title: curvesTitle(rc), XLabel: "epoch", IntegerX: true}
	if len(losses) > 0 {
		p := chart.Panel{YLabel: "loss", Series: losses}
		if lo > 0 && hi/lo > lossLogRatio {
			p.LogY, p.YLabel = true, "loss (log scale)"
		}
		c.Panels = append(c.Panels, p)
	}
	if len(acc.X) > 0 {
		p := chart.Panel{YLabel: "val accuracy (%)", Series: []chart.Series{acc}, YMin: 0, YMax: 100}
		if n := len(rc.Classes); n > 1 {
			p.Refs = []chart.Ref{{Name: "chance", Y: 100 / float64(n)}}
		}
		c.Panels = append(c.Panels, p)
	}
	if len(c.Panels) == 0 { // nothing finite to draw: say so on an empty axis
		c.Panels = []chart.Panel{{YLabel: "loss (no finite value)", Series: []chart.Series{{Name: "no data", X: []float64{1}, Y: []float64{0}}}}}
	}
	return c
}

// curvesTitle names the model, the data and the strategy of a run:
// "resnet18 on clothes (5 classes, 480 training images), strategy linear".
func curvesTitle(rc RunConfig) string {
	model := rc.Spec.Model.Arch
	if model == "" {
		model = "model"
	}
	data := rc.Spec.Data.Source
	if data != "" && data != "fashion-mnist" {
		data = filepath.Base(filepath.Clean(data))
	}
	if data == "" {
		data = "its data"
	}
	var facts []string
	if n := len(rc.Classes); n > 0 {
		facts = append(facts, fmt.Sprintf("%d classes", n))
	}
	if rc.TrainImages > 0 {
		facts = append(facts, fmt.Sprintf("%d training images", rc.TrainImages))
	}
	if len(facts) > 0 {
		data += " (" + strings.Join(facts, ", ") + ")"
	}
	how := ""
	switch n, err := strconv.Atoi(rc.Spec.Train.Freeze); {
	case rc.Spec.Train.Strategy != "":
		how = "strategy " + rc.Spec.Train.Strategy
	case !rc.Spec.FineTune():
		how = "from scratch"
	case rc.Spec.Train.Freeze == "all":
		how = "backbone frozen"
	case err == nil && n > 0:
		how = fmt.Sprintf("fine-tuned, %d stages frozen", n)
	default:
		how = "fine-tuned"
	}
	return fmt.Sprintf("%s on %s, %s", model, data, how)
}
