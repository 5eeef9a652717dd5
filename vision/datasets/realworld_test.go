package datasets

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func mkFiles(t *testing.T, root string, paths ...string) {
	t.Helper()
	for _, p := range paths {
		full := filepath.Join(root, p)
		if strings.HasSuffix(p, "/") {
			if err := os.MkdirAll(full, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestScanImageFolderAsPeopleKeepIt: hidden files and folders are never
// classes or images, other files are counted as unsupported, every image
// extension is taken whatever its case.
func TestScanImageFolderAsPeopleKeepIt(t *testing.T) {
	root := t.TempDir()
	mkFiles(t, root,
		".DS_Store", ".git/HEAD", ".ipynb_checkpoints/a.jpg", "__MACOSX/cat/._a.jpg", "README.md",
		"cat/a.jpg", "cat/._a.jpg", "cat/.DS_Store", "cat/b.WEBP", "cat/c.Tiff", "cat/d.bmp", "cat/e.gif", "cat/f.heic", "cat/notes.txt",
		"cat/.ipynb_checkpoints/a-checkpoint.jpg", "cat/sub/g.PNG", "cat/sub/.hidden/h.jpg",
		"dog/a.jpeg", "dog/b.tif", "dog/Thumbs.db",
	)
	l, err := ScanImageFolder(root)
	if err != nil {
		t.Fatal(err)
	}
	var images []string
	for _, it := range l.Items {
		rel, _ := filepath.Rel(root, it.Path)
		images = append(images, rel+"="+l.Classes[it.Label])
	}
	wantImages := []string{"cat/a.jpg=cat", "cat/b.WEBP=cat", "cat/c.Tiff=cat", "cat/d.bmp=cat", "cat/e.gif=cat", "cat/sub/g.PNG=cat",
		"dog/a.jpeg=dog", "dog/b.tif=dog"}
	if !slices.Equal(images, wantImages) {
		t.Errorf("images %v\nwant %v", images, wantImages)
	}
	var unsupported []string
	for _, p := range l.Unsupported {
		rel, _ := filepath.Rel(root, p)
		unsupported = append(unsupported, rel)
	}
	wantUnsupported := []string{"README.md", "cat/f.heic", "cat/notes.txt", "dog/Thumbs.db"}
	if !slices.Equal(unsupported, wantUnsupported) {
		t.Errorf("unsupported %v, want %v", unsupported, wantUnsupported)
	}
	if !slices.Equal(l.Classes, []string{"cat", "dog"}) {
		t.Errorf("classes %v", l.Classes)
	}
}

// TestScanImageFolderErrors: no class, and all empty class folders in one
// message.
func TestScanImageFolderErrors(t *testing.T) {
	cases := []struct {
		name  string
		files []string
		want  string
	}{
		{"no class", []string{"a.jpg", ".hidden/b.jpg"}, "no class folders"},
		{"empty classes", []string{"cat/a.jpg", "dog/._a.jpg", "eel/notes.txt", "fox/", "gnu/.ipynb_checkpoints/a.jpg"},
			"4 class folder(s) without images (.jpg .jpeg .png .bmp .tif .tiff .webp .gif): dog, eel, fox, gnu"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			mkFiles(t, root, c.files...)
			_, err := ScanImageFolder(root)
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), root) {
				t.Fatalf("error %v, want one naming %s with %q", err, root, c.want)
			}
		})
	}
}
