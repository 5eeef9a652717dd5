package torch

import (
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"
)

// TestFromSlice: the same tensors as ts.NewTensorFromData, element for
// element, for every element type; wrong shapes are errors.
func TestFromSlice(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	f32 := make([]float32, 2*3*4*5)
	for i := range f32 {
		f32[i] = float32(r.NormFloat64())
	}
	f64 := []float64{1.5, -2.25, 3e300}
	i64 := []int64{-1, 1 << 40, 7}
	i32 := []int32{-5, 1 << 30}
	u8 := []uint8{0, 128, 255, 3}
	check := func(name string, got *ts.Tensor, err error, want any, shape []int64, dtype gotch.DType) {
		t.Run(name, func(t *testing.T) {
			if err != nil {
				t.Fatal(err)
			}
			defer got.MustDrop()
			ref, err := ts.NewTensorFromData(want, shape)
			if err != nil {
				t.Fatal(err)
			}
			defer ref.MustDrop()
			if got.DType() != dtype || ref.DType() != dtype {
				t.Errorf("dtype %v (NewTensorFromData %v), want %v", got.DType(), ref.DType(), dtype)
			}
			if s := got.MustSize(); !reflect.DeepEqual(s, shape) {
				t.Errorf("shape %v, want %v", s, shape)
			}
			eq, err := got.Equal(ref, false)
			if err != nil || !eq {
				t.Errorf("values differ from NewTensorFromData (%v)", err)
			}
		})
	}
	var x *ts.Tensor
	err := Do(func() (err error) { x, err = FromSlice(f32, []int64{2, 3, 4, 5}); return })
	check("float32", x, err, f32, []int64{2, 3, 4, 5}, gotch.Float)
	err = Do(func() (err error) { x, err = FromSlice(f64, []int64{3}); return })
	check("float64", x, err, f64, []int64{3}, gotch.Double)
	err = Do(func() (err error) { x, err = FromSlice(i64, []int64{3, 1}); return })
	check("int64", x, err, i64, []int64{3, 1}, gotch.Int64)
	err = Do(func() (err error) { x, err = FromSlice(i32, []int64{2}); return })
	check("int32", x, err, i32, []int64{2}, gotch.Int)
	err = Do(func() (err error) { x, err = FromSlice(u8, []int64{2, 2}); return })
	check("uint8", x, err, u8, []int64{2, 2}, gotch.Uint8)

	for _, tt := range []struct {
		name  string
		shape []int64
		want  string
	}{
		{"too few", []int64{2, 3}, "torch: tensor of shape [2 3]: 4 values, want 6"},
		{"too many", []int64{3}, "4 values, want 3"},
		{"negative", []int64{-2, -2}, "negative dimension"},
		{"no shape", nil, "4 values, want 1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := FromSlice(u8, tt.shape)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want %q", err, tt.want)
			}
		})
	}
}

// BenchmarkFromSlice: one training batch (32 images, 3×224×224 float32)
// into a tensor, with FromSlice and with ts.NewTensorFromData.
func BenchmarkFromSlice(b *testing.B) {
	data := make([]float32, 32*3*224*224)
	shape := []int64{32, 3, 224, 224}
	for _, bc := range []struct {
		name string
		fn   func() (*ts.Tensor, error)
	}{
		{"FromSlice", func() (*ts.Tensor, error) { return FromSlice(data, shape) }},
		{"NewTensorFromData", func() (*ts.Tensor, error) { return ts.NewTensorFromData(data, shape) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			err := Do(func() error {
				for i := 0; i < b.N; i++ {
					x, err := bc.fn()
					if err != nil {
						return err
					}
					x.MustDrop()
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
		})
	}
}
