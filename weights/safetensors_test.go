package weights

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gtl-dev/gtl/internal/torchtest"
	"github.com/sugarme/gotch/ts"
)

// stBytes makes a safetensors file: header length, header, data bytes.
func stBytes(header string, data int) []byte {
	b := make([]byte, 8, 8+len(header)+data)
	binary.LittleEndian.PutUint64(b, uint64(len(header)))
	b = append(b, header...)
	return append(b, make([]byte, data)...)
}

// TestParseSafetensorsHeader checks the header validation on hand-made
// files: every problem is a one-line error naming the file and the tensor.
func TestParseSafetensorsHeader(t *testing.T) {
	const name = "dir/w.safetensors"
	withLen := func(n uint64, rest string) []byte {
		b := make([]byte, 8)
		binary.LittleEndian.PutUint64(b, n)
		return append(b, rest...)
	}
	cases := []struct {
		what string
		file []byte
		want string // "" for a valid file
	}{
		{"valid", stBytes(`{"__metadata__":{"format":"pt"},"b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"a":{"dtype":"I64","shape":[],"data_offsets":[8,16]}}    `, 16), ""},
		{"valid empty tensor and gaps", stBytes(`{"e":{"dtype":"F16","shape":[0,4],"data_offsets":[3,3]},"x":{"dtype":"BOOL","shape":[3],"data_offsets":[5,8]}}`, 8), ""},
		{"truncated", []byte{12, 0, 0}, "truncated: 3 bytes"},
		{"length beyond the file", withLen(1000, `{"a":{}}`), "header length 1000 goes beyond the end of the file (16 bytes; truncated?)"},
		{"not JSON", stBytes(`hello world!`, 0), "safetensors header is not JSON: invalid character 'h'"},
		{"not an object", stBytes(`[1, 2, 3]`, 0), "safetensors header is not a JSON object"},
		{"cut JSON", stBytes(`{"a":{"dtype":"F32","sha`, 0), "safetensors header is not JSON"},
		{"trailing bytes", stBytes(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}xyz`, 4), "3 bytes after its JSON object"},
		{"unknown dtype", stBytes(`{"w":{"dtype":"F33","shape":[1],"data_offsets":[0,4]}}`, 4), `tensor "w": unknown dtype "F33"`},
		{"unsupported dtype", stBytes(`{"w":{"dtype":"U32","shape":[1],"data_offsets":[0,4]}}`, 4), `tensor "w": dtype U32 is not supported`},
		{"size mismatch", stBytes(`{"fc.weight":{"dtype":"F32","shape":[2,3],"data_offsets":[0,20]}}`, 24), `tensor "fc.weight": shape [2 3] of F32 needs 24 bytes, data_offsets [0, 20] hold 20`},
		{"out of range", stBytes(`{"fc.bias":{"dtype":"F64","shape":[2],"data_offsets":[8,24]}}`, 16), `tensor "fc.bias": data_offsets [8, 24] go beyond the data section of 16 bytes`},
		{"negative offset", stBytes(`{"w":{"dtype":"U8","shape":[2],"data_offsets":[-2,0]}}`, 4), `tensor "w": data_offsets [-2, 0] are not a byte range`},
		{"reversed offsets", stBytes(`{"w":{"dtype":"U8","shape":[2],"data_offsets":[4,2]}}`, 4), `tensor "w": data_offsets [4, 2] are not a byte range`},
		{"overlap", stBytes(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}`, 12), `tensor "b": data_offsets [4, 12] overlap those of tensor "a" [0, 8]`},
		{"negative dim", stBytes(`{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}`, 4), `tensor "w": negative dimension`},
		{"huge shape", stBytes(`{"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}}`, 4), `tensor "w": shape [4294967296 4294967296] is too large`},
		{"no dtype", stBytes(`{"w":{"shape":[1],"data_offsets":[0,4]}}`, 4), `tensor "w": no dtype`},
		{"no offsets", stBytes(`{"w":{"dtype":"F32","shape":[1]}}`, 4), `tensor "w": no data_offsets`},
		{"three offsets", stBytes(`{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}}`, 8), `tensor "w": data_offsets [0 4 8]: want [begin, end]`},
		{"unknown field", stBytes(`{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"x":1}}`, 4), `tensor "w": bad header entry: json: unknown field "x"`},
		{"entry not an object", stBytes(`{"w":"F32"}`, 0), `tensor "w": bad header entry`},
		{"float shape", stBytes(`{"w":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}`, 4), `tensor "w": bad header entry`},
		{"duplicate", stBytes(`{"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"w":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}`, 2), `lists "w" twice`},
		{"metadata not strings", stBytes(`{"__metadata__":{"epoch":3}}`, 0), "__metadata__ must map strings to strings"},
	}
	for _, c := range cases {
		t.Run(c.what, func(t *testing.T) {
			h, err := parseSafetensorsHeader(name, bytes.NewReader(c.file), int64(len(c.file)))
			if c.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if h != nil {
				t.Errorf("a header came back with the error")
			}
			if err := checkErr(err, name, c.want); err != nil {
				t.Error(err)
			}
		})
	}

	h, err := parseSafetensorsHeader(name, bytes.NewReader(cases[0].file), int64(len(cases[0].file)))
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprintln(h.Metadata, len(h.Tensors), h.Tensors[0].Name, h.Tensors[0].Shape, h.Tensors[0].DType.st, h.Tensors[0].Begin, h.Tensors[1].Name, h.Tensors[1].Begin, h.DataStart); got != "map[format:pt] 2 a [] I64 8 b 0 150\n" {
		t.Errorf("parsed header: %s", got)
	}
}

// TestSafetensorsMetadataAndLayout: metadata round-trips, the header is
// padded to a multiple of 8 with spaces, tensors are stored in name order.
func TestSafetensorsMetadataAndLayout(t *testing.T) {
	path := filepath.Join(t.TempDir(), "w.safetensors")
	meta := map[string]string{"format": "pt", "arch": "resnet18", "note": `quotes " and <html> & ünïcode`}
	torchtest.Do(t, func() error {
		want, err := goFixture()
		if err != nil {
			return err
		}
		defer DropAll(want)
		if err := WriteSafetensors(path, want, meta); err != nil {
			return err
		}
		got, gotMeta, err := ReadSafetensors(path)
		if err != nil {
			return err
		}
		defer DropAll(got)
		if fmt.Sprint(gotMeta) != fmt.Sprint(meta) {
			return fmt.Errorf("metadata %v, want %v", gotMeta, meta)
		}
		return sameTensors(want, got)
	})
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n := binary.LittleEndian.Uint64(b)
	if n%8 != 0 || !strings.HasSuffix(strings.TrimRight(string(b[8:8+n]), " "), "}") {
		t.Errorf("header of %d bytes, want JSON padded with spaces to a multiple of 8", n)
	}
	h, err := parseSafetensorsHeader(path, bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	var end int64
	for _, e := range h.Tensors { // sorted by name: offsets must grow
		if e.Begin != end {
			t.Errorf("tensor %q at %d, want %d (name order, no gaps)", e.Name, e.Begin, end)
		}
		end = e.End
	}
	if int64(len(b)) != h.DataStart+end {
		t.Errorf("file of %d bytes, want %d", len(b), h.DataStart+end)
	}
}

// TestSafetensorsGoToPython: a file written by Go reads in Python (a
// json + numpy reader after the spec) with the same names, dtypes, shapes,
// values and metadata.
func TestSafetensorsGoToPython(t *testing.T) {
	path := filepath.Join(t.TempDir(), "go.safetensors")
	meta := map[string]string{"format": "pt", "written_by": "gtl"}
	var tensors map[string]*ts.Tensor
	torchtest.Do(t, func() error {
		var err error
		if tensors, err = goFixture(); err != nil {
			return err
		}
		return WriteSafetensors(path, tensors, meta)
	})
	defer torchDrop(t, tensors)
	py := pyDumpOf(t, "dump", path, "safetensors")
	if fmt.Sprint(py.Metadata) != fmt.Sprint(meta) {
		t.Errorf("Python reads metadata %v, want %v", py.Metadata, meta)
	}
	torchtest.Do(t, func() error { return samePy(py.Tensors, tensors) })
}

// TestSafetensorsPythonToGo: a file written in Python after the spec (by
// alignment, then name, as the reference writer orders tensors) reads in Go.
func TestSafetensorsPythonToGo(t *testing.T) {
	path := filepath.Join(t.TempDir(), "py.safetensors")
	py := pyDumpOf(t, "save", path, "safetensors")
	torchtest.Do(t, func() error {
		for _, read := range []func() (map[string]*ts.Tensor, map[string]string, error){
			func() (map[string]*ts.Tensor, map[string]string, error) { return ReadSafetensors(path) },
			func() (map[string]*ts.Tensor, map[string]string, error) {
				m, err := ReadWeights(path)
				return m, nil, err
			},
		} {
			got, meta, err := read()
			if err != nil {
				return err
			}
			err = samePy(py.Tensors, got)
			DropAll(got)
			if err != nil {
				return err
			}
			if meta != nil && meta["source"] != "weights_io.py" {
				return fmt.Errorf("metadata %v", meta)
			}
		}
		return nil
	})
}

func torchDrop(t *testing.T, m map[string]*ts.Tensor) {
	torchtest.Do(t, func() error { DropAll(m); return nil })
}
