package strategies

import (
	"encoding/base64"
	"fmt"
	"html"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/gtl-dev/gtl/chart"

	"github.com/gtl-dev/gtl/vision/datasets"
	"github.com/gtl-dev/gtl/vision/npy"
)

// Plot files WriteReport makes beside the report.
const (
	PlotAccuracy     = "accuracy-vs-labels.png"
	PlotTimeTo95     = "time-to-95.png"
	plotCurvesPrefix = "curves-"
)

// WriteReport writes the plots, report.md and report.html (the plots
// embedded) for the results into dir.
func WriteReport(dir string, r *Results) error {
	plots, err := r.plots(dir)
	if err != nil {
		return err
	}
	md := r.Markdown() + plots
	if err := npy.WriteFileAtomic(filepath.Join(dir, "report.md"), []byte(md)); err != nil {
		return err
	}
	return npy.WriteFileAtomic(filepath.Join(dir, "report.html"), []byte(markdownToHTML(md, dir)))
}

// plots draws the report's charts into dir and returns the Markdown that
// shows them.
func (r *Results) plots(dir string) (string, error) {
	g := r.Grid
	sums := r.Summaries()
	if len(sums) == 0 {
		return "", nil
	}
	var md strings.Builder
	md.WriteString("## Plots\n\n")
	// Accuracy against labels per class, one line per strategy.
	perClass := func(shots int) float64 {
		if shots != All {
			return float64(shots)
		}
		for _, rec := range r.inGrid() {
			if rec.Shots == All {
				return float64(rec.TrainImages) / float64(len(g.Classes))
			}
		}
		return math.NaN()
	}
	acc := chart.LineChart{Title: "Final accuracy against labelled images per class", XLabel: "labelled images per class (log scale)",
		YLabel: "accuracy (mean ± std over seeds)", LogX: true, LegendTop: false}
	bars := chart.BarChart{Title: "Training time to 95% of each run's best accuracy", XLabel: "labelled images per class", YLabel: "seconds (mean over seeds)"}
	for _, sh := range g.Shots {
		bars.Groups = append(bars.Groups, ShotsLabel(sh))
	}
	for _, st := range g.Strategies {
		line := chart.Series{Name: st}
		bar := chart.BarSeries{Name: st}
		for _, sh := range g.Shots {
			v := math.NaN()
			for _, s := range sums {
				if x := perClass(sh); s.Strategy == st && s.Shots == sh && x > 0 {
					line.X = append(line.X, x)
					line.Y = append(line.Y, 100*s.Accuracy.Mean)
					line.Err = append(line.Err, 100*s.Accuracy.Std)
					v = s.SecondsTo95.Mean
				}
			}
			bar.Values = append(bar.Values, v)
		}
		if len(line.X) > 0 {
			acc.Series = append(acc.Series, line)
		}
		bars.Series = append(bars.Series, bar)
	}
	if err := chart.Lines(filepath.Join(dir, PlotAccuracy), acc); err != nil {
		return "", err
	}
	fmt.Fprintf(&md, "![accuracy against labels per class](%s)\n\n", PlotAccuracy)
	if err := chart.Bars(filepath.Join(dir, PlotTimeTo95), bars); err != nil {
		return "", err
	}
	fmt.Fprintf(&md, "![time to 95%% of the best accuracy](%s)\n\n", PlotTimeTo95)
	// Learning curves per size: validation accuracy against training time,
	// mean over seeds at each validated epoch.
	for _, sh := range g.Shots {
		lc := chart.LineChart{Title: fmt.Sprintf("Learning curves, %s labelled images per class", ShotsLabel(sh)),
			XLabel: "seconds of training (mean over seeds)", YLabel: "validation accuracy (%)"}
		for _, st := range g.Strategies {
			if s := r.meanCurve(st, sh); len(s.X) > 0 {
				lc.Series = append(lc.Series, s)
			}
		}
		if len(lc.Series) == 0 {
			continue
		}
		name := plotCurvesPrefix + ShotsLabel(sh) + ".png"
		if err := chart.Lines(filepath.Join(dir, name), lc); err != nil {
			return "", err
		}
		fmt.Fprintf(&md, "![learning curves, %s per class](%s)\n\n", ShotsLabel(sh), name)
	}
	return md.String(), nil
}

// meanCurve averages the validated points of a strategy's runs at one size
// over seeds (epochs where every seed was validated).
func (r *Results) meanCurve(strategy string, shots int) chart.Series {
	type acc struct {
		secs, acc float64
		n         int
	}
	byEpoch := map[int]*acc{}
	runs := 0
	for _, rec := range r.inGrid() {
		if rec.Strategy != strategy || rec.Shots != shots {
			continue
		}
		runs++
		for _, pt := range rec.Curve {
			if pt.ValAccuracy == nil {
				continue
			}
			a := byEpoch[pt.Epoch]
			if a == nil {
				a = &acc{}
				byEpoch[pt.Epoch] = a
			}
			a.secs += pt.Seconds
			a.acc += *pt.ValAccuracy
			a.n++
		}
	}
	var epochs []int
	for e, a := range byEpoch {
		if a.n == runs {
			epochs = append(epochs, e)
		}
	}
	sort.Ints(epochs)
	s := chart.Series{Name: strategy}
	for _, e := range epochs {
		a := byEpoch[e]
		s.X = append(s.X, a.secs/float64(a.n))
		s.Y = append(s.Y, 100*a.acc/float64(a.n))
	}
	return s
}

// Markdown returns the report: what was compared, mean ± std accuracy per
// strategy and size, time to 95% of each run's best, and the best strategy
// per size.
func (r *Results) Markdown() string {
	g := r.Grid
	var b strings.Builder
	fmt.Fprintf(&b, "# Transfer versus scratch: %s on %s\n\n", g.Model, g.Data)
	src := "`" + g.Weights + "`"
	if g.WeightsKey != "" {
		src += fmt.Sprintf(" (entry `%s`)", g.WeightsKey)
	}
	fmt.Fprintf(&b, "Source weights %s; target classes %s; %d px; every run evaluated on the same %d images; %d seeds per cell; budget: %s.\n\n",
		src, strings.Join(datasets.EscapeNames(g.Classes), ", "), g.ImageSize, g.ValImages, g.Seeds, map[bool]string{true: "equal steps (full fine-tuning's)", false: "each strategy its own"}[g.EqualBudget])
	sums := r.Summaries()
	table := func(title string, cell func(Summary) string) {
		fmt.Fprintf(&b, "## %s\n\n| strategy |", title)
		for _, sh := range g.Shots {
			fmt.Fprintf(&b, " %s per class |", ShotsLabel(sh))
		}
		b.WriteString("\n|---|")
		b.WriteString(strings.Repeat("---:|", len(g.Shots)))
		b.WriteString("\n")
		for _, st := range g.Strategies {
			fmt.Fprintf(&b, "| %s |", st)
			for _, sh := range g.Shots {
				v := "–"
				for _, s := range sums {
					if s.Strategy == st && s.Shots == sh {
						v = cell(s)
					}
				}
				fmt.Fprintf(&b, " %s |", v)
			}
			b.WriteString("\n")
		}
		b.WriteString("\n")
	}
	table("Final accuracy (mean ± std over seeds)", func(s Summary) string {
		return fmt.Sprintf("%.1f ± %.1f%%", 100*s.Accuracy.Mean, 100*s.Accuracy.Std)
	})
	table("Seconds of training to 95% of the run's best accuracy (mean)", func(s Summary) string {
		return fmt.Sprintf("%.1f s (epoch %.0f)", s.SecondsTo95.Mean, s.EpochsTo95.Mean)
	})
	b.WriteString(fmt.Sprintf("Convergence: steps and seconds of training until a run first reaches a fixed accuracy per size, %.0f%% of the best strategy's mean final accuracy at that size (", 100*TargetShare))
	var targets []string
	for _, sh := range g.Shots {
		for _, s := range sums {
			if s.Shots == sh {
				targets = append(targets, fmt.Sprintf("%s per class: %.1f%%", ShotsLabel(sh), 100*s.Target))
				break
			}
		}
	}
	b.WriteString(strings.Join(targets, "; ") + "), at validated epochs; mean over the seeds that reached it, \"–\" when none did.\n\n")
	table("Steps to the size's target accuracy (seconds)", ConvergenceCell)
	table("Budget: epochs / steps, and wall time per run", func(s Summary) string {
		return fmt.Sprintf("%d / %d, %.0f s", s.Epochs, s.Steps, s.Seconds.Mean)
	})
	b.WriteString("## Best strategy per size\n\n")
	for _, sh := range g.Shots {
		best, tied := r.Best(sh)
		if best == "" {
			continue
		}
		line := fmt.Sprintf("- %s per class: **%s**", ShotsLabel(sh), best)
		if len(tied) > 0 {
			line += " (within noise: " + strings.Join(tied, ", ") + ")"
		}
		b.WriteString(line + "\n")
	}
	return b.String()
}

// ConvergenceCell formats a summary's steps and seconds to its size's
// target accuracy: "120 steps (4.2 s)", with "k/n seeds" when only some
// seeds reached it and "–" when none did.
func ConvergenceCell(s Summary) string {
	if s.Reached == 0 {
		return "–"
	}
	c := fmt.Sprintf("%.0f steps (%.1f s)", s.StepsToTarget.Mean, s.SecondsToTarget.Mean)
	if s.Reached < s.Accuracy.N {
		c += fmt.Sprintf(", %d/%d seeds", s.Reached, s.Accuracy.N)
	}
	return c
}

// markdownToHTML renders the report's subset of Markdown (headings, tables,
// bullet lists, images, paragraphs) as a standalone page.
func markdownToHTML(md, dir string) string {
	var b strings.Builder
	b.WriteString("<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>gtl compare</title>\n" +
		"<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:right}td:first-child,th:first-child{text-align:left}img{max-width:100%}</style>\n</head><body>\n")
	inline := func(s string) string {
		s = html.EscapeString(s)
		for _, m := range [][2]string{{"**", "b"}, {"`", "code"}} {
			for strings.Count(s, m[0]) >= 2 {
				s = strings.Replace(s, m[0], "<"+m[1]+">", 1)
				s = strings.Replace(s, m[0], "</"+m[1]+">", 1)
			}
		}
		return s
	}
	lines := strings.Split(md, "\n")
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		switch {
		case strings.HasPrefix(l, "## "):
			fmt.Fprintf(&b, "<h2>%s</h2>\n", inline(l[3:]))
		case strings.HasPrefix(l, "# "):
			fmt.Fprintf(&b, "<h1>%s</h1>\n", inline(l[2:]))
		case strings.HasPrefix(l, "!["):
			alt, src, _ := strings.Cut(strings.TrimPrefix(l, "!["), "](")
			src = strings.TrimSuffix(src, ")")
			if png, err := os.ReadFile(filepath.Join(dir, src)); err == nil { // embedded: the page stands alone
				src = "data:image/png;base64," + base64.StdEncoding.EncodeToString(png)
			}
			fmt.Fprintf(&b, "<p><img alt=\"%s\" src=\"%s\"></p>\n", html.EscapeString(alt), src)
		case strings.HasPrefix(l, "|"):
			b.WriteString("<table>\n")
			for j := i; j < len(lines) && strings.HasPrefix(lines[j], "|"); j++ {
				if strings.HasPrefix(lines[j], "|---") {
					continue
				}
				tag := "td"
				if j == i {
					tag = "th"
				}
				b.WriteString("<tr>")
				for _, c := range strings.Split(strings.Trim(lines[j], "|"), "|") {
					fmt.Fprintf(&b, "<%s>%s</%s>", tag, inline(strings.TrimSpace(c)), tag)
				}
				b.WriteString("</tr>\n")
				i = j
			}
			b.WriteString("</table>\n")
		case strings.HasPrefix(l, "- "):
			fmt.Fprintf(&b, "<li>%s</li>\n", inline(l[2:]))
		case strings.TrimSpace(l) != "":
			fmt.Fprintf(&b, "<p>%s</p>\n", inline(l))
		}
	}
	b.WriteString("</body></html>\n")
	return b.String()
}
