package datasets

import (
	"bytes"
	"sort"
	"testing"

	"github.com/gtl-dev/gtl/internal/fuzzcount"
)

// FuzzReadIDXImages: no input panics; a header's count is never trusted
// before the pixels are there (a 2^32-pixel claim in a 20-byte stream is
// an error, found without allocating 4 GiB).
func FuzzReadIDXImages(f *testing.F) {
	f.Add(idxImages(2, 3, 4, 24))
	f.Add(idxImages(2, 3, 4, 20))
	f.Add(idxImages(65536, 256, 256, 8)) // 2^32 pixels claimed, 8 there
	f.Add(idxLabels(1, 2, 3))
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzcount.Hit("FuzzReadIDXImages")
		n, h, w, pix, err := ReadIDXImages(bytes.NewReader(data))
		if err != nil {
			return
		}
		if n*h*w != len(pix) || len(pix) > len(data) {
			t.Fatalf("%d×%d×%d images but %d pixels from %d bytes", n, h, w, len(pix), len(data))
		}
	})
}

// FuzzReadIDXLabels: as FuzzReadIDXImages, for label files.
func FuzzReadIDXLabels(f *testing.F) {
	f.Add(idxLabels(3, 9))
	f.Add(idxLabels(1, 2, 3)[:9])
	f.Add([]byte{0, 0, 8, 1, 0x3f, 0xff, 0xff, 0xff, 1}) // 2^30-1 labels claimed
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzcount.Hit("FuzzReadIDXLabels")
		labels, err := ReadIDXLabels(bytes.NewReader(data))
		if err == nil && (len(labels) == 0 || len(labels) > len(data)) {
			t.Fatalf("%d labels from %d bytes", len(labels), len(data))
		}
	})
}

// FuzzParseClasses: --classes never panics, and what it accepts is sorted,
// distinct and in range.
func FuzzParseClasses(f *testing.F) {
	for _, s := range []string{"5-9", "0,2,4", "0-9", " 3 , 1", "9-5", "-1", "0-99999999999999999999", "1,,2", ""} {
		f.Add(s, 10)
	}
	f.Fuzz(func(t *testing.T, spec string, n int) {
		fuzzcount.Hit("FuzzParseClasses")
		n = n & 0xffff // a data set's class count; keeps a wide range cheap
		got, err := ParseClasses(spec, n)
		if err != nil {
			return
		}
		if !sort.IntsAreSorted(got) {
			t.Fatalf("%q: %v not sorted", spec, got)
		}
		for i, c := range got {
			if c < 0 || c >= n || (i > 0 && got[i-1] == c) {
				t.Fatalf("%q (n=%d): %v", spec, n, got)
			}
		}
	})
}
