package weights

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/gtl-dev/gtl/internal/torchtest"
	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"
)

// fixtureSpec describes the tensors every format must carry: each dtype, a
// 0-dim int64 over 2^32, a 0-dim float, an empty tensor, a non-contiguous
// one (transposed) and one of a few thousand elements.
var fixtureSpec = []struct {
	name      string
	dt        gotch.DType
	shape     []int64
	values    []float64
	transpose bool // made as shape reversed, then transposed
}{
	{"conv.weight", gotch.Float, []int64{2, 3, 2, 2}, ramp(24, 1.0/8, -1), false},
	{"bn.running_var", gotch.Double, []int64{3}, []float64{0.25, 1.5, 3}, false},
	{"bn.num_batches_tracked", gotch.Int64, []int64{}, []float64{12345678901}, false},
	{"scalar", gotch.Float, []int64{}, []float64{-2.5}, false},
	{"half", gotch.Half, []int64{2, 2}, []float64{0.5, -1, 2, 65504}, false},
	{"bf16", gotch.BFloat16, []int64{3}, []float64{1, -0.5, 3.00405527047391e38}, false},
	{"i32", gotch.Int, []int64{4}, []float64{-2147483648, -1, 0, 2147483647}, false},
	{"i16", gotch.Int16, []int64{2, 2}, []float64{-32768, 7, 0, 32767}, false},
	{"i8", gotch.Int8, []int64{3}, []float64{-128, 0, 127}, false},
	{"u8", gotch.Uint8, []int64{4}, []float64{0, 1, 128, 255}, false},
	{"mask", gotch.Bool, []int64{2, 3}, []float64{1, 0, 1, 0, 0, 1}, false},
	{"empty", gotch.Float, []int64{0, 3}, nil, false},
	{"fc.weight_t", gotch.Float, []int64{3, 2}, ramp(6, 1, -2), true},
	{"layer1.0.conv1.weight", gotch.Float, []int64{40, 3, 5, 5}, ramp(3000, 0.25, -300), false},
}

func ramp(n int, step, start float64) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = start + float64(i)*step
	}
	return v
}

// goFixture makes the tensors of fixtureSpec. It runs on the torch worker.
func goFixture() (map[string]*ts.Tensor, error) {
	out := map[string]*ts.Tensor{}
	for _, f := range fixtureSpec {
		t, err := makeTensor(f.dt, f.shape, f.values, f.transpose)
		if err != nil {
			DropAll(out)
			return nil, fmt.Errorf("fixture %s: %w", f.name, err)
		}
		out[f.name] = t
	}
	return out, nil
}

func makeTensor(dt gotch.DType, shape []int64, values []float64, transpose bool) (*ts.Tensor, error) {
	if len(values) == 0 {
		return ts.Zeros(shape, dt, gotch.CPU)
	}
	t, err := ts.OfSlice(values)
	if err != nil {
		return nil, err
	}
	if t, err = t.Totype(dt, true); err != nil {
		return nil, err
	}
	switch {
	case len(shape) == 0:
		return t.Select(0, 0, true)
	case transpose:
		if t, err = t.View([]int64{shape[1], shape[0]}, true); err != nil {
			return nil, err
		}
		return t.Transpose(0, 1, true)
	default:
		return t.View(shape, true)
	}
}

// float64s returns a tensor's elements, row-major, as float64.
func float64s(t *ts.Tensor) ([]float64, error) {
	d, err := t.Totype(gotch.Double, false)
	if err != nil {
		return nil, err
	}
	defer d.MustDrop()
	n := int64(1)
	for _, s := range d.MustSize() {
		n *= s
	}
	out := make([]float64, n)
	if n > 0 {
		if err := d.CopyData(out, uint(n)); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// sameTensors checks that got has the names, dtypes, shapes (0-dim ones
// included) and bytes of want.
func sameTensors(want, got map[string]*ts.Tensor) error {
	if w, g := slices.Sorted(maps.Keys(want)), slices.Sorted(maps.Keys(got)); !slices.Equal(w, g) {
		return fmt.Errorf("names %q, want %q", g, w)
	}
	for _, name := range slices.Sorted(maps.Keys(want)) {
		w, g := want[name], got[name]
		if w.DType() != g.DType() {
			return fmt.Errorf("%s: dtype %v, want %v", name, g.DType(), w.DType())
		}
		if ws, gs := w.MustSize(), g.MustSize(); !slices.Equal(ws, gs) || len(ws) != len(gs) {
			return fmt.Errorf("%s: shape %v (%d dims), want %v (%d dims)", name, gs, len(gs), ws, len(ws))
		}
		d, err := dtypeOf(w.DType())
		if err != nil {
			return err
		}
		wb, err := tensorBytes(w, d)
		if err != nil {
			return err
		}
		gb, err := tensorBytes(g, d)
		if err != nil {
			return err
		}
		if !bytes.Equal(wb, gb) {
			return fmt.Errorf("%s: values differ", name)
		}
	}
	return nil
}

// pyTensor is a tensor as weights_io.py dumps it.
type pyTensor struct {
	DType      string    `json:"dtype"`
	Shape      []int64   `json:"shape"`
	Values     []float64 `json:"values"`
	Contiguous bool      `json:"contiguous"`
}

type pyDump struct {
	Tensors  map[string]pyTensor `json:"tensors"`
	Metadata map[string]string   `json:"metadata"`
}

// samePy checks Go tensors against Python's view of the same tensors:
// names, dtypes, shapes and exact values.
func samePy(py map[string]pyTensor, got map[string]*ts.Tensor) error {
	if w, g := slices.Sorted(maps.Keys(py)), slices.Sorted(maps.Keys(got)); !slices.Equal(w, g) {
		return fmt.Errorf("names: Go %q, Python %q", g, w)
	}
	for _, name := range slices.Sorted(maps.Keys(py)) {
		p, g := py[name], got[name]
		d, err := dtypeOf(g.DType())
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if d.st != p.DType {
			return fmt.Errorf("%s: dtype %s in Go, %s in Python", name, d.st, p.DType)
		}
		if gs := g.MustSize(); !slices.Equal(gs, p.Shape) || len(gs) != len(p.Shape) {
			return fmt.Errorf("%s: shape %v (%d dims) in Go, %v (%d dims) in Python", name, gs, len(gs), p.Shape, len(p.Shape))
		}
		vals, err := float64s(g)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if !slices.Equal(vals, p.Values) {
			return fmt.Errorf("%s: values %v in Go, %v in Python", name, head(vals), head(p.Values))
		}
	}
	return nil
}

func head(v []float64) []float64 { return v[:min(len(v), 8)] }

var pyOnce sync.Once
var pyErr error

// weightsPy runs scripts/parity/weights_io.py with Debian's Python and torch.
func weightsPy(t *testing.T, args ...string) []byte {
	t.Helper()
	script := filepath.Join(torchtest.Root(), "scripts", "parity", "weights_io.py")
	pyOnce.Do(func() {
		out, err := exec.Command("/usr/bin/python3", "-c", "import torch, numpy, torchvision").CombinedOutput()
		if err != nil {
			pyErr = fmt.Errorf("/usr/bin/python3 with torch, numpy and torchvision is needed (scripts/parity/setup.sh installs them): %v: %s", err, torchtest.LastLines(out))
		}
	})
	if pyErr != nil {
		t.Fatal(pyErr)
	}
	cmd := exec.Command("/usr/bin/python3", append([]string{script}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("weights_io.py %s: %v\n%s", strings.Join(args, " "), err, torchtest.LastLines(stderr.Bytes()))
	}
	return out
}

func pyDumpOf(t *testing.T, args ...string) pyDump {
	t.Helper()
	var d pyDump
	if err := json.Unmarshal(weightsPy(t, args...), &d); err != nil {
		t.Fatalf("weights_io.py %v: %v", args, err)
	}
	return d
}

// TestRoundTripGoToGo writes the fixture in each format from Go and reads it
// back with the format's reader and with ReadWeights: same names, dtypes,
// shapes (0-dim stays 0-dim) and bytes.
func TestRoundTripGoToGo(t *testing.T) {
	dir := t.TempDir()
	formats := []struct {
		file  string
		write func(string, map[string]*ts.Tensor) error
		read  func(string) (map[string]*ts.Tensor, error)
	}{
		{"w.pth", WritePth, ReadPth},
		{"w.safetensors", func(p string, m map[string]*ts.Tensor) error { return WriteSafetensors(p, m, nil) },
			func(p string) (map[string]*ts.Tensor, error) { m, _, err := ReadSafetensors(p); return m, err }},
		{"w.ot", WriteOt, ReadOt},
		{"no-extension", WritePth, ReadPth},
	}
	torchtest.Do(t, func() error {
		want, err := goFixture()
		if err != nil {
			return err
		}
		defer DropAll(want)
		for _, f := range formats {
			path := filepath.Join(dir, f.file)
			if err := f.write(path, want); err != nil {
				return err
			}
			for _, r := range []struct {
				how  string
				read func(string) (map[string]*ts.Tensor, error)
			}{{"own reader", f.read}, {"ReadWeights", ReadWeights}} {
				got, err := r.read(path)
				if err != nil {
					return err
				}
				err = sameTensors(want, got)
				DropAll(got)
				if err != nil {
					return fmt.Errorf("%s through %s: %w", f.file, r.how, err)
				}
			}
		}
		return nil
	})
	entries, _ := os.ReadDir(dir)
	if len(entries) != len(formats) {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("folder holds %q, want only the %d written files (no temporary files)", names, len(formats))
	}
}

// TestReadOtGotchNames reads .ot files as gotch's VarStore.Save writes them
// (dotted names) and as tch writes them ("|" for "."), and checks that
// WriteOt stores "|" names.
func TestReadOtGotchNames(t *testing.T) {
	dir := t.TempDir()
	torchtest.Do(t, func() error {
		w, err := makeTensor(gotch.Float, []int64{2, 2}, []float64{1, 2, 3, 4}, false)
		if err != nil {
			return err
		}
		defer w.MustDrop()
		for _, name := range []string{"fc.weight", "fc|weight"} {
			path := filepath.Join(dir, "gotch.ot")
			if err := ts.SaveMultiNew([]ts.NamedTensor{{Name: name, Tensor: w}}, path); err != nil {
				return fmt.Errorf("gotch save %q: %v", name, oneLine(err))
			}
			got, err := ReadWeights(path)
			if err != nil {
				return err
			}
			err = sameTensors(map[string]*ts.Tensor{"fc.weight": w}, got)
			DropAll(got)
			if err != nil {
				return fmt.Errorf("saved as %q: %w", name, err)
			}
		}
		path := filepath.Join(dir, "gtl.ot")
		if err := WriteOt(path, map[string]*ts.Tensor{"fc.weight": w}); err != nil {
			return err
		}
		named, err := ts.LoadMulti(path)
		if err != nil {
			return oneLine(err)
		}
		for _, nt := range named {
			nt.Tensor.MustDrop()
		}
		if len(named) != 1 || named[0].Name != "fc.weight" {
			return fmt.Errorf("gotch's LoadMulti reads %v, want fc.weight", named)
		}
		if err := WriteOt(filepath.Join(dir, "bad.ot"), map[string]*ts.Tensor{"a|b": w}); err == nil || !strings.Contains(err.Error(), `"a|b"`) {
			return fmt.Errorf("WriteOt of a name with '|': error %v, want one naming it", err)
		}
		return nil
	})
}

// TestReadWeightsNotWeights feeds ReadWeights (and ReadPth) files that are
// no weights files, or broken ones: each is a one-line error naming the
// file and saying what it looks like, never a panic or a hang.
func TestReadWeightsNotWeights(t *testing.T) {
	dir := t.TempDir()
	var zipNoData, zipTrunc bytes.Buffer
	zw := zip.NewWriter(&zipNoData)
	w, _ := zw.Create("archive/readme.txt")
	w.Write([]byte("hello"))
	zw.Close()
	zw = zip.NewWriter(&zipTrunc)
	w, _ = zw.Create("archive/data.pkl")
	w.Write(bytes.Repeat([]byte{0x80, 0x02, '.'}, 300))
	zw.Close()
	cases := []struct {
		name    string
		content []byte
		want    string
	}{
		{"empty.pth", nil, "empty file"},
		{"text.pth", []byte("hello, these are not weights\n"), `not a weights file: starts with 68 65 6c 6c 6f 2c 20 74 ("hello, t")`},
		{"zeros.pth", make([]byte, 4096), "not a weights file: starts with 00 00 00 00 00 00 00 00"},
		{"w.pth.gz", []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3}, "a gzip file"},
		{"lfs.safetensors", []byte("version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 123\n"), "a Git LFS pointer"},
		{"page.pth", []byte("<!DOCTYPE html><html><body>Not found</body></html>"), "an HTML page"},
		{"one.pth", []byte{0x80}, "truncated: only 1 bytes"},
		{"pk.pth", []byte("PK\x03"), "truncated: only 3 bytes"},
		{"nodata.pth", zipNoData.Bytes(), "a zip archive without data.pkl"},
		{"trunc.pth", zipTrunc.Bytes()[:zipTrunc.Len()/2], "truncated or corrupt zip archive"},
		{"huge.safetensors", append([]byte{0xff, 0xff, 0, 0, 0, 0, 0, 0}, []byte(`{"a":1}`)...), "header length 65535 goes beyond the end of the file"},
		{"pickle.pth", []byte{0x80, 0x02, ']', '.'}, "not a PyTorch checkpoint"},
		{"badpickle.pth", append([]byte{0x80, 0x02}, bytes.Repeat([]byte{0xfe}, 600)...), "not a PyTorch checkpoint"},
	}
	torchtest.Do(t, func() error {
		for _, c := range cases {
			path := filepath.Join(dir, c.name)
			if err := os.WriteFile(path, c.content, 0o644); err != nil {
				return err
			}
			m, err := ReadWeights(path)
			if err := checkErr(err, path, c.want); err != nil {
				DropAll(m)
				return fmt.Errorf("ReadWeights(%s): %w", c.name, err)
			}
			t.Logf("%s: %v", c.name, err)
		}
		// ReadPth alone: gotch's pickle code loops forever on zeros and
		// misreads a truncated zip as a legacy file.
		for _, c := range []struct{ name, want string }{
			{"zeros.pth", "not a PyTorch checkpoint: starts with 00 00 00 00"},
			{"trunc.pth", "truncated or corrupt zip archive"},
			{"empty.pth", "empty file"},
		} {
			path := filepath.Join(dir, c.name)
			m, err := ReadPth(path)
			if err := checkErr(err, path, c.want); err != nil {
				DropAll(m)
				return fmt.Errorf("ReadPth(%s): %w", c.name, err)
			}
		}
		m, err := ReadOt(filepath.Join(dir, "text.pth"))
		if err := checkErr(err, "text.pth", "not a libtorch archive of tensors"); err != nil {
			DropAll(m)
			return fmt.Errorf("ReadOt: %w", err)
		}
		_, err = ReadWeights(filepath.Join(dir, "missing.pth"))
		if err := checkErr(err, "missing.pth", "no such file"); err != nil {
			return err
		}
		return nil
	})
}

// TestTruncatedFiles cuts files written by Go in each format: ReadWeights
// says each is truncated or corrupt, in one line naming the file.
func TestTruncatedFiles(t *testing.T) {
	dir := t.TempDir()
	torchtest.Do(t, func() error {
		tensors, err := goFixture()
		if err != nil {
			return err
		}
		defer DropAll(tensors)
		for _, f := range []struct {
			file  string
			write func(string, map[string]*ts.Tensor) error
			want  string
		}{
			{"w.pth", WritePth, "truncated or corrupt zip archive"},
			{"w.safetensors", func(p string, m map[string]*ts.Tensor) error { return WriteSafetensors(p, m, nil) }, "truncated"},
			{"w.ot", WriteOt, "truncated or corrupt zip archive"},
		} {
			path := filepath.Join(dir, f.file)
			if err := f.write(path, tensors); err != nil {
				return err
			}
			full, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			for _, cut := range []int{7, 20, len(full) / 4, len(full) / 2, len(full) * 3 / 4, len(full) - 1} {
				p := filepath.Join(dir, fmt.Sprintf("cut-%d-%s", cut, f.file))
				if err := os.WriteFile(p, full[:cut], 0o644); err != nil {
					return err
				}
				want := f.want
				if cut == 7 {
					want = "" // too short to tell the format
				}
				got, err := ReadWeights(p)
				if err := checkErr(err, p, want); err != nil {
					DropAll(got)
					return fmt.Errorf("%s cut to %d of %d bytes: %w", f.file, cut, len(full), err)
				}
			}
		}
		return nil
	})
}

// checkErr wants a one-line error naming path and containing want.
func checkErr(err error, path, want string) error {
	switch {
	case err == nil:
		return fmt.Errorf("no error, want one with %q", want)
	case strings.Contains(err.Error(), "\n"):
		return fmt.Errorf("error of several lines: %q", err)
	case !strings.Contains(err.Error(), path):
		return fmt.Errorf("error %q does not name %s", err, path)
	case !strings.Contains(err.Error(), want):
		return fmt.Errorf("error %q, want it to say %q", err, want)
	}
	return nil
}

// TestWritersAreAtomic: a failed write leaves no file (not even a temporary
// one) and an existing file as it was; a bad tensor fails before writing.
func TestWritersAreAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "w.safetensors")
	err := WriteAtomic(path, func(w io.Writer) error {
		w.Write(make([]byte, 3<<20)) // past the buffer: bytes reach the file
		return errors.New("disk full")
	})
	if err == nil || err.Error() != "disk full" {
		t.Fatalf("writeAtomic: error %v, want disk full", err)
	}
	assertFiles(t, dir)
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteAtomic(path, func(w io.Writer) error { w.Write([]byte("new")); return errors.New("boom") }); err == nil {
		t.Fatal("writeAtomic: no error")
	}
	if b, _ := os.ReadFile(path); string(b) != "old" {
		t.Errorf("a failed write changed the file to %q", b)
	}
	assertFiles(t, dir, "w.safetensors")
	if err := writeAtomicFile(filepath.Join(dir, "x.ot"), func(string) error { return errors.New("libtorch failed") }); err == nil {
		t.Fatal("writeAtomicFile: no error")
	}
	assertFiles(t, dir, "w.safetensors")

	torchtest.Do(t, func() error {
		good, err := makeTensor(gotch.Float, []int64{2}, []float64{1, 2}, false)
		if err != nil {
			return err
		}
		defer good.MustDrop()
		cplx, err := good.Totype(gotch.ComplexFloat, false)
		if err != nil {
			return err
		}
		defer cplx.MustDrop()
		bad := map[string]*ts.Tensor{"a.weight": good, "b.weight": cplx}
		writers := []struct {
			file  string
			write func(string, map[string]*ts.Tensor) error
		}{
			{"c.pth", WritePth},
			{"c.safetensors", func(p string, m map[string]*ts.Tensor) error { return WriteSafetensors(p, m, nil) }},
		}
		for _, w := range writers {
			p := filepath.Join(dir, w.file)
			err := w.write(p, bad)
			if err := checkErr(err, p, `tensor "b.weight": dtype ComplexFloat is not supported`); err != nil {
				return fmt.Errorf("%s: %w", w.file, err)
			}
			err = w.write(p, map[string]*ts.Tensor{"a": good, "nil": nil})
			if err := checkErr(err, p, `tensor "nil": nil tensor`); err != nil {
				return fmt.Errorf("%s: %w", w.file, err)
			}
			err = w.write(p, map[string]*ts.Tensor{"bad\xffname": good})
			if err := checkErr(err, p, "not valid UTF-8"); err != nil {
				return fmt.Errorf("%s: %w", w.file, err)
			}
			err = w.write(filepath.Join(dir, "no-such-dir", w.file), map[string]*ts.Tensor{"a": good})
			if err := checkErr(err, "no-such-dir", "no such file"); err != nil {
				return fmt.Errorf("%s: %w", w.file, err)
			}
		}
		err = WriteSafetensors(filepath.Join(dir, "m.safetensors"), map[string]*ts.Tensor{"__metadata__": good}, nil)
		if err := checkErr(err, "m.safetensors", "reserved"); err != nil {
			return err
		}
		return nil
	})
	assertFiles(t, dir, "w.safetensors")
}

func assertFiles(t *testing.T, dir string, want ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if !slices.Equal(got, want) {
		t.Errorf("folder holds %q, want %q", got, want)
	}
}
