package datasets

import (
	"bufio"
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
	"unicode/utf8"
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
	// Delimiter separates the file's columns (fastai's delimiter, passed
	// to pandas' read_csv): one character; `\t` and "tab" name a tab.
	// Default "": sniffed from the header line (see SniffDelimiter).
	Delimiter string
	// Suffix is appended to every image path (fastai's suff), for files
	// whose ids lack the extension: "images/0001" with ".jpg". Default
	// "": none.
	Suffix string
}

// ErrOneColumn is wrapped by ReadCSVLabels' error when the header splits
// into one column, so that a column past the first cannot be found: the
// file is most likely separated by another character than the one used.
var ErrOneColumn = errors.New("the header has 1 column")

// SuffixHint is ReadCSVLabels' error when rows name images that do not
// exist but would with an image extension appended (see
// CSVOptions.Suffix). Err is the whole error.
type SuffixHint struct {
	Ext   string // e.g. ".jpg"
	N, Of int    // N of the Of missing images exist with Ext appended
	Err   error
}

func (e *SuffixHint) Error() string { return e.Err.Error() }
func (e *SuffixHint) Unwrap() error { return e.Err }

// sniffed are the delimiters SniffDelimiter tries, in order of preference.
var sniffed = []rune{',', ';', '\t', '|'}

// SniffDelimiter returns the delimiter among , ; tab and | that splits a
// header line into the most fields, quoting as CSV quotes; "," on a tie
// or when none splits it. (A rule of ours, simpler than Python's
// csv.Sniffer: the header of a labels file names its columns and holds no
// free text.)
func SniffDelimiter(header string) rune {
	best, most := ',', 0
	for _, d := range sniffed {
		r := csv.NewReader(strings.NewReader(header))
		r.Comma, r.LazyQuotes = d, true
		rec, err := r.Read()
		if err == nil && len(rec) > most {
			best, most = d, len(rec)
		}
	}
	return best
}

// ParseDelimiter reads CSVOptions.Delimiter: "" (sniff: 0), one character
// other than a quote or a line break, or `\t` or "tab" for a tab.
func ParseDelimiter(s string) (rune, error) {
	switch s {
	case "":
		return 0, nil
	case `\t`, "tab", "TAB":
		return '\t', nil
	}
	r, n := utf8.DecodeRuneInString(s)
	if n != len(s) || r == utf8.RuneError || r == '"' || r == '\r' || r == '\n' {
		return 0, fmt.Errorf("delimiter %q: want one character (not a quote or a line break), or tab", s)
	}
	return r, nil
}

// delimName is a delimiter as messages show it.
func delimName(d rune) string {
	if d == '\t' {
		return "tab"
	}
	return fmt.Sprintf("%q", d)
}

// Plural writes n and the noun, in the plural unless n is 1: "1 column",
// "3 columns", "2 strategies" (a consonant and y become "ies"). gtl's
// messages count with it.
func Plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	if k := len(noun); k > 1 && noun[k-1] == 'y' && !strings.ContainsRune("aeiou", rune(noun[k-2])) {
		return fmt.Sprintf("%d %sies", n, noun[:k-1])
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// imageExts are the extensions a missing image is looked for with, for
// SuffixHint.
var imageExts = []string{".jpg", ".png", ".jpeg"}

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
	// ValidColumn is the header name of the column Valid comes from
	// ("is_valid", "split"); "" when Valid is nil.
	ValidColumn string
	// Delimiter is the column separator used (CSVOptions.Delimiter, or
	// the one sniffed).
	Delimiter rune
}

// maxListed is how many bad rows an error lists.
const maxListed = 5

// ReadCSVLabels reads a labels file (see CSVOptions); the first row is the
// header, its columns separated by o.Delimiter or the delimiter sniffed
// from it (SniffDelimiter). Paths, with o.Suffix appended, are relative to
// root (absolute paths are taken as they are). Rows naming an image that
// does not exist, a path given before, or no label are refused together:
// the error counts them and lists the first few with their row numbers;
// when missing images exist with an image extension appended, it is a
// *SuffixHint. A header of one column where a later column is wanted
// gives an error wrapping ErrOneColumn. Blank rows are skipped.
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
	delim, err := ParseDelimiter(o.Delimiter)
	if err != nil {
		return nil, fmt.Errorf("datasets: labels %s: %w", path, err)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("datasets: labels: %w", err)
	}
	defer f.Close()
	sniff := delim == 0
	if sniff {
		line, err := bufio.NewReader(f).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("datasets: labels %s: %w", path, err)
		}
		delim = SniffDelimiter(strings.TrimPrefix(line, "\ufeff"))
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return nil, fmt.Errorf("datasets: labels %s: %w", path, err)
		}
	}
	r := csv.NewReader(f)
	r.Comma = delim
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
		i, err := strconv.Atoi(name)
		index := err == nil && i >= 0
		if index && i < len(header) {
			return i, nil
		}
		if !required {
			return -1, nil
		}
		what := fmt.Sprintf("%s %q", flag, name)
		if index {
			what = fmt.Sprintf("%s %d", flag, i)
		}
		if len(header) == 1 {
			how := "when split at " + delimName(delim)
			if sniff {
				how = "(none of , ; tab or | splits it)"
			}
			return -1, fmt.Errorf("datasets: labels %s: %s: %w %s: %q", path, what, ErrOneColumn, how, clip(header[0], 80))
		}
		if index {
			return -1, fmt.Errorf("datasets: labels %s: %s: the header has %s", path, what, Plural(len(header), "column"))
		}
		return -1, fmt.Errorf("datasets: labels %s: %s: no such column (header: %s)", path, what, strings.Join(header, string(delim)))
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
	out := &CSVLabels{Multi: o.LabelDelim != "", Delimiter: delim}
	if vc >= 0 {
		out.Valid, out.ValidColumn = []bool{}, strings.TrimSpace(header[vc])
	}
	var bad []string
	var missing []string // the paths of missing images, without the suffix
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
		base := name
		if !filepath.IsAbs(base) {
			base = filepath.Join(root, base)
		}
		name += o.Suffix
		p := base + o.Suffix
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
			missing = append(missing, base)
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
		err := fmt.Errorf("datasets: labels %s: %s: %s%s", path, Plural(nBad, "bad row"), strings.Join(bad, "; "), more)
		if ext, n := suffixOf(missing, o.Suffix); n > 0 {
			all := fmt.Sprintf("%d of the %d missing images exist", n, len(missing))
			switch {
			case n == 1 && len(missing) == 1:
				all = "the missing image exists"
			case n == len(missing):
				all = fmt.Sprintf("all %d missing images exist", n)
			}
			return nil, &SuffixHint{Ext: ext, N: n, Of: len(missing), Err: fmt.Errorf("%w; %s with %s appended", err, all, ext)}
		}
		return nil, err
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

// suffixOf returns the image extension (of imageExts, other than the
// suffix already used) with which the most of the missing paths exist,
// and how many; 0 when none does.
func suffixOf(missing []string, used string) (ext string, n int) {
	for _, e := range imageExts {
		if e == used {
			continue
		}
		k := 0
		for _, p := range missing {
			if st, err := os.Stat(p + e); err == nil && !st.IsDir() {
				k++
			}
		}
		if k > n {
			ext, n = e, k
		}
	}
	return ext, n
}

// clip shortens s to at most n bytes (at a rune boundary), marking the cut
// with "…".
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
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
