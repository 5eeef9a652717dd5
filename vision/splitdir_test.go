package vision

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSplitDir: a named split resolves to its folder (the validation
// folder under any of ValDirs' names), and a missing folder or an unknown
// name is an error naming the split.
func TestSplitDir(t *testing.T) {
	withValid := t.TempDir() // train/, valid/, test/
	for _, d := range []string{"train", "valid", "test"} {
		if err := os.MkdirAll(filepath.Join(withValid, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	flat := t.TempDir() // classes only
	if err := os.MkdirAll(filepath.Join(flat, "cat"), 0o755); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		root, split string
		want        string // the folder, or with err the error's text
		err         bool
	}{
		{withValid, "train", filepath.Join(withValid, "train"), false},
		{withValid, "val", filepath.Join(withValid, "valid"), false},
		{withValid, "validation", filepath.Join(withValid, "valid"), false},
		{withValid, "test", filepath.Join(withValid, "test"), false},
		{withValid, "all", withValid, false},
		{flat, "all", flat, false},
		{flat, "test", "split test: " + flat + " has no test/ folder", true},
		{flat, "val", "split val: " + flat + " has no validation folder (val/, valid/, validation/)", true},
		{flat, "dev", "split dev: an image folder's splits are test, val, train and all", true},
	}
	for _, c := range cases {
		got, err := SplitDir(c.root, c.split)
		switch {
		case c.err && (err == nil || err.Error() != c.want):
			t.Errorf("SplitDir(%s, %s): %v, want the error %q", filepath.Base(c.root), c.split, err, c.want)
		case !c.err && (err != nil || got != c.want):
			t.Errorf("SplitDir(%s, %s) = %q, %v; want %q", filepath.Base(c.root), c.split, got, err, c.want)
		}
	}
	if v := ValDir(flat); v != "" {
		t.Errorf("ValDir of a folder without one: %q", v)
	}
	if v := ValDir(withValid); !strings.HasSuffix(v, "valid") {
		t.Errorf("ValDir: %q, want …/valid", v)
	}
}
