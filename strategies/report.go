package strategies

import (
	"encoding/base64"
	"fmt"
	"html"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/gtl-dev/gtl/chart"

	"github.com/gtl-dev/gtl/npy"
	"github.com/gtl-dev/gtl/vision/datasets"
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
	spread := g.Seeds > 1 // error bars: the standard deviation over seeds
	for _, s := range sums {
		spread = spread && s.Accuracy.N > 1
	}
	metric := g.Metric()
	accLabel, secsLabel := "final "+metric+" (%), one seed: no error bars", "seconds, one seed"
	if spread {
		accLabel, secsLabel = "final "+metric+" (%), mean ± std over seeds", "seconds, mean ± std over seeds"
	}
	// Accuracy from 0 to 100: a narrow axis would make seed noise look
	// like a difference between strategies.
	acc := chart.LineChart{Title: "Final " + metric + " against labelled images per class", XLabel: "labelled images per class (log scale)",
		YLabel: accLabel, LogX: true, YMin: 0, YMax: 100}
	bars := chart.BarChart{Title: "Training time to 95% of each run's best " + metric, XLabel: "labelled images per class", YLabel: secsLabel}
	for _, sh := range g.Shots {
		bars.Groups = append(bars.Groups, ShotsLabel(sh))
	}
	for _, st := range g.Strategies {
		line := chart.Series{Name: st}
		bar := chart.BarSeries{Name: st}
		for _, sh := range g.Shots {
			v, e := math.NaN(), math.NaN()
			for _, s := range sums {
				if x := perClass(sh); s.Strategy == st && s.Shots == sh && x > 0 {
					line.X = append(line.X, x)
					line.Y = append(line.Y, 100*s.Accuracy.Mean)
					line.Err = append(line.Err, 100*s.Accuracy.Std)
					v, e = s.SecondsTo95.Mean, s.SecondsTo95.Std
				}
			}
			bar.Values = append(bar.Values, v)
			bar.Err = append(bar.Err, e)
		}
		if !spread {
			line.Err, bar.Err = nil, nil
		}
		if len(line.X) > 0 {
			acc.Series = append(acc.Series, line)
		}
		bars.Series = append(bars.Series, bar)
	}
	if err := chart.Lines(filepath.Join(dir, PlotAccuracy), acc); err != nil {
		return "", err
	}
	fmt.Fprintf(&md, "![%s against labels per class](%s)\n\n", metric, PlotAccuracy)
	if err := chart.Bars(filepath.Join(dir, PlotTimeTo95), bars); err != nil {
		return "", err
	}
	fmt.Fprintf(&md, "![time to 95%% of the best %s](%s)\n\n", metric, PlotTimeTo95)
	// Learning curves per size: validation accuracy against training time,
	// mean over seeds at each validated epoch.
	for _, sh := range g.Shots {
		lc := chart.LineChart{Title: fmt.Sprintf("Learning curves, %s labelled images per class", ShotsLabel(sh)),
			XLabel: "seconds of training (mean over seeds)", YLabel: "validation " + metric + " (%)", YMin: 0, YMax: 100}
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
	fmt.Fprintf(&b, "Source weights %s; target classes %s; %d px; every run evaluated on the same %d images; %s per cell; budget: %s.\n\n",
		src, strings.Join(datasets.EscapeNames(g.Classes), ", "), g.ImageSize, g.ValImages, datasets.Plural(g.Seeds, "seed"), map[bool]string{true: "equal steps (full fine-tuning's)", false: "each strategy its own"}[g.EqualBudget])
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
	metric := g.Metric()
	table("Final "+metric+" (mean ± standard deviation over seeds)", func(s Summary) string { return FormatAccuracy(s.Accuracy) })
	balanced := "Final balanced accuracy (mean recall over the classes; mean ± standard deviation over seeds)"
	if g.MultiLabel {
		balanced = "Final macro recall (mean recall over the classes at their thresholds; mean ± standard deviation over seeds)"
	}
	table(balanced, func(s Summary) string { return FormatAccuracy(s.BalancedAccuracy) })
	table("Final macro F1 (mean F1 over the classes; mean over seeds)", func(s Summary) string { return fmt.Sprintf("%.3f", s.MacroF1.Mean) })
	table("Seconds of training to 95% of the run's best "+metric+" (mean)", func(s Summary) string {
		return fmt.Sprintf("%.1f s (epoch %.0f)", s.SecondsTo95.Mean, s.EpochsTo95.Mean)
	})
	b.WriteString(fmt.Sprintf("Convergence: steps and seconds of training until a run first reaches a fixed %s per size, %.0f%% of the best strategy's mean final %s at that size (", metric, 100*TargetShare, metric))
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
	table("Steps to the size's target "+metric+" (seconds)", ConvergenceCell)
	table("Budget: epochs / steps, and wall time per run", func(s Summary) string {
		return fmt.Sprintf("%d / %d, %.0f s", s.Epochs, s.Steps, s.Seconds.Mean)
	})
	b.WriteString("## Best strategy per size\n\n")
	fmt.Fprintf(&b, "A strategy is named best when its mean %s leads every other's by more than the noise: the larger of the spread of the two strategies' differences paired over seeds and the standard error of the difference on the %d evaluation images.\n\n", metric, g.ValImages)
	for _, sh := range g.Shots {
		v := r.Verdict(sh)
		switch {
		case v.Best != "":
			fmt.Fprintf(&b, "- %s per class: **%s**%s\n", ShotsLabel(sh), v.Best, strings.TrimPrefix(v.String(), v.Best))
		case len(v.Tied) > 0:
			fmt.Fprintf(&b, "- %s per class: %s\n", ShotsLabel(sh), v)
		}
	}
	b.WriteString(r.runsNote())
	return b.String()
}

// runsNote accounts for every finished run: how many the numbers above
// include, and each run that diverged (recorded, left out of them).
func (r *Results) runsNote() string {
	var b strings.Builder
	cells := r.Grid.Cells()
	done, diverged := 0, []Record{}
	for _, c := range cells {
		if rec, ok := r.Find(c); ok {
			done++
			if rec.Diverged != "" {
				diverged = append(diverged, rec)
			}
		}
	}
	fmt.Fprintf(&b, "\n%d of the grid's %d runs finished", done, len(cells))
	if len(diverged) == 0 {
		b.WriteString("; all of them are in the numbers above.\n")
		return b.String()
	}
	fmt.Fprintf(&b, "; %d diverged and are left out of the numbers above:\n\n", len(diverged))
	for _, rec := range diverged {
		fmt.Fprintf(&b, "- %s: %s\n", rec.Cell, rec.Diverged)
	}
	return b.String()
}

// WriteSummary writes the comparison's summary for a terminal: accuracy
// per strategy (rows) and size (columns), then the verdict per size.
func (r *Results) WriteSummary(w io.Writer) {
	sums := r.Summaries()
	label := r.Grid.Metric()
	cells := map[[2]any]string{}
	width := len("1 per class")
	for _, s := range sums {
		c := FormatAccuracy(s.Accuracy)
		cells[[2]any{s.Strategy, s.Shots}] = c
		width = max(width, utf8.RuneCountInString(c))
	}
	fmt.Fprintf(w, "%-10s", label)
	for _, sh := range r.Grid.Shots {
		fmt.Fprintf(w, " %*s", width, ShotsLabel(sh)+" per class")
	}
	fmt.Fprintln(w)
	for _, st := range r.Grid.Strategies {
		fmt.Fprintf(w, "%-10s", st)
		for _, sh := range r.Grid.Shots {
			c, ok := cells[[2]any{st, sh}]
			if !ok {
				c = "-"
			}
			fmt.Fprintf(w, " %*s", width+len(c)-utf8.RuneCountInString(c), c)
		}
		fmt.Fprintln(w)
	}
	for _, sh := range r.Grid.Shots {
		if v := r.Verdict(sh); v.String() != "" {
			fmt.Fprintf(w, "best at %s per class: %s\n", ShotsLabel(sh), v)
		}
	}
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
