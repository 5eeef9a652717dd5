package datasets

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func idxImages(n, h, w int, pixLen int) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.BigEndian, [4]uint32{idxImagesMagic, uint32(n), uint32(h), uint32(w)})
	for i := 0; i < pixLen; i++ {
		b.WriteByte(byte(i))
	}
	return b.Bytes()
}

func idxLabels(labels ...uint8) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.BigEndian, [2]uint32{idxLabelsMagic, uint32(len(labels))})
	b.Write(labels)
	return b.Bytes()
}

func TestReadIDXImages(t *testing.T) {
	tests := []struct {
		name    string
		data    []byte
		wantErr string
	}{
		{"ok", idxImages(2, 3, 4, 24), ""},
		{"truncated pixels", idxImages(2, 3, 4, 20), "unexpected EOF"},
		{"truncated header", idxImages(2, 3, 4, 0)[:9], "header"},
		{"labels file", idxLabels(1, 2, 3, 4, 5, 6, 7, 8), "magic"},
		{"zero images", idxImages(0, 3, 4, 0), "implausible"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, h, w, pix, err := ReadIDXImages(bytes.NewReader(tt.data))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || n != 2 || h != 3 || w != 4 || len(pix) != 24 || pix[23] != 23 {
				t.Fatalf("got %d %d %d len %d err %v", n, h, w, len(pix), err)
			}
		})
	}
}

func TestLoadFashionMNISTErrors(t *testing.T) {
	write := func(dir, name string, data []byte, gz bool) {
		if gz {
			var b bytes.Buffer
			zw := gzip.NewWriter(&b)
			zw.Write(data)
			zw.Close()
			data, name = b.Bytes(), name+".gz"
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name    string
		setup   func(dir string)
		wantErr string
	}{
		{"ok gz", func(d string) {
			write(d, "t10k-images-idx3-ubyte", idxImages(2, 2, 2, 8), true)
			write(d, "t10k-labels-idx1-ubyte", idxLabels(3, 9), true)
		}, ""},
		{"ok raw", func(d string) {
			write(d, "t10k-images-idx3-ubyte", idxImages(2, 2, 2, 8), false)
			write(d, "t10k-labels-idx1-ubyte", idxLabels(3, 9), false)
		}, ""},
		{"missing", func(string) {}, "t10k-images-idx3-ubyte.gz not found"},
		{"count mismatch", func(d string) {
			write(d, "t10k-images-idx3-ubyte", idxImages(2, 2, 2, 8), true)
			write(d, "t10k-labels-idx1-ubyte", idxLabels(3), true)
		}, "2 images but 1 labels"},
		{"label out of range", func(d string) {
			write(d, "t10k-images-idx3-ubyte", idxImages(2, 2, 2, 8), true)
			write(d, "t10k-labels-idx1-ubyte", idxLabels(3, 10), true)
		}, "label 10 of image 1"},
		{"not gzip", func(d string) {
			os.WriteFile(filepath.Join(d, "t10k-images-idx3-ubyte.gz"), []byte("junk"), 0o644)
		}, "t10k-images-idx3-ubyte.gz: gzip"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			tt.setup(dir)
			im, err := LoadFashionMNIST(dir, Test)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if im.Len() != 2 || im.Labels[1] != 9 || im.Classes[9] != "Ankle boot" {
				t.Fatalf("got %+v", im)
			}
		})
	}
}

// TestDebianFashionMNIST reads the real data that scripts/setup.sh installs.
func TestDebianFashionMNIST(t *testing.T) {
	tests := []struct {
		split Split
		n     int
	}{{Train, 60000}, {Test, 10000}}
	for _, tt := range tests {
		t.Run(string(tt.split), func(t *testing.T) {
			im, err := LoadFashionMNIST("", tt.split)
			if err != nil {
				t.Fatalf("%v (run scripts/setup.sh)", err)
			}
			if im.Len() != tt.n || im.Height != 28 || im.Width != 28 || im.Channels != 1 {
				t.Fatalf("%d images of %d×%d×%d", im.Len(), im.Height, im.Width, im.Channels)
			}
			per := make([]int, 10)
			for _, l := range im.Labels {
				per[l]++
			}
			for c, k := range per {
				if k != tt.n/10 {
					t.Errorf("class %d has %d images, want %d", c, k, tt.n/10)
				}
			}
		})
	}
}

func TestFirstPerClassAndSubset(t *testing.T) {
	im := &Images{Height: 1, Width: 1, Channels: 1, Classes: []string{"a", "b"},
		Pix: []uint8{0, 1, 2, 3, 4, 5}, Labels: []int{0, 1, 0, 1, 0, 1}}
	idx, err := im.FirstPerClass(2, 7)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := im.FirstPerClass(2, 7)
	if len(idx) != 4 || fmt.Sprint(idx) != fmt.Sprint(again) {
		t.Fatalf("idx %v, again %v", idx, again)
	}
	sub, err := im.Subset(idx)
	if err != nil {
		t.Fatal(err)
	}
	per := map[int]int{}
	for i, l := range sub.Labels {
		per[l]++
		if int(sub.Pix[i])%2 != l {
			t.Errorf("image %d pixel %d does not belong to label %d", i, sub.Pix[i], l)
		}
	}
	if per[0] != 2 || per[1] != 2 {
		t.Errorf("per class %v", per)
	}
	if _, err := im.FirstPerClass(4, 7); err == nil || !strings.Contains(err.Error(), "class 0 (a) has 3") {
		t.Errorf("err = %v", err)
	}
	if _, err := im.Subset([]int{6}); err == nil {
		t.Error("out-of-range subset accepted")
	}
}

func TestListImageFolder(t *testing.T) {
	root := t.TempDir()
	mk := func(p string) {
		os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o755)
		os.WriteFile(filepath.Join(root, p), nil, 0o644)
	}
	mk("dog/b.png")
	mk("dog/a.JPG")
	mk("cat/x/deep.jpeg")
	mk("cat/notes.txt")
	items, classes, err := ListImageFolder(root)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(classes) != "[cat dog]" || len(items) != 3 || items[0].Label != 0 || filepath.Base(items[1].Path) != "a.JPG" || items[2].Label != 1 {
		t.Fatalf("classes %v items %+v", classes, items)
	}
	mk("empty/readme.md")
	if _, _, err := ListImageFolder(root); err == nil || !strings.Contains(err.Error(), "1 class folder(s) without images (.jpg .jpeg .png .bmp .tif .tiff .webp .gif): empty") {
		t.Fatalf("err = %v", err)
	}
	if _, _, err := ListImageFolder(filepath.Join(root, "missing")); err == nil {
		t.Fatal("missing root accepted")
	}
}

func TestParseAndSelectClasses(t *testing.T) {
	tests := []struct {
		spec string
		want string
		err  string
	}{
		{"5-9", "[5 6 7 8 9]", ""},
		{"0,2, 4", "[0 2 4]", ""},
		{"3-3,1", "[1 3]", ""},
		{"9-5", "", "not an index or a range"},
		{"x", "", "not an index"},
		{"8-10", "", "class 10 out of range [0, 10)"},
	}
	for _, tt := range tests {
		got, err := ParseClasses(tt.spec, 10)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%q: err %v, want %q", tt.spec, err, tt.err)
			}
			continue
		}
		if err != nil || fmt.Sprint(got) != tt.want {
			t.Errorf("%q: %v %v, want %s", tt.spec, got, err, tt.want)
		}
	}
	im := &Images{Height: 1, Width: 1, Channels: 1, Classes: []string{"a", "b", "c"}, Pix: []uint8{0, 1, 2, 3}, Labels: []int{0, 1, 2, 1}}
	sel, err := im.SelectClasses([]int{1, 2})
	if err != nil || fmt.Sprint(sel.Labels, sel.Classes, sel.Pix) != "[0 1 0] [b c] [1 2 3]" {
		t.Fatalf("select: %v %v", sel, err)
	}
}

// TestFirstPerClassMultiLabel: a multi-label set's draw takes, in the
// seeded order, each image that carries a class still short of n, so
// every class (one that is never an image's first included) has at least
// n images, and an image whose classes all have n is left out.
func TestFirstPerClassMultiLabel(t *testing.T) {
	// classes a, b, z; z is never first.
	tags := [][]int{{0}, {1}, {0, 2}, {1, 2}, {0}, {1}, {0, 1}, {0}, {1}, {1, 2}}
	labels := make([]int, len(tags))
	for i, tg := range tags {
		labels[i] = tg[0]
	}
	im := &Images{Height: 1, Width: 1, Channels: 1, Classes: []string{"a", "b", "z"}, Pix: make([]uint8, len(tags)), Labels: labels, Tags: tags}
	for seed := uint64(1); seed <= 20; seed++ {
		idx, err := im.FirstPerClass(2, seed)
		if err != nil {
			t.Fatal(err)
		}
		count := make([]int, 3)
		for _, i := range idx {
			for _, c := range tags[i] {
				count[c]++
			}
		}
		if count[0] < 2 || count[1] < 2 || count[2] < 2 {
			t.Fatalf("seed %d: images %v give %v per class, want at least 2 each", seed, idx, count)
		}
		// Every image taken was needed when it was taken: without it, one of
		// its classes would have been short at that point.
		seen := make([]int, 3)
		for _, i := range idx {
			needed := false
			for _, c := range tags[i] {
				needed = needed || seen[c] < 2
			}
			if !needed {
				t.Errorf("seed %d: image %d %v taken with its classes full %v", seed, i, tags[i], seen)
			}
			for _, c := range tags[i] {
				seen[c]++
			}
		}
	}
	// z has 3 images: 4 per class cannot be drawn.
	if _, err := im.FirstPerClass(4, 1); err == nil || !strings.Contains(err.Error(), "class 2 (z) has 3") {
		t.Errorf("4 per class: %v", err)
	}
}
