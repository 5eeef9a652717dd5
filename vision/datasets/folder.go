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
	// Tags are the classes of a multi-label image (its Label is the
	// first); nil for a single-label one.
	Tags []int
}

// ImageExtensions are the file extensions gtl takes for images (compared
// without regard to case), as torchvision's IMG_EXTENSIONS less the ones it
// has no decoder for (.ppm, .pgm). The format is then read from the bytes.
var ImageExtensions = []string{".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".gif"}

// IsImageFile reports whether name has an image extension gtl decodes.
func IsImageFile(name string) bool {
	ext := strings.ToLower(filepath.Ext(name))
	for _, e := range ImageExtensions {
		if ext == e {
			return true
		}
	}
	return false
}

// IsHidden reports whether a file or folder name is one people do not mean
// as data: dot files and folders (.DS_Store, macOS's "._photo.jpg"
// AppleDouble sidecars, .ipynb_checkpoints, .git) and the __MACOSX folder
// of zip archives made on macOS.
func IsHidden(name string) bool {
	return strings.HasPrefix(name, ".") || name == "__MACOSX"
}

// Listing is an image folder's listing.
type Listing struct {
	Items   []Item
	Classes []string
	// Unsupported are the files left out for their type (no image
	// extension gtl decodes), hidden files aside; sorted.
	Unsupported []string
}

// ListImageFolder lists an ImageFolder tree: root/<class>/<image>, classes
// sorted by name (as torchvision's ImageFolder), images sorted by path. See
// [ScanImageFolder].
func ListImageFolder(root string) (items []Item, classes []string, err error) {
	l, err := ScanImageFolder(root)
	if err != nil {
		return nil, nil, err
	}
	return l.Items, l.Classes, nil
}

// ScanImageFolder lists an ImageFolder tree: root/<class>/<image>, classes
// sorted by name (as torchvision's ImageFolder), images sorted by path.
// Hidden files and folders (see [IsHidden]) and the folders named in
// exclude are never classes or images; other files without an image
// extension are listed as Unsupported. No class folder is an error, and so
// are empty class folders, all named in one message.
func ScanImageFolder(root string, exclude ...string) (*Listing, error) {
	entries, err := os.ReadDir(root)
	if err != nil {
		if h := PathHint(root); h != "" {
			return nil, fmt.Errorf("datasets: image folder: %w; %s", err, h)
		}
		return nil, fmt.Errorf("datasets: image folder: %w", err)
	}
	l := &Listing{}
	for _, e := range entries {
		if IsHidden(e.Name()) || containsString(exclude, e.Name()) {
			continue
		}
		if isDirEntry(root, e) {
			l.Classes = append(l.Classes, e.Name())
		} else {
			l.Unsupported = append(l.Unsupported, filepath.Join(root, e.Name()))
		}
	}
	sort.Strings(l.Classes)
	if len(l.Classes) == 0 {
		return nil, fmt.Errorf("datasets: %s: no class folders (want %s/<class>/<image>.jpg)", root, root)
	}
	var empty []string
	for label, c := range l.Classes {
		files, unsupported, err := scanImages(filepath.Join(root, c))
		if err != nil {
			return nil, err
		}
		l.Unsupported = append(l.Unsupported, unsupported...)
		if len(files) == 0 {
			empty = append(empty, c)
		}
		for _, f := range files {
			l.Items = append(l.Items, Item{Path: f, Label: label})
		}
	}
	if len(empty) > 0 {
		return nil, fmt.Errorf("datasets: %s: %d class folder(s) without images (%s): %s", root, len(empty),
			strings.Join(ImageExtensions, " "), strings.Join(empty, ", "))
	}
	sort.Strings(l.Unsupported)
	return l, nil
}

// ListImages returns the image files under dir (recursively), sorted,
// leaving hidden files and folders out (see [IsHidden]).
func ListImages(dir string) ([]string, error) {
	files, _, err := scanImages(dir)
	return files, err
}

// ScanImages is [ListImages] that also returns the other files it left out
// for their type (hidden ones aside).
func ScanImages(dir string) (images, unsupported []string, err error) {
	return scanImages(dir)
}

func scanImages(dir string) (files, unsupported []string, err error) {
	if err := walkFollow(dir, nil, &files, &unsupported); err != nil {
		return nil, nil, fmt.Errorf("datasets: list images: %w", err)
	}
	sort.Strings(files)
	sort.Strings(unsupported)
	return files, unsupported, nil
}

// walkFollow lists the files under dir into files (image extensions) and
// unsupported (others), hidden ones aside, following symbolic links to
// folders as torchvision's ImageFolder does (os.walk with followlinks=True):
// a folder reached through a link is listed under the link's path, and as
// many times as links lead to it. A link that leads back to a folder it
// is inside (a loop, which os.walk would follow until the path is too
// long) is an error naming it. A link to a file, or one that leads
// nowhere, is listed as a file (an image that does not load is then
// reported when it is read). ancestors are the folders dir is inside.
func walkFollow(dir string, ancestors []os.FileInfo, files, unsupported *[]string) error {
	st, err := os.Stat(dir)
	if err != nil {
		return err
	}
	for i, a := range ancestors {
		if os.SameFile(a, st) {
			return fmt.Errorf("%s is a symbolic link loop: it leads back to %s", dir, ancestorPath(dir, len(ancestors)-i))
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	ancestors = append(ancestors, st)
	for _, e := range entries {
		if IsHidden(e.Name()) {
			continue
		}
		p := filepath.Join(dir, e.Name())
		if isDirEntry(dir, e) {
			if err := walkFollow(p, ancestors, files, unsupported); err != nil {
				return err
			}
		} else if IsImageFile(p) {
			*files = append(*files, p)
		} else {
			*unsupported = append(*unsupported, p)
		}
	}
	return nil
}

// ancestorPath returns the folder up folders above p.
func ancestorPath(p string, up int) string {
	for ; up > 0; up-- {
		p = filepath.Dir(p)
	}
	return p
}

// isDirEntry follows a symbolic link to tell a folder.
func isDirEntry(root string, e os.DirEntry) bool {
	if e.IsDir() {
		return true
	}
	if e.Type()&os.ModeSymlink != 0 {
		st, err := os.Stat(filepath.Join(root, e.Name()))
		return err == nil && st.IsDir()
	}
	return false
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
