package datasets

import (
	"errors"
	"io/fs"
	"os"
	"strings"

	"github.com/gtl-dev/gtl/internal/suggest"
)

// FashionMNIST is the name --data gives the built-in data set by.
const FashionMNIST = "fashion-mnist"

// folderLayout is how an image folder is laid out, for messages.
const folderLayout = "want DIR/<class>/<image>, or DIR/train/<class>/… and DIR/val/<class>/…"

// DescribeSource says in a few words why src cannot be a data source ("does
// not exist", "is a file, not an image folder (want …)"), or returns "" when
// it can be one: FashionMNIST, or a folder with at least one sub-folder.
// It only looks at the folder's first level; ScanImageFolder checks the
// rest.
func DescribeSource(src string) string {
	if src == FashionMNIST {
		return ""
	}
	st, err := os.Stat(src)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if looksLikeFashionMNIST(src) {
			return "does not exist (the built-in data set is called " + FashionMNIST + ")"
		}
		return "does not exist"
	case errors.Is(err, fs.ErrPermission):
		return "cannot be read: permission denied"
	case err != nil:
		return "cannot be read: " + err.Error()
	case !st.IsDir():
		return "is a file, not an image folder (" + folderLayout + ")"
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		if errors.Is(err, fs.ErrPermission) {
			return "cannot be read: permission denied"
		}
		return "cannot be read: " + err.Error()
	}
	for _, e := range entries {
		if e.IsDir() && !IsHidden(e.Name()) {
			return ""
		}
		if e.Type()&fs.ModeSymlink != 0 { // a linked class folder
			if st, err := os.Stat(src + string(os.PathSeparator) + e.Name()); err == nil && st.IsDir() {
				return ""
			}
		}
	}
	return "is not an image folder: it has no class folders (" + folderLayout + ")"
}

// looksLikeFashionMNIST reports whether a missing path is probably a
// misspelt FashionMNIST ("fashion_mnist", "FashionMNIST", "mnist").
func looksLikeFashionMNIST(src string) bool {
	s := strings.ToLower(src)
	return !strings.ContainsRune(s, os.PathSeparator) &&
		(strings.Contains(s, "mnist") || suggest.Distance(s, FashionMNIST) <= 3)
}
