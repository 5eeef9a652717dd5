package vision

import (
	"archive/zip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"reflect"
	"strings"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/pickle"
	"github.com/sugarme/gotch/ts"
)

// ReadPth reads the tensors of a PyTorch checkpoint written by torch.save:
// a state dict (zip or legacy format), also when wrapped as
// {"state_dict": ...} or {"model": ...}, and with DataParallel's "module."
// prefix removed. The caller owns the returned tensors (see DropAll).
//
// A corrupt or truncated file is an error, never a panic: gotch's pickle
// code panics on some inputs, and ReadPth turns those panics into errors.
func ReadPth(path string) (out map[string]*ts.Tensor, err error) {
	defer func() {
		if r := recover(); r != nil {
			DropAll(out)
			out, err = nil, fmt.Errorf("vision: read %s: corrupt or unsupported PyTorch checkpoint: %v", path, r)
		}
	}()
	if err := checkPthPickle(path); err != nil {
		return nil, err
	}
	if err := checkPthHead(path); err != nil {
		return nil, err
	}
	obj, err := pickle.LoadWithUnpickler(path, newPthUnpickler)
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("vision: read %s: truncated PyTorch checkpoint: %w", path, err)
		}
		return nil, fmt.Errorf("vision: read %s: not a PyTorch checkpoint: %w", path, err)
	}
	entries, err := stateDictEntries(obj)
	if err != nil {
		return nil, fmt.Errorf("vision: read %s: %w", path, err)
	}
	out = make(map[string]*ts.Tensor, len(entries))
	for _, e := range entries {
		t, err := storageToTensor(e.value)
		if err != nil {
			DropAll(out)
			return nil, fmt.Errorf("vision: read %s: tensor %q: %v", path, e.key, oneLine(err))
		}
		out[strings.TrimPrefix(e.key, "module.")] = t
	}
	return out, nil
}

// checkPthHead checks that a file starts as torch.save's zip or legacy
// format before gotch's pickle code sees it (it loops forever on some
// other inputs), and that a zip archive is complete.
func checkPthHead(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("vision: read: %w", err)
	}
	defer f.Close()
	var head [4]byte
	n, _ := io.ReadFull(f, head[:])
	switch {
	case n == 4 && string(head[:]) == "PK\x03\x04":
		st, err := f.Stat()
		if err != nil {
			return fmt.Errorf("vision: read %s: %w", path, err)
		}
		if _, err := zip.NewReader(f, st.Size()); err != nil {
			return fmt.Errorf("vision: read %s: truncated or corrupt zip archive (%d bytes): %v", path, st.Size(), err)
		}
		return nil
	case n >= 2 && head[0] == 0x80 && head[1] >= 2 && head[1] <= 5:
		st, err := f.Stat()
		if err != nil {
			return fmt.Errorf("vision: read %s: %w", path, err)
		}
		// gotch's reader takes a short last read of the storages for a
		// complete one: check the length first.
		if end, err := legacyPthEnd(f); err == nil && end > st.Size() {
			return fmt.Errorf("vision: read %s: truncated PyTorch checkpoint: %d bytes, its tensor data ends at byte %d", path, st.Size(), end)
		}
		return nil
	case n == 0:
		return fmt.Errorf("vision: read %s: empty file", path)
	}
	return fmt.Errorf("vision: read %s: not a PyTorch checkpoint: starts with % x", path, head[:n])
}

// legacyPthEnd returns where the tensor data of a legacy torch.save file
// ends. The format is five pickles (magic number, protocol, system info, the
// object, the storage keys) and then, per key, an 8-byte element count and
// the elements. An error means the walk cannot tell (the load itself then
// reports what is wrong); a data header beyond the end of the file gives an
// end past it.
func legacyPthEnd(f *os.File) (int64, error) {
	cr := &countingReader{r: io.NewSectionReader(f, 0, math.MaxInt64)}
	for range 3 { // magic number, protocol version, system info
		u := pickle.NewUnpickler(cr)
		if _, err := u.Load(); err != nil {
			return 0, err
		}
	}
	storageClass := map[string]string{}
	u := pickle.NewUnpickler(cr)
	u.FindClass = func(module, name string) (any, error) { return &walkClass{module + "." + name}, nil }
	u.PersistentLoad = func(pid any) (any, error) {
		if t, ok := pid.(*pickle.Tuple); ok && t.Len() >= 3 {
			class, _ := t.Get(1).(*walkClass)
			key, _ := t.Get(2).(string)
			if class != nil {
				storageClass[key] = class.name
			}
		}
		return &walkObject{}, nil
	}
	if _, err := u.Load(); err != nil {
		return 0, err
	}
	u = pickle.NewUnpickler(cr)
	keys, err := u.Load()
	if err != nil {
		return 0, err
	}
	list, ok := keys.(*pickle.List)
	if !ok {
		return 0, fmt.Errorf("storage keys are %T", keys)
	}
	pos := cr.n
	for _, k := range *list {
		key, _ := k.(string)
		size := 0
		for _, d := range dtypeTable {
			if storageClass[key] == "torch."+d.storage {
				size = d.size
			}
		}
		if size == 0 {
			return 0, fmt.Errorf("storage %q of unknown type %q", key, storageClass[key])
		}
		var count [8]byte
		if _, err := f.ReadAt(count[:], pos); err != nil {
			return pos + 8, nil
		}
		n := binary.LittleEndian.Uint64(count[:])
		if n > math.MaxInt64/uint64(size)/2 {
			return math.MaxInt64, nil
		}
		pos += 8 + int64(n)*int64(size)
	}
	return pos, nil
}

// walkClass and walkObject stand for every class and object of a pickle
// that legacyPthEnd walks through.
type walkClass struct{ name string }

func (c *walkClass) Call(...any) (any, error)  { return &walkObject{}, nil }
func (c *walkClass) PyNew(...any) (any, error) { return &walkObject{}, nil }

type walkObject struct{}

func (*walkObject) PySetState(any) error { return nil }

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += int64(n)
	return n, err
}

// newPthUnpickler is gotch's unpickler that also knows torch.BFloat16Storage;
// other unknown classes stay generic objects, as gotch's default has them.
func newPthUnpickler(r io.Reader) pickle.Unpickler {
	u := pickle.NewUnpickler(r)
	u.FindClass = func(module, name string) (any, error) {
		if b := pickleBuiltin(module, name); b != nil {
			return b, nil
		}
		if module == "torch" && name == "BFloat16Storage" {
			return &pickle.BFloat16StorageClass{}, nil
		}
		return pickle.NewGenericClass(module, name), nil
	}
	return u
}

type entry struct {
	key   string
	value any
}

// stateDictEntries flattens the top-level object of a checkpoint into
// (name, tensor) entries, descending into a "state_dict" or "model" entry.
func stateDictEntries(obj any) ([]entry, error) {
	var entries []entry
	switch d := obj.(type) {
	case *pickle.Dict:
		for _, it := range *d {
			k, ok := it.Key.(string)
			if !ok {
				return nil, fmt.Errorf("state dict key %v is not a string", it.Key)
			}
			entries = append(entries, entry{k, it.Value})
		}
	case *pickle.OrderedDict:
		for el := d.List.Front(); el != nil; el = el.Next() {
			it := el.Value.(*pickle.OrderedDictEntry)
			k, ok := it.Key.(string)
			if !ok {
				return nil, fmt.Errorf("state dict key %v is not a string", it.Key)
			}
			entries = append(entries, entry{k, it.Value})
		}
	default:
		return nil, fmt.Errorf("top-level object is %T, want a state dict (TorchScript archives are not supported)", obj)
	}
	for _, wrap := range []string{"state_dict", "model"} {
		for _, e := range entries {
			if e.key == wrap {
				if _, isTensor := e.value.(*pickle.StorageTensor); !isTensor {
					return stateDictEntries(e.value)
				}
			}
		}
	}
	var tensors []entry
	for _, e := range entries {
		if _, ok := e.value.(*pickle.StorageTensor); ok {
			tensors = append(tensors, e)
		}
	}
	if len(tensors) == 0 {
		return nil, fmt.Errorf("no tensors in the state dict")
	}
	return tensors, nil
}

// storageToTensor rebuilds a tensor from its storage, offset, size and
// stride, keeping 0-dimensional tensors 0-dimensional.
func storageToTensor(v any) (*ts.Tensor, error) {
	st := v.(*pickle.StorageTensor)
	data := st.Source.GetData()
	n := reflect.ValueOf(data).Len()
	numel := int64(1)
	for _, s := range st.Size {
		numel *= s
	}
	dtype := st.Source.DType()
	if _, isBool := st.Source.(*pickle.BoolStorage); isBool {
		dtype = gotch.Bool // gotch's BoolStorage says Float
	}
	if numel == 0 {
		return ts.Empty(st.Size, dtype, st.Source.Device())
	}
	if n == 0 {
		return nil, fmt.Errorf("storage is empty")
	}
	flat, err := ts.OfSlice(data, ts.WithDType(dtype)) // tells BFloat16 from Half
	if err != nil {
		return nil, err
	}
	if last := st.StorageOffset + lastIndex(st.Size, st.Stride); last >= int64(n) {
		flat.MustDrop()
		return nil, fmt.Errorf("storage of %d elements too short for size %v stride %v offset %d (truncated file?)", n, st.Size, st.Stride, st.StorageOffset)
	}
	if len(st.Size) == 0 { // a 0-dimensional tensor (gotch's AsStrided cannot take an empty shape)
		return flat.Select(0, st.StorageOffset, true)
	}
	view, err := flat.AsStrided(st.Size, st.Stride, []int64{st.StorageOffset}, true)
	if err != nil {
		return nil, err
	}
	return view.Contiguous(true)
}

func lastIndex(size, stride []int64) int64 {
	var last int64
	for i := range size {
		last += (size[i] - 1) * stride[i]
	}
	return last
}

// DropAll frees every tensor of a map.
func DropAll(m map[string]*ts.Tensor) {
	for _, t := range m {
		t.MustDrop()
	}
}
