package weights

import (
	"archive/zip"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gtl-dev/gtl/internal/torchtest"
	"github.com/sugarme/gotch/ts"
)

// TestPthGoToPython: a .pth written by Go loads with torch.load
// (weights_only=True) as an OrderedDict with the same names, dtypes,
// shapes (0-dim ones included) and values.
func TestPthGoToPython(t *testing.T) {
	path := filepath.Join(t.TempDir(), "go.pth")
	var tensors map[string]*ts.Tensor
	torchtest.Do(t, func() error {
		var err error
		if tensors, err = goFixture(); err != nil {
			return err
		}
		return WritePth(path, tensors)
	})
	defer torchDrop(t, tensors)
	py := pyDumpOf(t, "dump", path, "pth")
	torchtest.Do(t, func() error { return samePy(py.Tensors, tensors) })
	for name, p := range py.Tensors {
		if !p.Contiguous {
			t.Errorf("%s: not contiguous in Python", name)
		}
	}
}

// TestPthLayout: the archive holds data.pkl, one stored (uncompressed)
// record per tensor at a 64-byte aligned offset, byteorder and version "3\n".
func TestPthLayout(t *testing.T) {
	path := filepath.Join(t.TempDir(), "w.pth")
	torchtest.Do(t, func() error {
		tensors, err := goFixture()
		if err != nil {
			return err
		}
		defer DropAll(tensors)
		return WritePth(path, tensors)
	})
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
		if f.Method != zip.Store {
			t.Errorf("%s: method %d, want stored", f.Name, f.Method)
		}
		if strings.HasPrefix(f.Name, "archive/data/") {
			off, err := f.DataOffset()
			if err != nil {
				t.Fatal(err)
			}
			if off%64 != 0 {
				t.Errorf("%s: data at offset %d, want 64-byte aligned", f.Name, off)
			}
		}
		if f.Name == "archive/version" {
			r, _ := f.Open()
			b := make([]byte, 8)
			n, _ := r.Read(b)
			if string(b[:n]) != "3\n" {
				t.Errorf("version %q, want \"3\\n\"", b[:n])
			}
		}
	}
	if len(names) != len(fixtureSpec)+3 || names[0] != "archive/data.pkl" || names[len(names)-1] != "archive/version" {
		t.Errorf("records %q", names)
	}
}

// TestPthPythonToGo: files written by torch.save, in the zip and the legacy
// format, read through ReadWeights and ReadPth with Python's names, dtypes,
// shapes and values (a non-contiguous tensor and two views of one storage
// included); truncated copies of them are errors, not panics.
func TestPthPythonToGo(t *testing.T) {
	dir := t.TempDir()
	for _, format := range []string{"zip", "legacy"} {
		t.Run(format, func(t *testing.T) {
			path := filepath.Join(dir, "py-"+format+".pth")
			py := pyDumpOf(t, "save", path, format)
			full, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			torchtest.Do(t, func() error {
				for _, read := range []func(string) (map[string]*ts.Tensor, error){ReadWeights, ReadPth} {
					got, err := read(path)
					if err != nil {
						return err
					}
					err = samePy(py.Tensors, got)
					DropAll(got)
					if err != nil {
						return err
					}
				}
				if format == "legacy" { // the walk behind the truncation check
					f, err := os.Open(path)
					if err != nil {
						return err
					}
					end, err := legacyPthEnd(f)
					f.Close()
					if err != nil || end != int64(len(full)) {
						return fmt.Errorf("legacyPthEnd: %d, %v; want the file size %d", end, err, len(full))
					}
				}
				for _, cut := range []int{len(full) / 4, len(full) / 2, len(full) * 3 / 4, len(full) - 1} {
					p := filepath.Join(dir, fmt.Sprintf("cut-%s-%d.pth", format, cut))
					if err := os.WriteFile(p, full[:cut], 0o644); err != nil {
						return err
					}
					got, err := ReadWeights(p)
					DropAll(got)
					if err == nil {
						return fmt.Errorf("%s cut to %d of %d bytes: no error", format, cut, len(full))
					}
					if strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), p) {
						return fmt.Errorf("%s cut to %d bytes: error %q, want one line naming the file", format, cut, err)
					}
					t.Logf("cut to %d of %d bytes: %v", cut, len(full), err)
				}
				return nil
			})
		})
	}
}

// TestPickleInts: the pickler's integers decode as Python's.
func TestPickleInts(t *testing.T) {
	cases := map[int64]string{
		0:           "K\x00",
		255:         "K\xff",
		256:         "M\x00\x01",
		65536:       "J\x00\x00\x01\x00",
		1<<31 - 1:   "J\xff\xff\xff\x7f",
		1 << 31:     "\x8a\x05\x00\x00\x00\x80\x00",
		1<<40 + 5:   "\x8a\x06\x05\x00\x00\x00\x00\x01",
		1<<63 - 1:   "\x8a\x08\xff\xff\xff\xff\xff\xff\xff\x7f",
		12345678901: "\x8a\x05\x35\x1c\xdc\xdf\x02",
	}
	for v, want := range cases {
		var p pickler
		p.int(v)
		if got := p.b.String(); got != want {
			t.Errorf("int(%d) = %q, want %q", v, got, want)
		}
	}
}
