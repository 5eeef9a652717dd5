package datasets

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// torchvisionListing lists root with torchvision's ImageFolder (classes
// and samples, paths as bytes) and returns them as gtl writes them:
// classes in order, samples as "path=label" sorted.
const torchvisionListing = `
import json, os, sys
from torchvision.datasets import ImageFolder
ds = ImageFolder(sys.argv[1])
print(json.dumps({"classes": [os.fsencode(c).hex() for c in ds.classes],
                  "samples": [[os.fsencode(p).hex(), y] for p, y in ds.samples]}))
`

func listWithTorchvision(t *testing.T, root string) (classes, samples []string) {
	t.Helper()
	out, err := exec.Command("/usr/bin/python3", "-c", torchvisionListing, root).CombinedOutput()
	if err != nil {
		t.Fatalf("torchvision's ImageFolder: %v\n%s\n(scripts/parity/setup.sh installs python3-torchvision)", err, out)
	}
	var got struct {
		Classes []string `json:"classes"`
		Samples [][2]any `json:"samples"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	unhex := func(s any) string {
		b, err := hex.DecodeString(s.(string))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	for _, c := range got.Classes {
		classes = append(classes, unhex(c))
	}
	for _, s := range got.Samples {
		samples = append(samples, fmt.Sprintf("%s=%v", unhex(s[0]), s[1]))
	}
	slices.Sort(samples)
	return classes, samples
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

// TestScanImageFolderLikeTorchvision: symbolic links to class folders, to
// folders inside a class, to images, and links that lead nowhere, and a
// class folder whose name is not valid UTF-8, are listed as torchvision's
// ImageFolder lists them on the same folder: the same classes in the same
// order, the same images (by the path through the link) with the same
// labels.
func TestScanImageFolderLikeTorchvision(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	mkFiles(t, dir,
		"root/cats/a.png", "root/cats/sub/b.jpg", "root/birds/x.png", "root/caf\xe9/i.png", "root/notes.txt",
		"elsewhere/dogs/c.png", "elsewhere/dogs/d.JPG", "elsewhere/e.png", "elsewhere/more/f.png", "elsewhere/more/g/h.png",
	)
	symlink(t, "../elsewhere/dogs", filepath.Join(root, "dogs"))                                  // a class folder
	symlink(t, "../../elsewhere/e.png", filepath.Join(root, "cats", "linked.png"))                // an image
	symlink(t, "../../elsewhere/more", filepath.Join(root, "cats", "more"))                       // a folder in a class
	symlink(t, "../dogs", filepath.Join(root, "birds", "alias"))                                  // a sibling class, listed twice
	symlink(t, "../../nowhere.png", filepath.Join(root, "cats", "broken.png"))                    // leads nowhere
	symlink(t, filepath.Join(dir, "elsewhere", "e.png"), filepath.Join(root, "birds", "abs.png")) // absolute

	wantClasses, wantSamples := listWithTorchvision(t, root)
	l, err := ScanImageFolder(root)
	if err != nil {
		t.Fatal(err)
	}
	var samples []string
	for _, it := range l.Items {
		samples = append(samples, fmt.Sprintf("%s=%d", it.Path, it.Label))
	}
	slices.Sort(samples)
	if !slices.Equal(l.Classes, wantClasses) {
		t.Errorf("classes %q\ntorchvision %q", l.Classes, wantClasses)
	}
	if !slices.Equal(samples, wantSamples) {
		t.Errorf("images\n%s\ntorchvision\n%s", strings.Join(samples, "\n"), strings.Join(wantSamples, "\n"))
	}
	if len(samples) != 13 { // guards the fixture: every kind of link is there
		t.Errorf("%d images, want 13", len(samples))
	}
}

// TestScanImageFolderLinkLoop: a link that leads back to a folder it is
// in is an error naming the link and where it leads (torchvision's
// os.walk follows it until the path is too long).
func TestScanImageFolderLinkLoop(t *testing.T) {
	for _, tc := range []struct {
		name, link, target, at, back string
	}{
		{"to its folder", "cats/loop", ".", "cats/loop", "cats"},
		{"to the class above", "cats/deep/up", "../..", "cats/deep/up/cats", "cats"},
		{"class folder to the root", "dogs", ".", "dogs/dogs", "dogs"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			mkFiles(t, root, "cats/a.png", "cats/deep/b.png", "birds/c.png")
			symlink(t, tc.target, filepath.Join(root, tc.link))
			_, err := ScanImageFolder(root)
			want := fmt.Sprintf("datasets: list images: %s is a symbolic link loop: it leads back to %s", filepath.Join(root, tc.at), filepath.Join(root, tc.back))
			if err == nil || err.Error() != want {
				t.Errorf("error %v\nwant %s", err, want)
			}
		})
	}
}
