package weights

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/sugarme/gotch/ts"
)

// maxSafetensorsHeader bounds the JSON header, as the reference reader does.
const maxSafetensorsHeader = 100 << 20

// safetensorsMetadataKey is the header entry that holds string metadata.
const safetensorsMetadataKey = "__metadata__"

// stTensor is one tensor entry of a safetensors header.
type stTensor struct {
	Name       string
	DType      dtypeInfo
	Shape      []int64
	Begin, End int64 // byte range in the data section
}

// stHeader is a parsed and validated safetensors header.
type stHeader struct {
	Tensors   []stTensor // sorted by name
	Metadata  map[string]string
	DataStart int64 // file offset of the data section
}

// stKnownUnsupported are safetensors dtypes that gtl knows but libtorch's
// Go binding cannot make tensors of.
var stKnownUnsupported = map[string]bool{
	"U16": true, "U32": true, "U64": true, "C64": true,
	"F8_E4M3": true, "F8_E5M2": true, "F8_E8M0": true, "F6_E2M3": true, "F6_E3M2": true, "F4": true,
}

// parseSafetensorsHeader reads and validates the header of a safetensors
// file of the given size: the 8-byte little-endian header length, the JSON
// header, and every tensor's dtype, shape and byte range (inside the data
// section, not overlapping another, as long as shape × dtype size). It
// touches no tensor. Errors name the file (name) and the tensor.
func parseSafetensorsHeader(name string, r io.ReaderAt, size int64) (*stHeader, error) {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("weights: read %s: "+format, append([]any{name}, args...)...)
	}
	if size < 8 {
		return nil, fail("truncated: %d bytes, a safetensors file starts with an 8-byte header length", size)
	}
	var lenBuf [8]byte
	if _, err := r.ReadAt(lenBuf[:], 0); err != nil {
		return nil, fail("%v", err)
	}
	n := binary.LittleEndian.Uint64(lenBuf[:])
	if n > uint64(size-8) {
		return nil, fail("safetensors header length %d goes beyond the end of the file (%d bytes; truncated?)", n, size)
	}
	if n > maxSafetensorsHeader {
		return nil, fail("safetensors header length %d is over the %d-byte limit", n, maxSafetensorsHeader)
	}
	if n < 2 {
		return nil, fail("safetensors header of %d bytes is too short for JSON", n)
	}
	raw := make([]byte, n)
	if _, err := r.ReadAt(raw, 8); err != nil {
		return nil, fail("%v", err)
	}
	h := &stHeader{DataStart: 8 + int64(n)}
	dataLen := size - h.DataStart

	dec := json.NewDecoder(bytes.NewReader(raw))
	tok, err := dec.Token()
	if err != nil {
		return nil, fail("safetensors header is not JSON: %v", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, fail("safetensors header is not a JSON object")
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fail("safetensors header is not JSON: %v", err)
		}
		key := tok.(string) // object keys are strings
		if seen[key] {
			return nil, fail("safetensors header lists %q twice", key)
		}
		seen[key] = true
		var val json.RawMessage
		if err := dec.Decode(&val); err != nil {
			return nil, fail("safetensors header is not JSON: %v", err)
		}
		if key == safetensorsMetadataKey {
			if err := json.Unmarshal(val, &h.Metadata); err != nil {
				return nil, fail("safetensors %s must map strings to strings: %v", safetensorsMetadataKey, err)
			}
			continue
		}
		t, err := parseSafetensorsEntry(key, val, dataLen)
		if err != nil {
			return nil, fail("tensor %q: %v", key, err)
		}
		h.Tensors = append(h.Tensors, t)
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return nil, fail("safetensors header is not JSON: %v", err)
	}
	if rest := raw[dec.InputOffset():]; len(bytes.TrimRight(rest, " \t\r\n\x00")) > 0 {
		return nil, fail("safetensors header has %d bytes after its JSON object", len(rest))
	}

	// Byte ranges must not overlap (empty tensors occupy none).
	byOffset := make([]stTensor, 0, len(h.Tensors))
	for _, t := range h.Tensors {
		if t.End > t.Begin {
			byOffset = append(byOffset, t)
		}
	}
	sort.Slice(byOffset, func(i, j int) bool { return byOffset[i].Begin < byOffset[j].Begin })
	for i := 1; i < len(byOffset); i++ {
		a, b := byOffset[i-1], byOffset[i]
		if b.Begin < a.End {
			return nil, fail("tensor %q: data_offsets [%d, %d] overlap those of tensor %q [%d, %d]", b.Name, b.Begin, b.End, a.Name, a.Begin, a.End)
		}
	}
	sort.Slice(h.Tensors, func(i, j int) bool { return h.Tensors[i].Name < h.Tensors[j].Name })
	return h, nil
}

// parseSafetensorsEntry checks one tensor entry of a header against a data
// section of dataLen bytes.
func parseSafetensorsEntry(name string, val json.RawMessage, dataLen int64) (stTensor, error) {
	var e struct {
		DType   *string  `json:"dtype"`
		Shape   *[]int64 `json:"shape"`
		Offsets *[]int64 `json:"data_offsets"`
	}
	dec := json.NewDecoder(bytes.NewReader(val))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		return stTensor{}, fmt.Errorf("bad header entry: %v", err)
	}
	switch {
	case e.DType == nil:
		return stTensor{}, errors.New("no dtype")
	case e.Shape == nil:
		return stTensor{}, errors.New("no shape")
	case e.Offsets == nil:
		return stTensor{}, errors.New("no data_offsets")
	case len(*e.Offsets) != 2:
		return stTensor{}, fmt.Errorf("data_offsets %v: want [begin, end]", *e.Offsets)
	}
	t := stTensor{Name: name, Shape: *e.Shape, Begin: (*e.Offsets)[0], End: (*e.Offsets)[1]}
	if t.Shape == nil {
		t.Shape = []int64{}
	}
	found := false
	for _, d := range dtypeTable {
		if d.st == *e.DType {
			t.DType, found = d, true
		}
	}
	if !found {
		if stKnownUnsupported[*e.DType] {
			return t, fmt.Errorf("dtype %s is not supported (libtorch's Go binding has no such tensor type)", *e.DType)
		}
		return t, fmt.Errorf("unknown dtype %q", *e.DType)
	}
	numel, err := numelOf(t.Shape, t.DType.size)
	if err != nil {
		return t, err
	}
	if t.Begin < 0 || t.End < t.Begin {
		return t, fmt.Errorf("data_offsets [%d, %d] are not a byte range", t.Begin, t.End)
	}
	if t.End > dataLen {
		return t, fmt.Errorf("data_offsets [%d, %d] go beyond the data section of %d bytes (truncated file?)", t.Begin, t.End, dataLen)
	}
	if want := numel * int64(t.DType.size); t.End-t.Begin != want {
		return t, fmt.Errorf("shape %v of %s needs %d bytes, data_offsets [%d, %d] hold %d", t.Shape, t.DType.st, want, t.Begin, t.End, t.End-t.Begin)
	}
	return t, nil
}

// ReadSafetensors reads a safetensors file: its tensors (onto the CPU, with
// their dtype: F64, F32, F16, BF16, I64, I32, I16, I8, U8 or BOOL) and its
// string metadata (nil when the file has none). The header is validated
// before any tensor is made. The caller owns the returned tensors (see
// DropAll).
// It must run on a torch worker thread (see torch.Do).
func ReadSafetensors(path string) (map[string]*ts.Tensor, map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("weights: read: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, nil, fmt.Errorf("weights: read %s: %w", path, err)
	}
	h, err := parseSafetensorsHeader(path, f, st.Size())
	if err != nil {
		return nil, nil, err
	}
	out := make(map[string]*ts.Tensor, len(h.Tensors))
	for _, e := range h.Tensors {
		t, err := newTensorFilled(e.DType, e.Shape, func(b []byte) error {
			_, err := f.ReadAt(b, h.DataStart+e.Begin)
			return err
		})
		if err != nil {
			DropAll(out)
			return nil, nil, fmt.Errorf("weights: read %s: tensor %q: %w", path, e.Name, err)
		}
		out[e.Name] = t
	}
	return out, h.Metadata, nil
}

// WriteSafetensors writes tensors (any device; dtypes as ReadSafetensors
// reads them) and optional string metadata as a safetensors file: tensors
// in name order, stored contiguous and little-endian, the header padded with
// spaces to a multiple of 8 bytes. The file is written atomically: a failed
// write leaves no file behind (and an existing file as it was).
// It must run on a torch worker thread (see torch.Do).
func WriteSafetensors(path string, tensors map[string]*ts.Tensor, metadata map[string]string) error {
	fail := func(err error) error { return fmt.Errorf("weights: write %s: %w", path, err) }
	names := slices.Sorted(maps.Keys(tensors))
	type entry struct {
		name  string
		d     dtypeInfo
		shape []int64
		begin int64
		end   int64
	}
	entries := make([]entry, 0, len(names))
	var offset int64
	for _, name := range names {
		if !utf8.ValidString(name) {
			return fail(fmt.Errorf("tensor %q: the name is not valid UTF-8", name))
		}
		if name == safetensorsMetadataKey {
			return fail(fmt.Errorf("tensor %q: the name is reserved for metadata", name))
		}
		d, shape, err := tensorMeta(tensors[name])
		if err != nil {
			return fail(fmt.Errorf("tensor %q: %w", name, err))
		}
		numel, err := numelOf(shape, d.size)
		if err != nil {
			return fail(fmt.Errorf("tensor %q: %w", name, err))
		}
		n := numel * int64(d.size)
		entries = append(entries, entry{name, d, shape, offset, offset + n})
		offset += n
	}

	var hb bytes.Buffer
	hb.WriteByte('{')
	sep := ""
	writeKey := func(k string) {
		kb, _ := json.Marshal(k)
		hb.WriteString(sep)
		hb.Write(kb)
		hb.WriteByte(':')
		sep = ","
	}
	for k, v := range metadata {
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			return fail(fmt.Errorf("metadata %q: not valid UTF-8", k))
		}
	}
	if len(metadata) > 0 {
		mb, err := json.Marshal(metadata) // keys sorted
		if err != nil {
			return fail(err)
		}
		writeKey(safetensorsMetadataKey)
		hb.Write(mb)
	}
	for _, e := range entries {
		writeKey(e.name)
		dims := make([]string, len(e.shape))
		for i, s := range e.shape {
			dims[i] = fmt.Sprint(s)
		}
		fmt.Fprintf(&hb, `{"dtype":%q,"shape":[%s],"data_offsets":[%d,%d]}`, e.d.st, strings.Join(dims, ","), e.begin, e.end)
	}
	hb.WriteByte('}')
	for hb.Len()%8 != 0 {
		hb.WriteByte(' ')
	}

	err := WriteAtomic(path, func(w io.Writer) error {
		var lenBuf [8]byte
		binary.LittleEndian.PutUint64(lenBuf[:], uint64(hb.Len()))
		if _, err := w.Write(lenBuf[:]); err != nil {
			return err
		}
		if _, err := w.Write(hb.Bytes()); err != nil {
			return err
		}
		for _, e := range entries {
			b, err := tensorBytes(tensors[e.name], e.d)
			if err != nil {
				return fmt.Errorf("tensor %q: %w", e.name, err)
			}
			if int64(len(b)) != e.end-e.begin {
				return fmt.Errorf("tensor %q: %d bytes, want %d", e.name, len(b), e.end-e.begin)
			}
			if _, err := w.Write(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fail(err)
	}
	return nil
}
