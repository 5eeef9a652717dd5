package strategies

import (
	"fmt"
	"html"
	"path/filepath"
	"strings"

	"github.com/gtl-dev/gtl/vision/npy"
)

// WriteReport writes report.md and report.html for the results into dir.
func WriteReport(dir string, r *Results) error {
	md := r.Markdown()
	if err := npy.WriteFileAtomic(filepath.Join(dir, "report.md"), []byte(md)); err != nil {
		return err
	}
	return npy.WriteFileAtomic(filepath.Join(dir, "report.html"), []byte(markdownToHTML(md)))
}

// Markdown returns the report: what was compared, mean ± std accuracy per
// strategy and size, time to 95% of each run's best, and the best strategy
// per size.
func (r *Results) Markdown() string {
	g := r.Grid
	var b strings.Builder
	fmt.Fprintf(&b, "# Transfer versus scratch: %s on %s\n\n", g.Model, g.Data)
	fmt.Fprintf(&b, "Source weights `%s`; target classes %s; %d px; every run evaluated on the same %d images; %d seeds per cell; budget: %s.\n\n",
		g.Weights, strings.Join(g.Classes, ", "), g.ImageSize, g.ValImages, g.Seeds, map[bool]string{true: "equal steps (full fine-tuning's)", false: "each strategy its own"}[g.EqualBudget])
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

// markdownToHTML renders the report's subset of Markdown (headings, tables,
// bullet lists, images, paragraphs) as a standalone page.
func markdownToHTML(md string) string {
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
			fmt.Fprintf(&b, "<p><img alt=\"%s\" src=\"%s\"></p>\n", html.EscapeString(alt), html.EscapeString(strings.TrimSuffix(src, ")")))
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
