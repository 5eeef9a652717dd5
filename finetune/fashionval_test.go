package finetune

import (
	"crypto/sha256"
	"strings"
	"testing"

	"github.com/gtl-dev/gtl/vision/datasets"
)

// TestFashionValHeldOut checks that Fashion-MNIST validation images come
// out of the training split (balanced, the same draw for every run seed)
// and are removed from what is trained on, as a multiset of image bytes.
func TestFashionValHeldOut(t *testing.T) {
	full, err := datasets.LoadFashionMNIST("", datasets.Train)
	if err != nil {
		t.Skipf("Fashion-MNIST not installed: %v", err)
	}
	count := func(im *datasets.Images) map[[32]byte]int {
		m := map[[32]byte]int{}
		for i := 0; i < im.Len(); i++ {
			m[sha256.Sum256(append([]byte{byte(im.Labels[i])}, im.Image(i)...))]++
		}
		return m
	}
	all := count(full)
	for _, tc := range []struct {
		classes   string
		val       int
		wantTrain int
		wantPer   int
	}{
		{"", 2000, 58000, 200},
		{"5-9", 50, 29950, 10},
		{"0,3", 7, 11994, 3},
	} {
		var first *datasets.Images
		for _, seed := range []uint64{1, 2} {
			ds, err := DataSpec{Source: "fashion-mnist", Classes: tc.classes, Val: tc.val}.Resolve()
			if err != nil {
				t.Fatal(err)
			}
			d, err := LoadData(ds, seed, false) // the path a run takes
			if err != nil {
				t.Fatal(err)
			}
			if d.Val.Len() != tc.wantPer*len(d.Classes) {
				t.Fatalf("%q val %d: LoadData validates on %d images, want %d", tc.classes, tc.val, d.Val.Len(), tc.wantPer*len(d.Classes))
			}
			train, val, err := readFashion(tc.classes, tc.val) // before resizing, to compare bytes
			if err != nil {
				t.Fatal(err)
			}
			if train.Len() != tc.wantTrain || val.Len() != tc.wantPer*len(val.Classes) {
				t.Fatalf("%q val %d: %d train, %d val images; want %d, %d", tc.classes, tc.val, train.Len(), val.Len(), tc.wantTrain, tc.wantPer*len(val.Classes))
			}
			per := make([]int, len(val.Classes))
			for _, l := range val.Labels {
				per[l]++
			}
			for c, n := range per {
				if n != tc.wantPer {
					t.Errorf("%q: class %d has %d validation images, want %d", tc.classes, c, n, tc.wantPer)
				}
			}
			// Labels index the selected classes; compare by class name.
			tr, va := count(relabel(t, train, full.Classes)), count(relabel(t, val, full.Classes))
			for k, n := range va {
				if got, want := tr[k], all[k]-n; got != want {
					t.Fatalf("%q: a validation image is %d times in the training set, want %d (held out)", tc.classes, got, want)
				}
			}
			if first == nil {
				first = val
			} else if string(first.Pix) != string(val.Pix) {
				t.Errorf("%q: seed 2 validates on other images than seed 1", tc.classes)
			}
		}
	}
	if _, _, err := readFashion("0-4", 3); err == nil || !strings.Contains(err.Error(), "want at least one image per class (5)") {
		t.Errorf("val 3 over 5 classes: %v, want a refusal naming the minimum", err)
	}
}

// relabel maps a class subset's labels back to the full set's indices.
func relabel(t *testing.T, im *datasets.Images, names []string) *datasets.Images {
	t.Helper()
	idx := map[string]int{}
	for i, n := range names {
		idx[n] = i
	}
	out := *im
	out.Labels = make([]int, im.Len())
	for i, l := range im.Labels {
		out.Labels[i] = idx[im.Classes[l]]
	}
	return &out
}
