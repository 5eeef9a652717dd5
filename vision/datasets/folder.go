package datasets

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Item is one labelled image file.
type Item struct {
	Path  string
	Label int
}

// IsImageFile reports whether name has an image extension gtl decodes.
func IsImageFile(name string) bool {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".jpg", ".jpeg", ".png":
		return true
	}
	return false
}

// ListImageFolder lists an ImageFolder tree: root/<class>/<image>, classes
// sorted by name (as torchvision's ImageFolder), images sorted by path.
// Empty class folders are an error naming them.
func ListImageFolder(root string) (items []Item, classes []string, err error) {
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil, nil, fmt.Errorf("datasets: image folder: %w", err)
	}
	for _, e := range entries {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			classes = append(classes, e.Name())
		}
	}
	sort.Strings(classes)
	if len(classes) == 0 {
		return nil, nil, fmt.Errorf("datasets: %s: no class folders (want %s/<class>/<image>.jpg)", root, root)
	}
	for label, c := range classes {
		files, err := ListImages(filepath.Join(root, c))
		if err != nil {
			return nil, nil, err
		}
		if len(files) == 0 {
			return nil, nil, fmt.Errorf("datasets: %s: class folder has no .jpg, .jpeg or .png images", filepath.Join(root, c))
		}
		for _, f := range files {
			items = append(items, Item{Path: f, Label: label})
		}
	}
	return items, classes, nil
}

// ListImages returns the image files under dir (recursively), sorted.
func ListImages(dir string) ([]string, error) {
	var files []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && IsImageFile(p) {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("datasets: list images: %w", err)
	}
	sort.Strings(files)
	return files, nil
}
