package vision

import (
	"math"
	"strings"
	"testing"

	"github.com/sugarme/gotch/ts"

	"github.com/gtl-dev/gtl/torch"
	"github.com/gtl-dev/gtl/vision/datasets"
)

func TestBatchNormalises(t *testing.T) {
	im := &datasets.Images{Height: 1, Width: 2, Channels: 2, Classes: []string{"a", "b"},
		Pix: []uint8{0, 255, 51, 102, 255, 0, 0, 0}, Labels: []int{1, 0}}
	tests := []struct {
		name string
		norm Normalize
		idx  []int
		want []float64
	}{
		{"none", Normalize{}, []int{0}, []float64{0, 0.2, 1, 0.4}},
		{"per channel", Normalize{Mean: []float64{0.5, 0}, Std: []float64{0.5, 2}}, []int{0}, []float64{-1, -0.6, 0.5, 0.2}},
		{"order kept", Normalize{}, []int{1, 0}, []float64{1, 0, 0, 0, 0, 0.2, 1, 0.4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := torch.Do(func() error {
				x, y, err := Batch(im, tt.idx, tt.norm)
				if err != nil {
					return err
				}
				defer y.MustDrop()
				if got := x.MustSize(); got[0] != int64(len(tt.idx)) || got[1] != 2 || got[2] != 1 || got[3] != 2 {
					t.Errorf("shape %v", got)
				}
				got := x.Float64Values(true)
				for i := range tt.want {
					if math.Abs(got[i]-tt.want[i]) > 1e-6 {
						t.Fatalf("values %v, want %v", got, tt.want)
					}
				}
				if l := y.Int64Values(); l[len(l)-1] != int64(im.Labels[tt.idx[len(tt.idx)-1]]) {
					t.Errorf("labels %v", l)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
	for _, bad := range []struct {
		norm Normalize
		idx  []int
		want string
	}{
		{Normalize{Std: []float64{0}}, []int{0}, "std of channel 0 is 0"},
		{Normalize{Mean: []float64{1, 2, 3}}, []int{0}, "3 values for 2 channels"},
		{Normalize{}, []int{2}, "out of range"},
	} {
		err := torch.Do(func() error { _, _, err := Batch(im, bad.idx, bad.norm); return err })
		if err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("err = %v, want %q", err, bad.want)
		}
	}
}

// TestTransformInput checks the input re-normalisation against
// torchvision's Inception3._transform_input formula:
// x_c * std_c/0.5 + (mean_c-0.5)/0.5.
func TestTransformInput(t *testing.T) {
	err := torch.Do(func() error {
		x, err := ts.NewTensorFromData([]float32{0, 1, 0, -1, 2, 0.5}, []int64{1, 3, 2, 1})
		if err != nil {
			return err
		}
		defer x.MustDrop()
		y, err := transformInput(x)
		if err != nil {
			return err
		}
		got := y.Float64Values(true)
		mean := []float64{0.485, 0.456, 0.406}
		std := []float64{0.229, 0.224, 0.225}
		in := []float64{0, 1, 0, -1, 2, 0.5}
		for i, v := range in {
			c := i / 2
			want := v*std[c]/0.5 + (mean[c]-0.5)/0.5
			if math.Abs(got[i]-want) > 1e-6 {
				t.Errorf("element %d: %v, want %v", i, got[i], want)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
