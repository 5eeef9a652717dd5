package vision

import (
	"bytes"
	"image"
	"image/gif"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"
)

// writeImage writes a small image in the format its extension names
// (.png, .gif, .bmp, .tif), or junk bytes for anything else.
func writeImage(t *testing.T, path string, v uint8) {
	t.Helper()
	m := image.NewNRGBA(image.Rect(0, 0, 12, 9))
	for i := range m.Pix {
		m.Pix[i] = v
	}
	var buf bytes.Buffer
	var err error
	switch strings.ToLower(filepath.Ext(path)) {
	case ".png":
		err = png.Encode(&buf, m)
	case ".gif":
		err = gif.Encode(&buf, m, nil)
	case ".bmp":
		err = bmp.Encode(&buf, m)
	case ".tif", ".tiff":
		err = tiff.Encode(&buf, m, nil)
	default:
		buf.WriteString("not an image")
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestFolderLayouts: the validation folder may be val/, valid/ or
// validation/; test/ is never a class; train/ alone is split; hidden files
// are never images; files of other types are counted, images used are
// counted per split.
func TestFolderLayouts(t *testing.T) {
	cases := []struct {
		name               string
		files              []string
		classes            []string
		train, val, unsupp int
	}{
		{"val", []string{"train/a/1.png", "train/b/1.gif", "train/b/2.BMP", "val/a/1.tif", "val/b/1.png", "train/a/._1.png", "train/.DS_Store"},
			[]string{"a", "b"}, 3, 2, 0},
		{"valid (fastai)", []string{"train/a/1.png", "train/b/1.png", "valid/a/1.png", "valid/b/x.txt", "valid/b/1.png", "test/a/1.png"},
			[]string{"a", "b"}, 2, 2, 1},
		{"validation", []string{"train/a/1.png", "train/b/1.png", "validation/b/1.png"}, []string{"a", "b"}, 2, 1, 0},
		{"split, test/ kept out", []string{"a/1.png", "a/2.png", "b/1.png", "b/2.png", "test/1.png", "test/2.png", "labels.csv", ".ipynb_checkpoints/c/1.png"},
			[]string{"a", "b"}, 2, 2, 1},
		{"train/ alone is split", []string{"train/a/1.png", "train/a/2.png", "train/b/1.png", "train/b/2.png", "test/a/1.png"},
			[]string{"a", "b"}, 2, 2, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			for i, f := range c.files {
				writeImage(t, filepath.Join(root, f), uint8(10*i))
			}
			d, err := ReadFolder(root, FolderOptions{Size: 8, ValFrac: 0.5, Seed: 1})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(d.Train.Classes, c.classes) || d.Train.Len() != c.train || d.Val.Len() != c.val || len(d.Unsupported) != c.unsupp {
				t.Errorf("classes %v, %d train, %d val, unsupported %v; want %v, %d, %d, %d", d.Train.Classes, d.Train.Len(), d.Val.Len(),
					d.Unsupported, c.classes, c.train, c.val, c.unsupp)
			}
		})
	}
}

// TestFolderBadImages: an image file that does not decode is skipped and
// counted with SkipBad, an error naming it without.
func TestFolderBadImages(t *testing.T) {
	root := t.TempDir()
	for _, f := range []string{"a/1.png", "a/2.png", "b/1.png", "b/2.png"} {
		writeImage(t, filepath.Join(root, f), 100)
	}
	writeImage(t, filepath.Join(root, "b", "3.webp"), 0) // junk bytes
	d, err := ReadFolder(root, FolderOptions{Size: 8, ValFrac: 0.5, Seed: 1, SkipBad: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Skipped) != 1 || d.Train.Len()+d.Val.Len() != 4 {
		t.Errorf("skipped %v, %d images used; want 3.webp skipped, 4 used", d.Skipped, d.Train.Len()+d.Val.Len())
	}
	if _, err := ReadFolder(root, FolderOptions{Size: 8, ValFrac: 0.5, Seed: 1}); err == nil || !strings.Contains(err.Error(), "3.webp") {
		t.Errorf("error %v, want one naming 3.webp", err)
	}
}

// TestFolderOneClass: a data set of one class is an error.
func TestFolderOneClass(t *testing.T) {
	for _, files := range [][]string{{"cat/1.png", "cat/2.png", ".git/x.png", "test/a/1.png"}, {"train/cat/1.png", "val/cat/1.png", "train/.x/1.png"}} {
		root := t.TempDir()
		for _, f := range files {
			writeImage(t, filepath.Join(root, f), 1)
		}
		_, err := ListFolder(root, 0.5, 1)
		if err == nil || !strings.Contains(err.Error(), "one class folder (cat); a classifier needs at least two") {
			t.Errorf("%v: error %v, want one class refused", files, err)
		}
	}
}
