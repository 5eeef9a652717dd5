package datasets

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDescribeSource(t *testing.T) {
	dir := t.TempDir()
	mk := func(p string) string {
		p = filepath.Join(dir, p)
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	file := filepath.Join(dir, "photo.jpg")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	classes := mk("clothes")
	mk("clothes/shirt")
	flat := mk("flat")
	if err := os.WriteFile(filepath.Join(flat, "a.jpg"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	hiddenOnly := mk("hidden")
	mk("hidden/.git")
	linked := mk("linked")
	if err := os.Symlink(filepath.Join(classes, "shirt"), filepath.Join(linked, "shirt")); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, src, want string
	}{
		{"built-in", "fashion-mnist", ""},
		{"image folder", classes, ""},
		{"linked class folder", linked, ""},
		{"missing", filepath.Join(dir, "nosuch"), "does not exist"},
		{"misspelt built-in", "fashion_mnist", "does not exist (the built-in data set is called fashion-mnist)"},
		{"mnist", "mnist", "does not exist (the built-in data set is called fashion-mnist)"},
		{"a file", file, "is a file, not an image folder (want DIR/<class>/<image>, or DIR/train/<class>/… and DIR/val/<class>/…)"},
		{"no class folders", flat, "is not an image folder: it has no class folders ("},
		{"only hidden folders", hiddenOnly, "is not an image folder: it has no class folders ("},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := DescribeSource(tt.src)
			if tt.want == "" && got != "" || tt.want != "" && !strings.HasPrefix(got, tt.want) || strings.Contains(got, "\n") {
				t.Errorf("DescribeSource(%q) = %q, want %q", tt.src, got, tt.want)
			}
		})
	}
}
