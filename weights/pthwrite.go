package weights

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/sugarme/gotch/ts"
)

// pthAlign is the alignment of tensor data inside the zip, as torch.save
// pads it (torch.load does not need it to read, but it maps aligned files
// with mmap=True).
const pthAlign = 64

// WritePth writes named tensors as a PyTorch checkpoint in torch.save's zip
// format, which torch.load reads and torchvision models' load_state_dict
// takes: archive/data.pkl (a pickle, protocol 2, of an OrderedDict of
// tensors rebuilt by torch._utils._rebuild_tensor_v2), one uncompressed
// record archive/data/<n> of raw little-endian storage bytes per tensor
// (64-byte aligned), archive/byteorder and archive/version. Tensors keep
// their dtype (F64, F32, F16, BF16, I64, I32, I16, I8, U8 or BOOL) and
// shape, 0-dimensional ones included; they are saved contiguous, as CPU
// tensors without requires_grad. The file is written atomically: a failed
// write leaves no file behind (and an existing file as it was).
// It must run on a torch worker thread (see torch.Do).
func WritePth(path string, tensors map[string]*ts.Tensor) error {
	fail := func(err error) error { return fmt.Errorf("weights: write %s: %w", path, err) }
	if len(tensors) == 0 {
		return fail(errors.New("no tensors"))
	}
	names := slices.Sorted(maps.Keys(tensors))
	type entry struct {
		name  string
		d     dtypeInfo
		shape []int64
		numel int64
	}
	entries := make([]entry, len(names))
	for i, name := range names {
		if !utf8.ValidString(name) {
			return fail(fmt.Errorf("tensor %q: the name is not valid UTF-8", name))
		}
		d, shape, err := tensorMeta(tensors[name])
		if err != nil {
			return fail(fmt.Errorf("tensor %q: %w", name, err))
		}
		numel, err := numelOf(shape, d.size)
		if err != nil {
			return fail(fmt.Errorf("tensor %q: %w", name, err))
		}
		entries[i] = entry{name, d, shape, numel}
	}

	var p pickler
	p.proto2()
	p.global("collections", "OrderedDict")
	p.op(opEmptyTuple, opReduce, opMark)
	for i, e := range entries {
		p.str(e.name)
		p.global("torch._utils", "_rebuild_tensor_v2")
		p.op(opMark)
		{ // persistent id ('storage', torch.<T>Storage, key, 'cpu', numel)
			p.op(opMark)
			p.str("storage")
			p.global("torch", e.d.storage)
			p.str(strconv.Itoa(i))
			p.str("cpu")
			p.int(e.numel)
			p.op(opTuple, opBinPersID)
		}
		p.int(0) // storage offset
		p.ints(e.shape)
		p.ints(contiguousStrides(e.shape))
		p.op(opNewFalse) // requires_grad
		p.global("collections", "OrderedDict")
		p.op(opEmptyTuple, opReduce) // backward hooks
		p.op(opTuple, opReduce)
	}
	p.op(opSetItems, opStop)

	err := WriteAtomic(path, func(w io.Writer) error {
		cw := &countingWriter{w: w}
		zw := zip.NewWriter(cw)
		add := func(name string, data []byte, align bool) error {
			var extra []byte
			if align {
				if err := zw.Flush(); err != nil {
					return err
				}
				// local header: 30 bytes + name + extra (4-byte field header + padding)
				start := cw.n + 30 + int64(len(name)) + 4
				pad := (pthAlign - start%pthAlign) % pthAlign
				extra = make([]byte, 4+pad)
				binary.LittleEndian.PutUint16(extra[0:], 0x4246) // "FB", as torch pads
				binary.LittleEndian.PutUint16(extra[2:], uint16(pad))
				for i := 4; i < len(extra); i++ {
					extra[i] = 'Z'
				}
			}
			fw, err := zw.CreateRaw(&zip.FileHeader{
				Name:               name,
				Method:             zip.Store,
				CreatorVersion:     20,
				ReaderVersion:      20,
				CRC32:              crc32.ChecksumIEEE(data),
				CompressedSize64:   uint64(len(data)),
				UncompressedSize64: uint64(len(data)),
				Extra:              extra,
			})
			if err != nil {
				return err
			}
			_, err = fw.Write(data)
			return err
		}
		if err := add("archive/data.pkl", p.b.Bytes(), false); err != nil {
			return err
		}
		for i, e := range entries {
			b, err := tensorBytes(tensors[e.name], e.d)
			if err != nil {
				return fmt.Errorf("tensor %q: %w", e.name, err)
			}
			if err := add("archive/data/"+strconv.Itoa(i), b, true); err != nil {
				return fmt.Errorf("tensor %q: %w", e.name, err)
			}
		}
		if err := add("archive/byteorder", []byte("little"), false); err != nil {
			return err
		}
		if err := add("archive/version", []byte("3\n"), false); err != nil {
			return err
		}
		return zw.Close()
	})
	if err != nil {
		return fail(err)
	}
	return nil
}

// contiguousStrides returns the row-major strides of a shape.
func contiguousStrides(shape []int64) []int64 {
	st := make([]int64, len(shape))
	acc := int64(1)
	for i := len(shape) - 1; i >= 0; i-- {
		st[i] = acc
		acc *= max(shape[i], 1)
	}
	return st
}

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n += int64(n)
	return n, err
}

// Pickle opcodes (protocol 2) that WritePth uses.
const (
	opMark       = '('
	opStop       = '.'
	opBinInt     = 'J'
	opBinInt1    = 'K'
	opBinInt2    = 'M'
	opBinPersID  = 'Q'
	opReduce     = 'R'
	opBinUnicode = 'X'
	opGlobal     = 'c'
	opTuple      = 't'
	opEmptyTuple = ')'
	opSetItems   = 'u'
	opProto      = 0x80
	opTuple1     = 0x85
	opNewFalse   = 0x89
	opLong1      = 0x8a
)

// pickler writes the few pickle constructs of a state dict.
type pickler struct{ b bytes.Buffer }

func (p *pickler) op(ops ...byte) { p.b.Write(ops) }

func (p *pickler) proto2() { p.op(opProto, 2) }

func (p *pickler) global(module, name string) {
	p.op(opGlobal)
	p.b.WriteString(module + "\n" + name + "\n")
}

func (p *pickler) str(s string) {
	var n [4]byte
	binary.LittleEndian.PutUint32(n[:], uint32(len(s)))
	p.op(opBinUnicode)
	p.b.Write(n[:])
	p.b.WriteString(s)
}

// int writes a non-negative integer in the shortest opcode.
func (p *pickler) int(v int64) {
	switch {
	case v >= 0 && v < 1<<8:
		p.op(opBinInt1, byte(v))
	case v >= 0 && v < 1<<16:
		p.op(opBinInt2, byte(v), byte(v>>8))
	case v >= math.MinInt32 && v <= math.MaxInt32:
		var b [4]byte
		binary.LittleEndian.PutUint32(b[:], uint32(int32(v)))
		p.op(opBinInt)
		p.b.Write(b[:])
	default: // LONG1: little-endian two's complement, shortest form
		var b [8]byte
		binary.LittleEndian.PutUint64(b[:], uint64(v))
		n := 8
		for n > 1 && ((b[n-1] == 0 && b[n-2]&0x80 == 0) || (b[n-1] == 0xff && b[n-2]&0x80 != 0)) {
			n--
		}
		p.op(opLong1, byte(n))
		p.b.Write(b[:n])
	}
}

// ints writes a tuple of integers.
func (p *pickler) ints(vs []int64) {
	if len(vs) == 0 {
		p.op(opEmptyTuple)
		return
	}
	if len(vs) <= 3 {
		for _, v := range vs {
			p.int(v)
		}
		p.op(opTuple1 + byte(len(vs)-1))
		return
	}
	p.op(opMark)
	for _, v := range vs {
		p.int(v)
	}
	p.op(opTuple)
}
