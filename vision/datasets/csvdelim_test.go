package datasets

import (
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestSniffDelimiter: the delimiter among , ; tab and | that splits the
// header into the most fields, "," on a tie or when none splits it;
// quoted fields are one field.
func TestSniffDelimiter(t *testing.T) {
	cases := []struct {
		name, header string
		want         rune
	}{
		{"comma", "fname,label,is_valid\n", ','},
		{"semicolon (Excel in a comma-decimal locale)", "fname;label;is_valid\r\n", ';'},
		{"tab", "fname\tlabel\n", '\t'},
		{"pipe", "fname|label|is_valid", '|'},
		{"most fields wins", "a;b;c,d\n", ';'},
		{"tie goes to comma", "a,b;c\n", ','},
		{"tie of semicolon and tab goes to semicolon", "a;b\tc\n", ';'},
		{"none splits it", "fname:label\n", ','},
		{"empty", "", ','},
		{"quoted commas are one field", `"x,y,z";b;c` + "\n", ';'},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := SniffDelimiter(c.header); got != c.want {
				t.Errorf("SniffDelimiter(%q) = %q, want %q", c.header, got, c.want)
			}
		})
	}
}

// TestParseDelimiter: one character other than a quote or a line break;
// "tab" and `\t` name a tab; "" sniffs (0).
func TestParseDelimiter(t *testing.T) {
	cases := []struct {
		in   string
		want rune
		err  bool
	}{
		{"", 0, false}, {",", ',', false}, {";", ';', false}, {"\t", '\t', false}, {`\t`, '\t', false}, {"tab", '\t', false},
		{"|", '|', false}, {"§", '§', false},
		{";;", 0, true}, {`"`, 0, true}, {"\n", 0, true}, {"\r", 0, true}, {"\xff", 0, true}, {"ab", 0, true},
	}
	for _, c := range cases {
		got, err := ParseDelimiter(c.in)
		if (err != nil) != c.err || got != c.want {
			t.Errorf("ParseDelimiter(%q) = %q, %v; want %q, error %v", c.in, got, err, c.want, c.err)
		}
	}
}

// TestReadCSVLabelsDelimitersAndSuffix: files separated by ; tab or |
// (sniffed or given), a one-column header's error (ErrOneColumn), ids
// without their extension read with Suffix, and the hint (SuffixHint)
// when they are not; counts in the singular and plural.
func TestReadCSVLabelsDelimitersAndSuffix(t *testing.T) {
	images := []string{"img/0.jpg", "img/1.jpg", "img/2.png", "img/3.jpg"}
	cases := []struct {
		name   string
		text   string
		o      CSVOptions
		paths  []string
		labels [][]string
		valid  []bool
		delim  rune
		err    string
		hint   *SuffixHint // Ext, N, Of
		one    bool        // wraps ErrOneColumn
	}{
		{name: "semicolon sniffed", text: "\ufefffname;label;is_valid\nimg/0.jpg;cat;False\nimg/1.jpg;dog;True\n",
			paths: []string{"img/0.jpg", "img/1.jpg"}, labels: [][]string{{"cat"}, {"dog"}}, valid: []bool{false, true}, delim: ';'},
		{name: "tab sniffed, labels with commas", text: "fname\tlabel\nimg/0.jpg\tcat, tabby\nimg/1.jpg\tdog\n",
			paths: []string{"img/0.jpg", "img/1.jpg"}, labels: [][]string{{"cat, tabby"}, {"dog"}}, delim: '\t'},
		{name: "pipe sniffed, multi-label by space", text: "fname|tags\nimg/0.jpg|cat dog\nimg/1.jpg|dog\n", o: CSVOptions{LabelDelim: " "},
			paths: []string{"img/0.jpg", "img/1.jpg"}, labels: [][]string{{"cat", "dog"}, {"dog"}}, delim: '|'},
		{name: "semicolon file, multi-label by comma", text: "fname;tags\nimg/0.jpg;cat,dog\nimg/1.jpg;dog\n", o: CSVOptions{LabelDelim: ","},
			paths: []string{"img/0.jpg", "img/1.jpg"}, labels: [][]string{{"cat", "dog"}, {"dog"}}, delim: ';'},
		{name: "given delimiter wins over sniffing", text: "a,b;c,d\nimg/0.jpg;cat,1\nimg/1.jpg;dog,2\n", o: CSVOptions{Delimiter: ";"},
			paths: []string{"img/0.jpg", "img/1.jpg"}, labels: [][]string{{"cat,1"}, {"dog,2"}}, delim: ';'},
		{name: "given colon", text: "fname:label\nimg/0.jpg:cat\nimg/1.jpg:dog\n", o: CSVOptions{Delimiter: ":"},
			paths: []string{"img/0.jpg", "img/1.jpg"}, labels: [][]string{{"cat"}, {"dog"}}, delim: ':'},
		{name: "tab given as a word", text: "fname\tlabel\nimg/0.jpg\tcat\n", o: CSVOptions{Delimiter: "tab"},
			paths: []string{"img/0.jpg"}, labels: [][]string{{"cat"}}, delim: '\t'},
		{name: "one column, sniffed", text: "fname:label\nimg/0.jpg:cat\n", one: true,
			err: `label_col 1: the header has 1 column (none of , ; tab or | splits it): "fname:label"`},
		{name: "one column, given", text: "fname;label\nimg/0.jpg;cat\n", o: CSVOptions{Delimiter: ","}, one: true,
			err: `label_col 1: the header has 1 column when split at ',': "fname;label"`},
		{name: "one column, by name", text: "fname;label\nimg/0.jpg;cat\n", o: CSVOptions{Delimiter: "tab", LabelCol: "label"}, one: true,
			err: `label_col "label": the header has 1 column when split at tab: "fname;label"`},
		{name: "two columns", text: "fname;label\nimg/0.jpg;cat\n", o: CSVOptions{LabelCol: "2"}, err: "label_col 2: the header has 2 columns"},
		{name: "no such column names the header with its delimiter", text: "fname;label\nimg/0.jpg;cat\n", o: CSVOptions{LabelCol: "tag"},
			err: `label_col "tag": no such column (header: fname;label)`},
		{name: "bad delimiter", text: "fname,label\n", o: CSVOptions{Delimiter: ";;"}, err: `delimiter ";;": want one character`},
		{name: "suffix appended", text: "id,label\nimg/0,cat\nimg/1,dog\nimg/3,dog\n", o: CSVOptions{Suffix: ".jpg"},
			paths: []string{"img/0.jpg", "img/1.jpg", "img/3.jpg"}, labels: [][]string{{"cat"}, {"dog"}, {"dog"}}, delim: ','},
		{name: "suffix names the rows with it", text: "id,label\nimg/0,cat\nimg/2,dog\n", o: CSVOptions{Suffix: ".jpg"},
			err: "1 bad row: row 3: img/2.jpg: no such image; the missing image exists with .png appended", hint: &SuffixHint{Ext: ".png", N: 1, Of: 1}},
		{name: "hint: all missing", text: "id,label\nimg/0,cat\nimg/1,dog\nimg/3,dog\n",
			err:  "3 bad rows: row 2: img/0: no such image; row 3: img/1: no such image; row 4: img/3: no such image; all 3 missing images exist with .jpg appended",
			hint: &SuffixHint{Ext: ".jpg", N: 3, Of: 3}},
		{name: "hint: the extension most have", text: "id,label\nimg/0,cat\nimg/2,dog\nimg/3,dog\nimg/9,dog\n",
			err:  "4 bad rows: row 2: img/0: no such image; row 3: img/2: no such image; row 4: img/3: no such image; row 5: img/9: no such image; 2 of the 4 missing images exist with .jpg appended",
			hint: &SuffixHint{Ext: ".jpg", N: 2, Of: 4}},
		{name: "no hint when none exists", text: "id,label\nimg/0.jpg,cat\nimg/7,dog\n", err: "1 bad row: row 3: img/7: no such image"},
		{name: "one bad row", text: "id,label\nimg/0.jpg,cat\nimg/1.jpg,\n", err: "1 bad row: row 3: img/1.jpg: empty label"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root, labels := csvFolder(t, images, c.text)
			l, err := ReadCSVLabels(labels, root, c.o)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) || !strings.Contains(err.Error(), labels) {
					t.Fatalf("error %v\nwant %q naming the file", err, c.err)
				}
				if c.err == "1 bad row: row 3: img/7: no such image" && !strings.HasSuffix(err.Error(), c.err) {
					t.Errorf("error %v: want no hint", err)
				}
				if errors.Is(err, ErrOneColumn) != c.one {
					t.Errorf("errors.Is(%v, ErrOneColumn) = %v, want %v", err, !c.one, c.one)
				}
				var h *SuffixHint
				if errors.As(err, &h) != (c.hint != nil) || h != nil && (h.Ext != c.hint.Ext || h.N != c.hint.N || h.Of != c.hint.Of) {
					t.Errorf("hint %+v, want %+v", h, c.hint)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := make([]string, len(c.paths))
			for i, p := range c.paths {
				want[i] = filepath.Join(root, p)
			}
			if !reflect.DeepEqual(l.Paths, want) || !reflect.DeepEqual(l.Labels, c.labels) || !reflect.DeepEqual(l.Valid, c.valid) || l.Delimiter != c.delim {
				t.Errorf("got paths %v labels %v valid %v delimiter %q\nwant %v %v %v %q", l.Paths, l.Labels, l.Valid, l.Delimiter, want, c.labels, c.valid, c.delim)
			}
			if c.valid != nil && l.ValidColumn != "is_valid" {
				t.Errorf("ValidColumn %q, want is_valid", l.ValidColumn)
			}
		})
	}
}
