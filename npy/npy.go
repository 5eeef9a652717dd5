// Package npy reads and writes NumPy .npy files (format 1.0/2.0, C order,
// little-endian) in plain Go: float32, float64, int64, int32 and uint8
// arrays. gtl uses it for logits, embeddings and input batches exchanged
// with Python pipelines.
package npy

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// Array is an n-dimensional array; exactly one of the data slices is set.
type Array struct {
	Shape   []int
	Float32 []float32
	Float64 []float64
	Int64   []int64
	Int32   []int32
	Uint8   []uint8
}

// DType returns the NumPy type string of the set slice ("<f4", "|u1", ...).
func (a *Array) DType() string {
	switch {
	case a.Float32 != nil:
		return "<f4"
	case a.Float64 != nil:
		return "<f8"
	case a.Int64 != nil:
		return "<i8"
	case a.Int32 != nil:
		return "<i4"
	default:
		return "|u1"
	}
}

func (a *Array) len() int {
	switch {
	case a.Float32 != nil:
		return len(a.Float32)
	case a.Float64 != nil:
		return len(a.Float64)
	case a.Int64 != nil:
		return len(a.Int64)
	case a.Int32 != nil:
		return len(a.Int32)
	default:
		return len(a.Uint8)
	}
}

// Numel returns the product of the shape.
func Numel(shape []int) int {
	n := 1
	for _, s := range shape {
		n *= s
	}
	return n
}

var headerRE = regexp.MustCompile(`'descr':\s*'([^']+)'.*'fortran_order':\s*(True|False).*'shape':\s*\(([^)]*)\)`)

// Read reads an .npy file. The data size the header implies is checked
// against the file's size before any array is allocated.
func Read(path string) (*Array, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("npy: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("npy: %w", err)
	}
	a, err := decode(bufio.NewReader(f), st.Size())
	if err != nil {
		return nil, fmt.Errorf("npy: %s: %w", path, err)
	}
	return a, nil
}

// Decode reads an .npy stream. Memory grows with the data actually read,
// never with the size the header claims.
func Decode(r io.Reader) (*Array, error) { return decode(r, -1) }

// maxElements bounds an array's element count (and so its bytes, 8 per
// element at most) so that size arithmetic cannot overflow.
const maxElements = 1 << 56

// decode reads an .npy stream of size bytes in all (-1: unknown).
func decode(r io.Reader, size int64) (*Array, error) {
	var magic [8]byte
	if _, err := io.ReadFull(r, magic[:]); err != nil {
		return nil, fmt.Errorf("not an .npy file: %w", err)
	}
	if string(magic[:6]) != "\x93NUMPY" {
		return nil, fmt.Errorf("not an .npy file (starts with %q)", magic[:6])
	}
	var hlen, prefix int // header length; bytes before the header
	switch magic[6] {
	case 1:
		var n uint16
		if err := binary.Read(r, binary.LittleEndian, &n); err != nil {
			return nil, fmt.Errorf("header: %w", err)
		}
		hlen, prefix = int(n), 10
	case 2, 3:
		var n uint32
		if err := binary.Read(r, binary.LittleEndian, &n); err != nil {
			return nil, fmt.Errorf("header: %w", err)
		}
		hlen, prefix = int(n), 12
	default:
		return nil, fmt.Errorf("unsupported .npy version %d", magic[6])
	}
	if hlen > 1<<20 {
		return nil, fmt.Errorf("header of %d bytes", hlen)
	}
	hdr := make([]byte, hlen)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	m := headerRE.FindStringSubmatch(string(hdr))
	if m == nil {
		return nil, fmt.Errorf("unreadable header %q", strings.TrimSpace(string(hdr)))
	}
	if m[2] == "True" {
		return nil, fmt.Errorf("Fortran-order arrays are not supported; save with np.ascontiguousarray")
	}
	a := &Array{Shape: []int{}}
	for _, s := range strings.Split(m[3], ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		v, err := strconv.Atoi(s)
		if err != nil || v < 0 {
			return nil, fmt.Errorf("bad shape (%s)", m[3])
		}
		a.Shape = append(a.Shape, v)
	}
	n := 1
	for _, v := range a.Shape {
		if v != 0 && n > maxElements/v {
			return nil, fmt.Errorf("shape (%s) has too many elements", m[3])
		}
		n *= v
	}
	elem := map[string]int{"<f4": 4, "<f8": 8, "<i8": 8, "<i4": 4, "|u1": 1, "<u1": 1}[m[1]]
	if elem == 0 {
		return nil, fmt.Errorf("dtype %s not supported (want float32, float64, int64, int32 or uint8)", m[1])
	}
	nbytes := int64(n) * int64(elem)
	if size >= 0 {
		if have := size - int64(prefix+hlen); nbytes > have {
			return nil, fmt.Errorf("data of shape %v %s: needs %d bytes, the file holds %d (truncated, or a corrupt header)", a.Shape, m[1], nbytes, max(have, 0))
		}
	} else {
		// An unknown length: read what is there first, so that a lying
		// header cannot make us allocate.
		var buf bytes.Buffer
		if _, err := io.CopyN(&buf, r, nbytes); err != nil {
			return nil, fmt.Errorf("data of shape %v %s: %d of %d bytes: %w", a.Shape, m[1], buf.Len(), nbytes, io.ErrUnexpectedEOF)
		}
		r = &buf
	}
	var data any
	switch m[1] {
	case "<f4":
		a.Float32 = make([]float32, n)
		data = a.Float32
	case "<f8":
		a.Float64 = make([]float64, n)
		data = a.Float64
	case "<i8":
		a.Int64 = make([]int64, n)
		data = a.Int64
	case "<i4":
		a.Int32 = make([]int32, n)
		data = a.Int32
	case "|u1", "<u1":
		a.Uint8 = make([]uint8, n)
		data = a.Uint8
	default:
		return nil, fmt.Errorf("dtype %s not supported (want float32, float64, int64, int32 or uint8)", m[1])
	}
	if err := binary.Read(r, binary.LittleEndian, data); err != nil {
		return nil, fmt.Errorf("data of shape %v %s: %w", a.Shape, m[1], err)
	}
	return a, nil
}

// Write writes a to path atomically (a temporary file, then rename).
func Write(path string, a *Array) error {
	if a.len() != Numel(a.Shape) {
		return fmt.Errorf("npy: write %s: %d values for shape %v", path, a.len(), a.Shape)
	}
	var buf bytes.Buffer
	if err := Encode(&buf, a); err != nil {
		return fmt.Errorf("npy: write %s: %w", path, err)
	}
	return WriteFileAtomic(path, buf.Bytes())
}

// Encode writes a as a version 1.0 .npy stream.
func Encode(w io.Writer, a *Array) error {
	dims := make([]string, len(a.Shape))
	for i, s := range a.Shape {
		dims[i] = strconv.Itoa(s)
	}
	shape := strings.Join(dims, ", ")
	if len(dims) == 1 {
		shape += ","
	}
	hdr := fmt.Sprintf("{'descr': '%s', 'fortran_order': False, 'shape': (%s), }", a.DType(), shape)
	pad := 64 - (10+len(hdr)+1)%64
	hdr += strings.Repeat(" ", pad%64) + "\n"
	if len(hdr) > math.MaxUint16 {
		return fmt.Errorf("header too long")
	}
	if _, err := w.Write([]byte("\x93NUMPY\x01\x00")); err != nil {
		return err
	}
	if err := binary.Write(w, binary.LittleEndian, uint16(len(hdr))); err != nil {
		return err
	}
	if _, err := io.WriteString(w, hdr); err != nil {
		return err
	}
	var data any
	switch {
	case a.Float32 != nil:
		data = a.Float32
	case a.Float64 != nil:
		data = a.Float64
	case a.Int64 != nil:
		data = a.Int64
	case a.Int32 != nil:
		data = a.Int32
	default:
		data = a.Uint8
	}
	return binary.Write(w, binary.LittleEndian, data)
}

// WriteFileAtomic writes data to a temporary file beside path and renames
// it into place, so that readers never see a partial file.
func WriteFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	_, werr := tmp.Write(data)
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Chmod(tmp.Name(), 0o644) // CreateTemp makes it 0600
	}
	if werr == nil {
		werr = os.Rename(tmp.Name(), path)
	}
	if werr != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", path, werr)
	}
	return nil
}

// NonFinite says where a float array holds NaN or ±Inf: how many of each,
// and the index (one per dimension) of the first. Its zero value (Count 0)
// means every element is finite.
type NonFinite struct {
	NaN, Inf int
	First    []int // index of the first non-finite element
}

// Count returns the non-finite elements.
func (n NonFinite) Count() int { return n.NaN + n.Inf }

func (n NonFinite) String() string {
	var what []string
	if n.NaN > 0 {
		what = append(what, fmt.Sprintf("%d NaN", n.NaN))
	}
	if n.Inf > 0 {
		what = append(what, fmt.Sprintf("%d Inf", n.Inf))
	}
	idx := make([]string, len(n.First))
	for i, v := range n.First {
		idx[i] = strconv.Itoa(v)
	}
	return fmt.Sprintf("%s, first at [%s]", strings.Join(what, " and "), strings.Join(idx, ", "))
}

// NonFinite counts the NaN and ±Inf elements of a float32 or float64 array
// (integer arrays have none).
func (a *Array) NonFinite() NonFinite {
	var n NonFinite
	first := -1
	note := func(i int, v float64) {
		switch {
		case math.IsNaN(v):
			n.NaN++
		case math.IsInf(v, 0):
			n.Inf++
		default:
			return
		}
		if first < 0 {
			first = i
		}
	}
	for i, v := range a.Float32 {
		if v-v != 0 { // NaN or Inf: the common finite case costs one subtraction
			note(i, float64(v))
		}
	}
	for i, v := range a.Float64 {
		if v-v != 0 {
			note(i, v)
		}
	}
	if first >= 0 {
		n.First = make([]int, len(a.Shape))
		for d := len(a.Shape) - 1; d >= 0; d-- {
			if a.Shape[d] > 0 {
				n.First[d] = first % a.Shape[d]
				first /= a.Shape[d]
			}
		}
	}
	return n
}
