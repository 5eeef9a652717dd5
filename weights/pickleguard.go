package weights

import (
	"archive/zip"
	"bufio"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"
)

// PickleAllowed lists the globals (module.name) a .pth file's pickle may
// name: what torch.save writes for a state dict (tensor and parameter
// rebuild functions, typed storages, OrderedDict) and the safe builtins a
// protocol-2 pickle of plain Python values uses (Lightning checkpoints keep
// epochs, hyper-parameters and optimizer states beside the weights). The
// list follows torch.load(weights_only=True)'s (torch/_weights_only_unpickler.py,
// torch 1.13), less the sparse, quantized and meta tensors gtl cannot load.
// Any other global (os.system, builtins.eval, subprocess.Popen, a model
// class of a pickled module) is refused before anything is constructed.
var PickleAllowed = map[string]bool{
	"collections.OrderedDict":                    true,
	"torch._utils._rebuild_tensor":               true,
	"torch._utils._rebuild_tensor_v2":            true,
	"torch._utils._rebuild_parameter":            true,
	"torch._utils._rebuild_parameter_with_state": true,
	"torch.nn.parameter.Parameter":               true,
	"torch.Size":                                 true,
	"torch.DoubleStorage":                        true,
	"torch.FloatStorage":                         true,
	"torch.HalfStorage":                          true,
	"torch.BFloat16Storage":                      true,
	"torch.LongStorage":                          true,
	"torch.IntStorage":                           true,
	"torch.ShortStorage":                         true,
	"torch.CharStorage":                          true,
	"torch.ByteStorage":                          true,
	"torch.BoolStorage":                          true,
	"_codecs.encode":                             true, // bytes values in protocol 2
	"builtins.set":                               true,
	"builtins.frozenset":                         true,
	"builtins.bytearray":                         true,
	"__builtin__.set":                            true, // protocol 2's names for the same
	"__builtin__.frozenset":                      true,
	"__builtin__.bytearray":                      true,
}

// storageElemSize is the element size of each storage class.
var storageElemSize = map[string]int64{
	"torch.DoubleStorage": 8, "torch.FloatStorage": 4, "torch.HalfStorage": 2, "torch.BFloat16Storage": 2,
	"torch.LongStorage": 8, "torch.IntStorage": 4, "torch.ShortStorage": 2, "torch.CharStorage": 1,
	"torch.ByteStorage": 1, "torch.BoolStorage": 1,
}

// checkPthPickle vets the pickles of a torch.save file before gotch's
// unpickler sees them: every opcode well formed, every length field backed
// by bytes that are there, every global on PickleAllowed, and every storage
// no larger than the data the file holds for it. Files that are neither
// zip nor legacy pickles are left to checkPthHead to describe.
func checkPthPickle(name string) error {
	fail := func(err error) error { return pthCheckError(name, err) }
	f, err := os.Open(name)
	if err != nil {
		return fail(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fail(err)
	}
	var head [4]byte
	n, _ := io.ReadFull(f, head[:])
	switch {
	case n == 4 && string(head[:]) == "PK\x03\x04":
		zr, err := zip.NewReader(f, st.Size())
		if err != nil {
			return nil // checkPthHead says what is wrong
		}
		return checkZipPickle(name, zr, st.Size())
	case n >= 2 && head[0] == 0x80:
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return fail(err)
		}
		// A legacy file: five pickles (magic number, protocol, system
		// info, the object, the storage keys), then the storages.
		r := bufio.NewReader(f)
		for i := range 5 {
			res, err := scanPickle(r)
			if err != nil {
				var refused *PickleRefusedError
				if errors.As(err, &refused) {
					return fail(err)
				}
				return fail(fmt.Errorf("not a PyTorch checkpoint: pickle %d of 5: %w", i+1, err))
			}
			for key, s := range res.storages {
				if s.bytes > st.Size() {
					return fail(fmt.Errorf("storage %q claims %d bytes, more than the whole file (%d)", key, s.bytes, st.Size()))
				}
			}
		}
	}
	return nil
}

// checkZipPickle vets data.pkl of a torch.save zip archive and checks each
// storage against its record.
func checkZipPickle(name string, zr *zip.Reader, size int64) error {
	fail := func(err error) error { return pthCheckError(name, err) }
	records := map[string]*zip.File{} // by base name, as gotch looks them up
	for _, zf := range zr.File {
		_, base := path.Split(zf.Name)
		records[base] = zf
	}
	data := records["data.pkl"]
	if data == nil {
		return nil // checkPthHead and gotch describe it
	}
	rc, err := data.Open()
	if err != nil {
		return fail(fmt.Errorf("%s: %w", data.Name, err))
	}
	defer rc.Close()
	res, err := scanPickle(bufio.NewReader(rc))
	if err != nil {
		var refused *PickleRefusedError
		if errors.As(err, &refused) {
			return fail(err)
		}
		return fail(fmt.Errorf("not a PyTorch checkpoint: %s: %w", data.Name, err))
	}
	for key, s := range res.storages {
		zf := records[key]
		if zf == nil {
			return fail(fmt.Errorf("storage %q has no record in the archive", key))
		}
		// A stored record's size is bounded by the file's; a compressed
		// one by deflate's largest ratio (1032:1).
		limit := int64(zf.CompressedSize64)
		if zf.Method != zip.Store {
			limit *= 1032
		}
		if int64(zf.CompressedSize64) > size || s.bytes > limit || uint64(s.bytes) > zf.UncompressedSize64 {
			return fail(fmt.Errorf("storage %q claims %d bytes, its record %s holds %d", key, s.bytes, zf.Name, zf.UncompressedSize64))
		}
	}
	return nil
}

// pthCheckError names the file in an error of checkPthPickle; a refused
// model class gets pickledModuleError's advice (it is refused all the same).
func pthCheckError(name string, err error) error {
	var refused *PickleRefusedError
	if errors.As(err, &refused) && isModelClass(refused.Global) {
		return pickledModuleError(name, refused.Global)
	}
	return fmt.Errorf("weights: read %s: %w", name, err)
}

// isModelClass reports whether a refused global is a model class of
// torchvision, torch.nn or a training script (torch.save(model)).
func isModelClass(global string) bool {
	for _, p := range []string{"torchvision.", "torch.nn.", "__main__."} {
		if strings.HasPrefix(global, p) {
			return true
		}
	}
	return false
}

// PickleRefusedError is the error for a pickle naming a global that is not
// on PickleAllowed.
type PickleRefusedError struct{ Global string }

func (e *PickleRefusedError) Error() string {
	return fmt.Sprintf("refusing to load: the pickle names %s, which a tensor state dict does not use (a pickled program or model object?)", e.Global)
}

// Pickle opcodes (Python's Lib/pickle.py).
const (
	pkMark, pkStop, pkPop, pkPopMark, pkDup                    = '(', '.', '0', '1', '2'
	pkFloat, pkInt, pkBinInt, pkBinInt1, pkLong, pkBinInt2     = 'F', 'I', 'J', 'K', 'L', 'M'
	pkNone, pkPersID, pkBinPersID, pkReduce                    = 'N', 'P', 'Q', 'R'
	pkString, pkBinString, pkShortBinString                    = 'S', 'T', 'U'
	pkUnicode, pkBinUnicode, pkAppend, pkBuild, pkGlobal       = 'V', 'X', 'a', 'b', 'c'
	pkDict, pkEmptyDict, pkAppends, pkGet, pkBinGet, pkInst    = 'd', '}', 'e', 'g', 'h', 'i'
	pkLongBinGet, pkList, pkEmptyList, pkObj, pkPut, pkBinPut  = 'j', 'l', ']', 'o', 'p', 'q'
	pkLongBinPut, pkSetItem, pkTuple, pkEmptyTuple, pkSetItems = 'r', 's', 't', ')', 'u'
	pkBinFloat, pkBinBytes, pkShortBinBytes                    = 'G', 'B', 'C'
	pkProto, pkNewObj, pkExt1, pkExt2, pkExt4                  = 0x80, 0x81, 0x82, 0x83, 0x84
	pkTuple1, pkTuple2, pkTuple3, pkNewTrue, pkNewFalse        = 0x85, 0x86, 0x87, 0x88, 0x89
	pkLong1, pkLong4, pkShortBinUnicode, pkBinUnicode8         = 0x8a, 0x8b, 0x8c, 0x8d
	pkBinBytes8, pkEmptySet, pkAddItems, pkFrozenSet           = 0x8e, 0x8f, 0x90, 0x91
	pkNewObjEx, pkStackGlobal, pkMemoize, pkFrame              = 0x92, 0x93, 0x94, 0x95
	pkByteArray8, pkNextBuffer, pkReadOnlyBuffer               = 0x96, 0x97, 0x98
)

// pv is what the scanner knows of a value on the pickle stack: a string,
// an int, a global, a tuple of those, or nothing (other).
type pv struct {
	kind  byte // 's' string, 'i' int, 'g' global, 't' tuple, 'm' mark, 0 other
	s     string
	i     int64
	items []pv
}

type scanResult struct {
	globals  []string
	storages map[string]storageRef // by key
}

type storageRef struct {
	class string
	bytes int64
}

// maxPickleString bounds the strings the scanner keeps (longer ones are
// skipped, not kept); maxPickleLine bounds a text-opcode line.
const (
	maxPickleString = 1 << 16
	maxPickleLine   = 1 << 16
)

// scanPickle walks one pickle (up to and including STOP) without building
// anything. It refuses globals not on PickleAllowed, extension codes,
// malformed or truncated streams and length fields that the stream does
// not back, and collects the storages named by persistent ids.
func scanPickle(r *bufio.Reader) (*scanResult, error) {
	res := &scanResult{storages: map[string]storageRef{}}
	var stack []pv
	memo := map[int64]pv{}
	var pos, frameEnd int64
	read := func(n int64) ([]byte, error) { // n ≤ maxPickleString
		b := make([]byte, n)
		_, err := io.ReadFull(r, b)
		pos += n
		return b, err
	}
	skip := func(n int64) error {
		got, err := io.CopyN(io.Discard, r, n)
		pos += got
		return err
	}
	u := func(n int64) (uint64, error) {
		b, err := read(n)
		if err != nil {
			return 0, err
		}
		var v uint64
		for i := n - 1; i >= 0; i-- {
			v = v<<8 | uint64(b[i])
		}
		return v, nil
	}
	line := func() (string, error) {
		var b []byte
		for {
			c, err := r.ReadByte()
			if err != nil {
				return "", err
			}
			pos++
			if c == '\n' {
				return string(b), nil
			}
			if len(b) >= maxPickleLine {
				return "", fmt.Errorf("line of over %d bytes", maxPickleLine)
			}
			b = append(b, c)
		}
	}
	pop := func(n int) ([]pv, error) {
		if len(stack) < n {
			return nil, errors.New("stack underflow")
		}
		out := stack[len(stack)-n:]
		for _, v := range out {
			if v.kind == 'm' {
				return nil, errors.New("mark where an object belongs")
			}
		}
		stack = stack[:len(stack)-n]
		return out, nil
	}
	popMark := func() ([]pv, error) {
		for i := len(stack) - 1; i >= 0; i-- {
			if stack[i].kind == 'm' {
				out := append([]pv(nil), stack[i+1:]...)
				stack = stack[:i]
				return out, nil
			}
		}
		return nil, errors.New("no mark on the stack")
	}
	push := func(v pv) { stack = append(stack, v) }
	str := func(n int64) error {
		if n > maxPickleString {
			if err := skip(n); err != nil {
				return err
			}
			push(pv{})
			return nil
		}
		b, err := read(n)
		if err != nil {
			return err
		}
		push(pv{kind: 's', s: string(b)})
		return nil
	}
	global := func(module, name string) error {
		g := module + "." + name
		if !PickleAllowed[g] {
			return &PickleRefusedError{g}
		}
		res.globals = append(res.globals, g)
		push(pv{kind: 'g', s: g})
		return nil
	}
	persistentID := func(id pv) {
		// torch.save: ('storage', class, key, location, numel[, view]).
		if id.kind != 't' || len(id.items) < 5 || id.items[0].s != "storage" {
			return
		}
		class, key, numel := id.items[1], id.items[2], id.items[4]
		if class.kind != 'g' || key.kind != 's' || numel.kind != 'i' {
			return
		}
		elem := storageElemSize[class.s]
		if elem == 0 || numel.i < 0 || numel.i > 1<<56 {
			res.storages[key.s] = storageRef{class.s, 1 << 62}
			return
		}
		res.storages[key.s] = storageRef{class.s, numel.i * elem}
	}
	for {
		op, err := r.ReadByte()
		if err != nil {
			return nil, truncated(err, pos)
		}
		pos++
		if err := func() error {
			switch op {
			case pkMark:
				push(pv{kind: 'm'})
			case pkStop:
				return nil
			case pkPop:
				if len(stack) == 0 {
					return errors.New("stack underflow")
				}
				stack = stack[:len(stack)-1]
			case pkPopMark:
				_, err := popMark()
				return err
			case pkDup:
				if len(stack) == 0 {
					return errors.New("stack underflow")
				}
				push(stack[len(stack)-1])
			case pkFloat, pkLong:
				_, err := line()
				push(pv{})
				return err
			case pkInt:
				l, err := line()
				if err != nil {
					return err
				}
				v, perr := strconv.ParseInt(strings.TrimSpace(l), 10, 64)
				if perr != nil {
					push(pv{})
				} else {
					push(pv{kind: 'i', i: v})
				}
			case pkBinInt:
				v, err := u(4)
				push(pv{kind: 'i', i: int64(int32(uint32(v)))})
				return err
			case pkBinInt1:
				v, err := u(1)
				push(pv{kind: 'i', i: int64(v)})
				return err
			case pkBinInt2:
				v, err := u(2)
				push(pv{kind: 'i', i: int64(v)})
				return err
			case pkLong1, pkLong4:
				w := int64(1)
				if op == pkLong4 {
					w = 4
				}
				n, err := u(w)
				if err != nil {
					return err
				}
				if n > maxPickleString {
					push(pv{})
					return skip(int64(n))
				}
				b, err := read(int64(n))
				if err != nil {
					return err
				}
				push(longValue(b))
			case pkNone, pkNewTrue, pkNewFalse, pkEmptyDict, pkEmptyList, pkEmptyTuple, pkEmptySet, pkNextBuffer:
				push(pv{})
			case pkBinFloat:
				push(pv{})
				return skip(8)
			case pkPersID:
				_, err := line()
				push(pv{})
				return err
			case pkBinPersID:
				v, err := pop(1)
				if err != nil {
					return err
				}
				persistentID(v[0])
				push(pv{})
			case pkReduce, pkNewObj:
				if _, err := pop(2); err != nil {
					return err
				}
				push(pv{})
			case pkNewObjEx:
				if _, err := pop(3); err != nil {
					return err
				}
				push(pv{})
			case pkString, pkUnicode:
				l, err := line()
				if err != nil {
					return err
				}
				push(pv{kind: 's', s: strings.Trim(l, `'"`)})
			case pkBinString, pkBinUnicode, pkBinBytes:
				n, err := u(4)
				if err != nil {
					return err
				}
				return str(int64(n))
			case pkShortBinString, pkShortBinBytes, pkShortBinUnicode:
				n, err := u(1)
				if err != nil {
					return err
				}
				return str(int64(n))
			case pkBinUnicode8, pkBinBytes8, pkByteArray8:
				n, err := u(8)
				if err != nil {
					return err
				}
				if n > 1<<62 {
					return fmt.Errorf("length field %d", n)
				}
				return str(int64(n))
			case pkAppend, pkBuild:
				_, err := pop(1)
				return err
			case pkSetItem:
				_, err := pop(2)
				return err
			case pkAppends, pkSetItems, pkAddItems:
				_, err := popMark()
				return err
			case pkDict, pkList, pkFrozenSet, pkObj:
				_, err := popMark()
				push(pv{})
				return err
			case pkTuple:
				items, err := popMark()
				push(pv{kind: 't', items: items})
				return err
			case pkTuple1, pkTuple2, pkTuple3:
				items, err := pop(int(op - pkTuple1 + 1))
				push(pv{kind: 't', items: append([]pv(nil), items...)})
				return err
			case pkGlobal, pkInst:
				module, err := line()
				if err != nil {
					return err
				}
				name, err := line()
				if err != nil {
					return err
				}
				if err := global(module, name); err != nil {
					return err
				}
				if op == pkInst {
					stack = stack[:len(stack)-1]
					if _, err := popMark(); err != nil {
						return err
					}
					push(pv{})
				}
			case pkStackGlobal:
				v, err := pop(2)
				if err != nil {
					return err
				}
				if v[0].kind != 's' || v[1].kind != 's' {
					return errors.New("STACK_GLOBAL of a non-string")
				}
				return global(v[0].s, v[1].s)
			case pkGet, pkBinGet, pkLongBinGet:
				var idx int64
				switch op {
				case pkGet:
					l, err := line()
					if err != nil {
						return err
					}
					if idx, err = strconv.ParseInt(l, 10, 64); err != nil {
						return fmt.Errorf("memo index %q", l)
					}
				case pkBinGet:
					v, err := u(1)
					if err != nil {
						return err
					}
					idx = int64(v)
				default:
					v, err := u(4)
					if err != nil {
						return err
					}
					idx = int64(v)
				}
				v, ok := memo[idx]
				if !ok {
					return fmt.Errorf("memo entry %d was never stored", idx)
				}
				push(v)
			case pkPut, pkBinPut, pkLongBinPut, pkMemoize:
				idx := int64(len(memo))
				switch op {
				case pkPut:
					l, err := line()
					if err != nil {
						return err
					}
					if idx, err = strconv.ParseInt(l, 10, 64); err != nil {
						return fmt.Errorf("memo index %q", l)
					}
				case pkBinPut:
					v, err := u(1)
					if err != nil {
						return err
					}
					idx = int64(v)
				case pkLongBinPut:
					v, err := u(4)
					if err != nil {
						return err
					}
					idx = int64(v)
				}
				if len(stack) == 0 || stack[len(stack)-1].kind == 'm' {
					return errors.New("memo store of an empty stack")
				}
				memo[idx] = stack[len(stack)-1]
			case pkProto:
				v, err := u(1)
				if err == nil && v > 5 {
					return fmt.Errorf("pickle protocol %d", v)
				}
				return err
			case pkFrame:
				n, err := u(8)
				if err != nil {
					return err
				}
				if n > 1<<62 {
					return fmt.Errorf("frame length %d", n)
				}
				frameEnd = pos + int64(n)
			case pkReadOnlyBuffer:
				_, err := pop(1)
				push(pv{})
				return err
			case pkExt1, pkExt2, pkExt4:
				return errors.New("refusing to load: the pickle uses the copyreg extension registry")
			default:
				return fmt.Errorf("unknown opcode %#02x", op)
			}
			return nil
		}(); err != nil {
			var refused *PickleRefusedError
			if errors.As(err, &refused) {
				return nil, err
			}
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return nil, truncated(err, pos)
			}
			return nil, fmt.Errorf("corrupt pickle at byte %d (opcode %#02x): %w", pos, op, err)
		}
		if op == pkStop {
			if frameEnd > pos {
				return nil, fmt.Errorf("corrupt pickle: a frame claims %d bytes past its end", frameEnd-pos)
			}
			if len(stack) != 1 {
				return nil, fmt.Errorf("corrupt pickle: %d values on the stack at its end, want 1", len(stack))
			}
			sort.Strings(res.globals)
			return res, nil
		}
	}
}

// longValue reads a LONG1/LONG4 payload (little-endian two's complement).
func longValue(b []byte) pv {
	if len(b) > 8 {
		return pv{}
	}
	var be []byte
	for i := len(b) - 1; i >= 0; i-- {
		be = append(be, b[i])
	}
	v := new(big.Int).SetBytes(be)
	if len(b) > 0 && b[len(b)-1]&0x80 != 0 {
		v.Sub(v, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
	}
	if !v.IsInt64() {
		return pv{}
	}
	return pv{kind: 'i', i: v.Int64()}
}

// truncated names an end of data as a truncated pickle.
func truncated(err error, pos int64) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("truncated pickle: it ends at byte %d: %w", pos, io.ErrUnexpectedEOF)
	}
	return err
}

// pickleBuiltin returns the stand-in gtl's unpickler uses for an allowed
// builtin that gotch's pickle package does not know (sets, bytes and
// bytearrays of a checkpoint's plain Python values), or nil. The values
// are kept as plain Go slices: gtl reads only tensors from them.
func pickleBuiltin(module, name string) any {
	switch module + "." + name {
	case "builtins.set", "builtins.frozenset", "builtins.bytearray", "__builtin__.set", "__builtin__.frozenset", "__builtin__.bytearray", "_codecs.encode":
		return plainValue{}
	}
	return nil
}

// plainValue is a callable whose result is its first argument (or nil):
// enough to rebuild a set, frozenset, bytearray or bytes value that gtl
// then ignores.
type plainValue struct{}

func (plainValue) Call(args ...any) (any, error) {
	if len(args) == 0 {
		return nil, nil
	}
	return args[0], nil
}
