package npy

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		a    Array
	}{
		{"f32 2d", Array{Shape: []int{2, 3}, Float32: []float32{1, 2, 3, 4, 5, -6.5}}},
		{"i64 1d", Array{Shape: []int{3}, Int64: []int64{7, -1, 1 << 40}}},
		{"u8 4d", Array{Shape: []int{1, 2, 1, 2}, Uint8: []uint8{0, 255, 3, 4}}},
		{"f64 scalar", Array{Shape: []int{}, Float64: []float64{3.25}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "a.npy")
			if err := Write(p, &tt.a); err != nil {
				t.Fatal(err)
			}
			got, err := Read(p)
			if err != nil {
				t.Fatal(err)
			}
			var b1, b2 bytes.Buffer
			Encode(&b1, &tt.a)
			Encode(&b2, got)
			if !bytes.Equal(b1.Bytes(), b2.Bytes()) {
				t.Errorf("round trip changed the array: %+v", got)
			}
			if py := "/usr/bin/python3"; fileExists(py) {
				out, err := exec.Command(py, "-c", "import numpy as np,sys; a=np.load(sys.argv[1]); print(a.dtype, a.shape, a.ravel().tolist())", p).CombinedOutput()
				if err != nil {
					t.Fatalf("numpy cannot read it: %v\n%s", err, out)
				}
			}
		})
	}
}

func TestReadErrors(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "g.npy")
	Write(good, &Array{Shape: []int{4}, Float32: []float32{1, 2, 3, 4}})
	b, _ := os.ReadFile(good)
	cases := map[string]struct {
		data []byte
		want string
	}{
		"not npy":   {[]byte("hello world"), "not an .npy file"},
		"truncated": {b[:len(b)-3], "data of shape [4] <f4"},
		"dtype":     {bytes.Replace(b, []byte("<f4"), []byte("<c8"), 1), "dtype <c8 not supported"},
		"fortran":   {bytes.Replace(b, []byte("False"), []byte("True "), 1), "Fortran-order"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(dir, name+".npy")
			os.WriteFile(p, c.data, 0o644)
			_, err := Read(p)
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), p) {
				t.Fatalf("err = %v, want it to name the file and say %q", err, c.want)
			}
		})
	}
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }
