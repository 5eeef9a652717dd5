package weights

import (
	"archive/zip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strings"

	"github.com/sugarme/gotch/pickle"
	"github.com/sugarme/gotch/ts"
)

// ReadPth reads the tensors of a PyTorch checkpoint written by torch.save:
// a state dict (zip or legacy format), also when wrapped (see
// [ReadWeightsWith] for which wrappers and how one is chosen). Names are
// returned as stored: prefixes are removed by [ReadWeightsWith]. The caller
// owns the returned tensors (see DropAll).
//
// A corrupt or truncated file is an error, never a panic: gotch's pickle
// code panics on some inputs, and ReadPth turns those panics into errors.
func ReadPth(path string) (map[string]*ts.Tensor, error) {
	out, _, err := readPth(path, "")
	return out, err
}

// readPth is ReadPth taking the wrapping entry named key ("" chooses), and
// saying which entry it took.
func readPth(path, key string) (out map[string]*ts.Tensor, src WeightsSource, err error) {
	defer func() {
		if r := recover(); r != nil {
			DropAll(out)
			out, err = nil, fmt.Errorf("weights: read %s: corrupt or unsupported PyTorch checkpoint: %v", path, r)
		}
	}()
	if err := checkPthPickle(path); err != nil {
		return nil, src, err
	}
	if err := checkPthHead(path); err != nil {
		return nil, src, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, src, fmt.Errorf("weights: read: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, src, fmt.Errorf("weights: read %s: %w", path, err)
	}
	var seen pickleClasses
	set := newStorageSet()
	defer set.drop() // the tensors keep the memory they use
	obj, err := seen.loadPth(f, st.Size(), set)
	if err != nil {
		if c := seen.module(); c != "" {
			return nil, src, pickledModuleError(path, c)
		}
		if errors.Is(err, errOutOfBand) {
			return nil, src, fmt.Errorf("weights: read %s: %w", path, errOutOfBand)
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, src, fmt.Errorf("weights: read %s: truncated PyTorch checkpoint: %w", path, err)
		}
		return nil, src, fmt.Errorf("weights: read %s: not a PyTorch checkpoint: %w", path, err)
	}
	if o, ok := obj.(*pyObject); ok {
		return nil, src, pickledModuleError(path, o.class)
	}
	entries, src, err := unwrapStateDict(obj, key)
	if err != nil {
		return nil, src, fmt.Errorf("weights: read %s: %w", path, err)
	}
	out = make(map[string]*ts.Tensor, len(entries))
	for _, e := range entries {
		t, err := set.tensor(e.value)
		if err != nil {
			DropAll(out)
			return nil, src, fmt.Errorf("weights: read %s: tensor %q: %v", path, e.key, oneLine(err))
		}
		out[e.key] = t
	}
	return out, src, nil
}

// pickledModuleError is the one line for a file saved with torch.save(model).
func pickledModuleError(path, class string) error {
	return fmt.Errorf("weights: read %s: a whole pickled model (%s, saved with torch.save(model)), not a state dict: "+
		"re-export it in Python with torch.save(model.state_dict(), \"weights.pth\")", path, class)
}

// checkPthHead checks that a file starts as torch.save's zip or legacy
// format before gotch's pickle code sees it (it loops forever on some
// other inputs), and that a zip archive is complete.
func checkPthHead(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("weights: read: %w", err)
	}
	defer f.Close()
	var head [4]byte
	n, _ := io.ReadFull(f, head[:])
	switch {
	case n == 4 && string(head[:]) == "PK\x03\x04":
		st, err := f.Stat()
		if err != nil {
			return fmt.Errorf("weights: read %s: %w", path, err)
		}
		if _, err := zip.NewReader(f, st.Size()); err != nil {
			return fmt.Errorf("weights: read %s: truncated or corrupt zip archive (%d bytes): %v", path, st.Size(), err)
		}
		return nil
	case n >= 2 && head[0] == 0x80 && head[1] >= 2 && head[1] <= 5:
		st, err := f.Stat()
		if err != nil {
			return fmt.Errorf("weights: read %s: %w", path, err)
		}
		// gotch's reader takes a short last read of the storages for a
		// complete one: check the length first.
		if end, err := legacyPthEnd(f); err == nil && end > st.Size() {
			return fmt.Errorf("weights: read %s: truncated PyTorch checkpoint: %d bytes, its tensor data ends at byte %d", path, st.Size(), end)
		}
		return nil
	case n == 0:
		return fmt.Errorf("weights: read %s: empty file", path)
	}
	return fmt.Errorf("weights: read %s: not a PyTorch checkpoint: starts with % x", path, head[:n])
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
		u := pickle.NewUnpickler(&protoReader{r: cr})
		if _, err := u.Load(); err != nil {
			return 0, err
		}
	}
	storageClass := map[string]string{}
	u := pickle.NewUnpickler(&protoReader{r: cr})
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
	u = pickle.NewUnpickler(&protoReader{r: cr})
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

// pickleClasses records the classes a checkpoint's pickle names that are
// neither torch's nor Python's own: a model's classes (torch.save(model)).
type pickleClasses struct{ names []string }

// module returns the class of the pickled model when the pickle is that of
// a whole nn.Module (it names torch.nn's module classes), else "".
func (p *pickleClasses) module() string {
	nn := false
	for _, n := range p.names {
		nn = nn || strings.HasPrefix(n, "torch.nn.modules.")
	}
	if !nn {
		return ""
	}
	for _, n := range p.names {
		if !strings.HasPrefix(n, "collections.") && !strings.HasPrefix(n, "torch._utils.") && !strings.HasPrefix(n, "builtins.") {
			return n
		}
	}
	return p.names[0]
}

// pyClass and pyObject stand for a class of a pickle that gtl does not know
// and its instances: a model's modules in torch.save(model), a TorchScript
// module, Lightning's hyper-parameter containers. An instance keeps the state
// the pickle gives it, so that a TorchScript module's tensors can be found.
type pyClass struct{ module, name string }

func (c *pyClass) PyNew(...any) (any, error) { return &pyObject{class: c.module + "." + c.name}, nil }

func (c *pyClass) Call(args ...any) (any, error) {
	// torch.jit._pickle's helpers (build_intlist, restore_type_tag, ...)
	// return their first argument.
	if c.module == "torch.jit._pickle" && len(args) > 0 {
		return args[0], nil
	}
	return &pyObject{class: c.module + "." + c.name}, nil
}

type pyObject struct {
	class string
	state any
}

func (o *pyObject) PySetState(state any) error { o.state = state; return nil }

type entry struct {
	key   string
	value any
}

// wrapperKeys are the entries of a checkpoint that hold a state dict, in the
// order one is preferred when several are present: plain weights before
// their exponential moving average.
var wrapperKeys = []string{"state_dict", "model", "module", "net", "network", "model_state_dict", "model_ema", "state_dict_ema", "ema", "ema_state_dict"}

// dictEntries returns the (string key, value) entries of a pickled dict.
func dictEntries(obj any) ([]entry, bool, error) {
	var entries []entry
	switch d := obj.(type) {
	case *pickle.Dict:
		for _, it := range *d {
			k, ok := it.Key.(string)
			if !ok {
				return nil, true, fmt.Errorf("state dict key %v is not a string", it.Key)
			}
			entries = append(entries, entry{k, it.Value})
		}
	case *pickle.OrderedDict:
		for el := d.List.Front(); el != nil; el = el.Next() {
			it := el.Value.(*pickle.OrderedDictEntry)
			k, ok := it.Key.(string)
			if !ok {
				return nil, true, fmt.Errorf("state dict key %v is not a string", it.Key)
			}
			entries = append(entries, entry{k, it.Value})
		}
	default:
		return nil, false, nil
	}
	return entries, true, nil
}

// tensorEntries keeps the entries that are tensors.
func tensorEntries(entries []entry) []entry {
	var out []entry
	for _, e := range entries {
		if _, ok := e.value.(*pickle.StorageTensor); ok {
			out = append(out, e)
		}
	}
	return out
}

// unwrapStateDict finds the state dict in the top-level object of a
// checkpoint: the object itself when it holds tensors, else the entry key
// (when given) or the first of [wrapperKeys] that holds tensors (a Lightning
// checkpoint's "state_dict", timm's "state_dict" beside "state_dict_ema").
func unwrapStateDict(obj any, key string) ([]entry, WeightsSource, error) {
	var src WeightsSource
	entries, isDict, err := dictEntries(obj)
	if err != nil {
		return nil, src, err
	}
	if !isDict {
		return nil, src, fmt.Errorf("top-level object is %s, want a state dict", pyTypeName(obj))
	}
	held := map[string][]entry{} // wrapping entries that hold tensors
	var names []string
	for _, e := range entries {
		if _, isTensor := e.value.(*pickle.StorageTensor); isTensor {
			continue
		}
		if sub, ok, _ := dictEntries(e.value); ok && len(tensorEntries(sub)) > 0 {
			held[e.key] = tensorEntries(sub)
			names = append(names, e.key)
		}
	}
	if key != "" {
		sub, ok := held[key]
		if !ok {
			if len(names) == 0 {
				return nil, src, fmt.Errorf("--weights-key %q: the file is a plain state dict, with no wrapping entries", key)
			}
			return nil, src, fmt.Errorf("--weights-key %q: no such entry holding tensors (entries with tensors: %s)", key, strings.Join(names, ", "))
		}
		src.Key = key
		for _, n := range names {
			if n != key {
				src.Skipped = append(src.Skipped, n)
			}
		}
		return sub, src, nil
	}
	if ts := tensorEntries(entries); len(ts) > 0 {
		return ts, src, nil
	}
	for _, w := range wrapperKeys {
		if sub, ok := held[w]; ok {
			src.Key = w
			for _, n := range names {
				if n != w {
					src.Skipped = append(src.Skipped, n)
				}
			}
			return sub, src, nil
		}
	}
	if len(names) == 1 {
		src.Key = names[0]
		return held[names[0]], src, nil
	}
	if len(names) > 1 {
		return nil, src, fmt.Errorf("no state dict at the top level, and several entries hold tensors (%s): choose one with --weights-key", strings.Join(names, ", "))
	}
	keys := make([]string, 0, len(entries))
	for _, e := range entries {
		keys = append(keys, e.key)
	}
	if len(keys) > 8 {
		keys = append(keys[:8], "...")
	}
	return nil, src, fmt.Errorf("no tensors in the state dict (top-level entries: %s)", strings.Join(keys, ", "))
}

// pyTypeName names the Python type of a pickled object.
func pyTypeName(obj any) string {
	switch o := obj.(type) {
	case *pyObject:
		return o.class
	case *pickle.List:
		return "a list"
	case *pickle.Tuple:
		return "a tuple"
	case *pickle.StorageTensor:
		return "a single tensor"
	case nil:
		return "None"
	}
	return fmt.Sprintf("%T", obj)
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
