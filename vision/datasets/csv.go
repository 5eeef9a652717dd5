package datasets

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// CSVOptions name the columns of a labels file, as fastai's
// ImageDataLoaders.from_csv does. A column is a header name or a 0-based
// index.
type CSVOptions struct {
	// FnCol holds each image's path, relative to the data folder
	// (default "0": the first column).
	FnCol string
	// LabelCol holds its label, or with LabelDelim its labels (default
	// "1": the second column).
	LabelCol string
	// ValidCol marks validation rows (true/false, 1/0, yes/no; default
	// "is_valid"). When the file has no such column, a column named
	// "split" (train, valid or val, test) is used if present; test rows
	// are left out. Neither: the caller splits.
	ValidCol string
	// LabelDelim separates the labels of a multi-label row (e.g. " " or
	// ";"); default "": one label per row.
	LabelDelim string
}

// CSVLabels is a labels file read: its rows in file order, each with its
// image path (joined to the data folder), its labels, and whether it is a
// validation row; Classes are the labels seen, sorted.
type CSVLabels struct {
	Paths   []string
	Labels  [][]string // one label per row without LabelDelim
	Valid   []bool     // nil when the file has no validation column
	Classes []string
	// Rows are the 1-based line numbers of the rows (the header is row 1).
	Rows []int
	// Multi is set when the rows were read as label sets (LabelDelim).
	Multi bool
}

// maxListed is how many bad rows an error lists.
const maxListed = 5

// ReadCSVLabels reads a labels file (see CSVOptions); the first row is the
// header. Paths are relative to root (absolute paths are taken as they
// are). Rows naming an image that does not exist, a path given before,
// or no label are refused together: the error counts them and lists the
// first few with their row numbers. Blank rows are skipped.
func ReadCSVLabels(path, root string, o CSVOptions) (*CSVLabels, error) {
	if o.FnCol == "" {
		o.FnCol = "0"
	}
	if o.LabelCol == "" {
		o.LabelCol = "1"
	}
	if o.ValidCol == "" {
		o.ValidCol = "is_valid"
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("datasets: labels: %w", err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	header, err := r.Read()
	if errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("datasets: labels %s: empty file (want a header row and one row per image)", path)
	}
	if err != nil {
		return nil, fmt.Errorf("datasets: labels %s: %w", path, err)
	}
	if len(header) > 0 {
		header[0] = strings.TrimPrefix(header[0], "\ufeff") // a UTF-8 byte-order mark
	}
	col := func(flag, name string, required bool) (int, error) {
		for i, h := range header {
			if strings.TrimSpace(h) == name {
				return i, nil
			}
		}
		if i, err := strconv.Atoi(name); err == nil && i >= 0 {
			if i < len(header) {
				return i, nil
			}
			return -1, fmt.Errorf("datasets: labels %s: %s %d: the header has %d columns", path, flag, i, len(header))
		}
		if required {
			return -1, fmt.Errorf("datasets: labels %s: %s %q: no such column (header: %s)", path, flag, name, strings.Join(header, ","))
		}
		return -1, nil
	}
	fn, err := col("fn_col", o.FnCol, true)
	if err != nil {
		return nil, err
	}
	lc, err := col("label_col", o.LabelCol, true)
	if err != nil {
		return nil, err
	}
	vc, _ := col("valid_col", o.ValidCol, false)
	split := false
	if vc < 0 {
		if vc, _ = col("split", "split", false); vc >= 0 {
			split = true
		}
	}
	if fn == lc {
		return nil, fmt.Errorf("datasets: labels %s: fn_col and label_col are the same column (%d)", path, fn)
	}
	out := &CSVLabels{Multi: o.LabelDelim != ""}
	if vc >= 0 {
		out.Valid = []bool{}
	}
	var bad []string
	nBad := 0
	reject := func(row int, format string, args ...any) {
		nBad++
		if len(bad) < maxListed {
			bad = append(bad, fmt.Sprintf("row %d: %s", row, fmt.Sprintf(format, args...)))
		}
	}
	seen := map[string]int{}
	classes := map[string]bool{}
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("datasets: labels %s: %w", path, err)
		}
		row, _ := r.FieldPos(0) // the file's line (blank lines are skipped)
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue
		}
		field := func(i int) string {
			if i < len(rec) {
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		name := field(fn)
		if name == "" {
			reject(row, "no image path")
			continue
		}
		p := name
		if !filepath.IsAbs(p) {
			p = filepath.Join(root, p)
		}
		key := filepath.Clean(p)
		if first, ok := seen[key]; ok {
			reject(row, "%s: the same image as row %d", name, first)
			continue
		}
		seen[key] = row
		var labels []string
		if o.LabelDelim != "" {
			for _, l := range strings.Split(field(lc), o.LabelDelim) {
				if l = strings.TrimSpace(l); l != "" {
					labels = append(labels, l)
				}
			}
		} else if l := field(lc); l != "" {
			labels = []string{l}
		}
		if len(labels) == 0 {
			reject(row, "%s: empty label", name)
			continue
		}
		if st, err := os.Stat(p); err != nil || st.IsDir() {
			reject(row, "%s: no such image", name)
			continue
		}
		valid := false
		if vc >= 0 {
			v := strings.ToLower(field(vc))
			switch {
			case split && (v == "test"):
				continue // held out
			case split && v == "train", !split && (v == "false" || v == "0" || v == "no" || v == ""):
			case split && (v == "valid" || v == "val" || v == "validation"), !split && (v == "true" || v == "1" || v == "yes"):
				valid = true
			default:
				want := "true or false"
				if split {
					want = "train, valid or test"
				}
				reject(row, "%s: %s %q, want %s", name, header[vc], field(vc), want)
				continue
			}
			out.Valid = append(out.Valid, valid)
		}
		for _, l := range labels {
			classes[l] = true
		}
		out.Paths = append(out.Paths, p)
		out.Labels = append(out.Labels, labels)
		out.Rows = append(out.Rows, row)
	}
	if nBad > 0 {
		more := ""
		if nBad > len(bad) {
			more = fmt.Sprintf("; and %d more", nBad-len(bad))
		}
		return nil, fmt.Errorf("datasets: labels %s: %d bad rows: %s%s", path, nBad, strings.Join(bad, "; "), more)
	}
	if len(out.Paths) == 0 {
		return nil, fmt.Errorf("datasets: labels %s: no image rows", path)
	}
	for c := range classes {
		out.Classes = append(out.Classes, c)
	}
	sort.Strings(out.Classes)
	return out, nil
}

// Items returns the rows as items numbered by Classes: a multi-label file's
// (Multi) carry every label of their row in Tags, sorted and without
// repeats, and its first label as Label.
func (l *CSVLabels) Items() []Item {
	items := make([]Item, len(l.Paths))
	for i, p := range l.Paths {
		items[i] = Item{Path: p, Label: sort.SearchStrings(l.Classes, l.Labels[i][0])}
		if l.Multi {
			var tags []int
			for _, s := range l.Labels[i] {
				tags = append(tags, sort.SearchStrings(l.Classes, s))
			}
			sort.Ints(tags)
			items[i].Tags = slices.Compact(tags)
		}
	}
	return items
}
