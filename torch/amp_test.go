package torch

import (
	"reflect"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"
)

func TestAutocastMatmulDType(t *testing.T) {
	tests := []struct {
		name string
		amp  AMP
		want gotch.DType
	}{
		{"off", AMPOff, gotch.Float},
		{"bf16", AMPBFloat16, gotch.BFloat16},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Do(func() error {
				a, err := ts.Ones([]int64{4, 4}, gotch.Float, gotch.CPU)
				if err != nil {
					return err
				}
				defer a.MustDrop()
				var got gotch.DType
				err = Autocast(gotch.CPU, tt.amp, func() error {
					if on := AutocastEnabled(gotch.CPU); on != (tt.amp != AMPOff) {
						t.Errorf("AutocastEnabled inside = %v", on)
					}
					m, err := a.Matmul(a, false)
					if err != nil {
						return err
					}
					defer m.MustDrop()
					got = m.DType()
					return nil
				})
				if err != nil {
					return err
				}
				if AutocastEnabled(gotch.CPU) {
					t.Errorf("autocast still on after Autocast returned")
				}
				if got != tt.want {
					t.Errorf("matmul dtype = %v, want %v", got, tt.want)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestAutocastFP16OnCPUFails(t *testing.T) {
	called := false
	err := Do(func() error {
		return Autocast(gotch.CPU, AMPFloat16, func() error { called = true; return nil })
	})
	if err == nil || called {
		t.Fatalf("Autocast(CPU, fp16) = %v, called %v; want an error and no call", err, called)
	}
}

func TestParseAMP(t *testing.T) {
	tests := []struct {
		in      string
		want    AMP
		wantErr bool
	}{
		{"", AMPOff, false},
		{"bf16", AMPBFloat16, false},
		{"fp16", AMPFloat16, false},
		{"fp8", AMPOff, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseAMP(tt.in)
			if got != tt.want || (err != nil) != tt.wantErr {
				t.Errorf("ParseAMP(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestChannelsLast(t *testing.T) {
	err := Do(func() error {
		x, err := ts.Randn([]int64{2, 3, 4, 5}, gotch.Float, gotch.CPU)
		if err != nil {
			return err
		}
		defer x.MustDrop()
		if IsChannelsLast(x) {
			t.Errorf("fresh tensor reported channels-last")
		}
		y, err := ChannelsLast(x)
		if err != nil {
			return err
		}
		defer y.MustDrop()
		// NHWC strides for [2,3,4,5]: C=1, W=C, H=W*C, N=H*W*C.
		if got, want := y.MustStride(), []int64{60, 1, 15, 3}; !reflect.DeepEqual(got, want) {
			t.Errorf("strides = %v, want %v", got, want)
		}
		if !IsChannelsLast(y) {
			t.Errorf("IsChannelsLast(converted) = false")
		}
		if !reflect.DeepEqual(x.Float64Values(), y.Float64Values()) {
			t.Errorf("values changed by the conversion")
		}
		// In place: the handle stays, the layout changes.
		if err := SetChannelsLast(x); err != nil {
			return err
		}
		if got, want := x.MustStride(), []int64{60, 1, 15, 3}; !reflect.DeepEqual(got, want) {
			t.Errorf("strides after SetChannelsLast = %v, want %v", got, want)
		}
		v, err := ts.Ones([]int64{3}, gotch.Float, gotch.CPU)
		if err != nil {
			return err
		}
		defer v.MustDrop()
		if err := SetChannelsLast(v); err != nil {
			t.Errorf("SetChannelsLast(1-D) = %v, want it skipped", err)
		}
		if _, err := ChannelsLast(v); err == nil {
			t.Errorf("ChannelsLast(1-D) succeeded, want an error")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestCUDACallsWithoutCUDA(t *testing.T) {
	if len(CUDADevices()) > 0 {
		t.Skip("a CUDA device is present")
	}
	// On the pinned worker: libtorch's last error is per OS thread, and a
	// goroutine moved between the call and the read would see another
	// thread's (and leave this one's to the next test on that thread).
	err := Do(func() error {
		if err := CUDASynchronize(0); err == nil {
			t.Errorf("CUDASynchronize without CUDA succeeded")
		}
		if n, err := CUDAPeakAllocated(0); err == nil || n != -1 {
			t.Errorf("CUDAPeakAllocated without CUDA = %d, %v; want -1 and an error", n, err)
		}
		if err := CUDAResetPeak(0); err == nil {
			t.Errorf("CUDAResetPeak without CUDA succeeded")
		}
		// Process-wide switches are harmless without CUDA.
		if err := SetCuDNNBenchmark(false); err != nil {
			t.Errorf("SetCuDNNBenchmark: %v", err)
		}
		if err := SetAllowTF32(false); err != nil {
			t.Errorf("SetAllowTF32: %v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
