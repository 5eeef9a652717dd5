package weights

import (
	"archive/zip"
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"os"
	"path"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/pickle"
	"github.com/sugarme/gotch/ts"
)

// How gtl reads torch.save files. gotch's pickle machine runs the pickles
// (after checkPthPickle has vetted them), but the storages are gtl's: a
// persistent id only records a storage's key, type and size, and a storage
// is read once, when the first tensor that uses it is built, straight from
// the file into tensor memory. The tensors that use it are views of that
// memory (copied only when they are not contiguous), so a file whose
// tensors share one storage takes the storage's size in memory once, and
// storages that no chosen tensor uses (an optimizer's state, the other of
// two wrapped state dicts) are never read. gotch's own reader copied the
// whole storage once per tensor, through Go slices, and refused pickle
// protocol 5.

// pthStorage is a storage named by a torch.save pickle. It satisfies
// pickle.Storage so that gotch's tensor rebuild functions accept it; its
// data are read by storageSet.flat.
type pthStorage struct {
	key   string
	d     dtypeInfo
	numel int64
	// root and offset make a legacy file's storage view: elements
	// [offset, offset+numel) of root.
	root   *pthStorage
	offset int64
	flat   *ts.Tensor // the data, once read (owned by the storageSet)
}

var _ pickle.Storage = (*pthStorage)(nil)

func (s *pthStorage) SetFromFile(io.Reader) error {
	return errors.New("weights: storages are read by gtl")
}
func (s *pthStorage) SetFromFileWithSize(io.Reader, int) error {
	return errors.New("weights: storages are read by gtl")
}
func (s *pthStorage) DType() gotch.DType   { return s.d.dt }
func (s *pthStorage) GetData() any         { return nil }
func (s *pthStorage) Device() gotch.Device { return gotch.CPU }

// storageType is a storage class of a pickle (torch.FloatStorage, ...).
type storageType struct{ d dtypeInfo }

func (c *storageType) New(int, string) pickle.Storage { return &pthStorage{d: c.d} }

// rebuildWithState is torch._utils._rebuild_parameter_with_state: a
// parameter with Python attributes, which gtl drops.
type rebuildWithState struct{}

func (rebuildWithState) Call(args ...any) (any, error) {
	if len(args) == 0 {
		return nil, errors.New("_rebuild_parameter_with_state without arguments")
	}
	return args[0], nil
}

// torchGlobal returns gtl's stand-in for a torch global of a .pth pickle:
// storage types and tensor rebuild functions; nil for other names.
func torchGlobal(module, name string) any {
	g := module + "." + name
	for _, d := range dtypeTable {
		if g == "torch."+d.storage {
			return &storageType{d}
		}
	}
	switch g {
	case "torch._utils._rebuild_tensor":
		return &pickle.RebuildTensor{}
	case "torch._utils._rebuild_tensor_v2":
		return &pickle.RebuildTensorV2{}
	case "torch._utils._rebuild_parameter":
		return &pickle.RebuildParameter{}
	case "torch._utils._rebuild_parameter_with_state":
		return rebuildWithState{}
	}
	return nil
}

// storageSet holds the storages of one file and reads each once.
type storageSet struct {
	byKey map[string]*pthStorage
	// read fills b with the data of storage s (its numel × element size
	// bytes).
	read func(s *pthStorage, b []byte) error
}

func newStorageSet() *storageSet { return &storageSet{byKey: map[string]*pthStorage{}} }

// persistentLoad turns a torch.save persistent id into a storage:
// ("storage", type, key, location, numel) in the zip format, with a sixth
// entry, a view (view_key, offset, view_numel) or None, in the legacy one.
func (set *storageSet) persistentLoad(id any) (any, error) {
	t, ok := id.(*pickle.Tuple)
	if !ok || t.Len() < 5 {
		return nil, fmt.Errorf("persistent id %v is not a storage", id)
	}
	if name, _ := t.Get(0).(string); name != "storage" {
		return nil, fmt.Errorf("persistent id of type %v, want storage", t.Get(0))
	}
	class, ok1 := t.Get(1).(*storageType)
	key, ok2 := t.Get(2).(string)
	numel, ok3 := pyInt(t.Get(4))
	if !ok1 || !ok2 || !ok3 || numel < 0 {
		return nil, fmt.Errorf("persistent id %v is not a storage", id)
	}
	s, seen := set.byKey[key]
	if !seen {
		s = &pthStorage{key: key, d: class.d, numel: numel}
		set.byKey[key] = s
	} else if s.d != class.d || s.numel != numel {
		return nil, fmt.Errorf("storage %q named as %s of %d and as %s of %d elements", key, s.d.storage, s.numel, class.d.storage, numel)
	}
	if t.Len() < 6 || t.Get(5) == nil {
		return s, nil
	}
	view, ok := t.Get(5).(*pickle.Tuple)
	if !ok || view.Len() != 3 {
		return nil, fmt.Errorf("storage %q: view %v", key, t.Get(5))
	}
	vkey, ok1 := view.Get(0).(string)
	off, ok2 := pyInt(view.Get(1))
	vn, ok3 := pyInt(view.Get(2))
	if !ok1 || !ok2 || !ok3 || off < 0 || vn < 0 || off+vn > numel {
		return nil, fmt.Errorf("storage %q: view %v outside its %d elements", key, t.Get(5), numel)
	}
	if v, ok := set.byKey["view:"+vkey]; ok {
		return v, nil
	}
	v := &pthStorage{key: vkey, d: class.d, numel: vn, root: s, offset: off}
	set.byKey["view:"+vkey] = v
	return v, nil
}

// pyInt reads a pickled Python int.
func pyInt(v any) (int64, bool) {
	switch n := v.(type) {
	case int:
		return int64(n), true
	case int64:
		return n, true
	case *big.Int:
		if n.IsInt64() {
			return n.Int64(), true
		}
	}
	return 0, false
}

// flat returns the storage's data as a 1-D tensor, reading it the first
// time. The set owns it.
func (set *storageSet) flat(s *pthStorage) (*ts.Tensor, error) {
	if s.flat != nil {
		return s.flat, nil
	}
	if s.root != nil {
		r, err := set.flat(s.root)
		if err != nil {
			return nil, err
		}
		if s.flat, err = r.Narrow(0, s.offset, s.numel, false); err != nil {
			return nil, oneLine(err)
		}
		return s.flat, nil
	}
	t, err := newTensorFilled(s.d, []int64{s.numel}, func(b []byte) error { return set.read(s, b) })
	if err != nil {
		return nil, fmt.Errorf("storage %q: %w", s.key, err)
	}
	s.flat = t
	return t, nil
}

// tensor rebuilds a tensor of the file from its storage, offset, size and
// stride: a view of the storage's memory, copied only when it is not
// contiguous. The caller owns it.
func (set *storageSet) tensor(v any) (*ts.Tensor, error) {
	st, ok := v.(*pickle.StorageTensor)
	if !ok {
		return nil, fmt.Errorf("%s, not a tensor", pyTypeName(v))
	}
	s, ok := st.Source.(*pthStorage)
	if !ok {
		return nil, fmt.Errorf("storage of type %T", st.Source)
	}
	if len(st.Size) != len(st.Stride) {
		return nil, fmt.Errorf("size %v and stride %v differ in length", st.Size, st.Stride)
	}
	numel, err := numelOf(st.Size, s.d.size)
	if err != nil {
		return nil, err
	}
	for i, n := range st.Size {
		if st.Stride[i] < 0 || (n > 1 && st.Stride[i] > (1<<62)/n) {
			return nil, fmt.Errorf("size %v stride %v", st.Size, st.Stride)
		}
	}
	if numel == 0 {
		return ts.Empty(st.Size, s.d.dt, gotch.CPU)
	}
	if last := lastIndex(st.Size, st.Stride); st.StorageOffset < 0 || last < 0 || st.StorageOffset > s.numel || last >= s.numel-st.StorageOffset {
		return nil, fmt.Errorf("storage of %d elements too short for size %v stride %v offset %d (truncated file?)", s.numel, st.Size, st.Stride, st.StorageOffset)
	}
	flat, err := set.flat(s)
	if err != nil {
		return nil, err
	}
	if len(st.Size) == 0 { // 0-dimensional (gotch's AsStrided cannot take an empty shape)
		t, err := flat.Select(0, st.StorageOffset, false)
		if err != nil {
			return nil, oneLine(err)
		}
		return t, nil
	}
	view, err := flat.AsStrided(st.Size, st.Stride, []int64{st.StorageOffset}, false)
	if err != nil {
		return nil, oneLine(err)
	}
	t, err := view.Contiguous(true) // the same memory when contiguous
	if err != nil {
		return nil, oneLine(err)
	}
	return t, nil
}

// drop frees the set's handles on the storages; the tensors built from
// them keep the memory they use.
func (set *storageSet) drop() {
	for _, s := range set.byKey {
		if s.flat != nil {
			s.flat.MustDrop()
			s.flat = nil
		}
	}
}

// protoReader passes a pickle through, presenting protocol 5 as 4 to
// gotch's pickle machine (which refuses 5, though it runs its opcodes:
// BYTEARRAY8, NEXT_BUFFER, READONLY_BUFFER). Only the PROTO opcode's
// argument at the start of the pickle is changed.
type protoReader struct {
	r io.Reader
	n int // bytes passed so far, up to 2
	p byte
}

func (p *protoReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	for i := 0; i < n && p.n < 2; i++ {
		if p.n == 0 {
			p.p = b[i]
		} else if p.p == 0x80 && b[i] == 5 {
			b[i] = 4
		}
		p.n++
	}
	return n, err
}

// errOutOfBand is the error for a pickle that refers to out-of-band
// buffers (protocol 5's NEXT_BUFFER), whose data are not in the file.
var errOutOfBand = errors.New("the pickle refers to out-of-band buffers (pickle protocol 5 with a buffer_callback), whose data are not in the file; torch.save never writes them: re-save it with torch.save")

// newPthUnpickler returns gotch's pickle machine reading one pickle of a
// .pth file, with torch's globals, the allowed builtins and, for other
// classes, objects that keep their state (see pickleClasses).
func (p *pickleClasses) newPthUnpickler(r io.Reader, set *storageSet) pickle.Unpickler {
	u := pickle.NewUnpickler(&protoReader{r: r})
	u.FindClass = func(module, name string) (any, error) {
		if g := torchGlobal(module, name); g != nil {
			return g, nil
		}
		if b := pickleBuiltin(module, name); b != nil {
			return b, nil
		}
		p.names = append(p.names, module+"."+name)
		return &pyClass{module: module, name: name}, nil
	}
	if set != nil {
		u.PersistentLoad = set.persistentLoad
	}
	u.NextBufferFunc = func() (any, error) { return nil, errOutOfBand }
	return u
}

// loadPth runs the pickle of a torch.save file (zip or legacy format) and
// returns its object; its tensors' storages are read from the file by set
// when they are first used (f must stay open until then).
func (p *pickleClasses) loadPth(f *os.File, size int64, set *storageSet) (any, error) {
	var head [4]byte
	if _, err := f.ReadAt(head[:], 0); err == nil && string(head[:]) == "PK\x03\x04" {
		return p.loadPthZip(f, size, set)
	}
	return p.loadPthLegacy(f, size, set)
}

// loadPthZip reads torch.save's zip format: archive/data.pkl, and each
// storage in the record archive/data/KEY.
func (p *pickleClasses) loadPthZip(f *os.File, size int64, set *storageSet) (any, error) {
	zr, err := zip.NewReader(f, size)
	if err != nil {
		return nil, err
	}
	records := map[string]*zip.File{} // by base name, as torch looks them up
	var dataPkl *zip.File
	for _, zf := range zr.File {
		dir, base := path.Split(zf.Name)
		if base == "data.pkl" && (dataPkl == nil || len(zf.Name) < len(dataPkl.Name)) {
			dataPkl = zf
		}
		if path.Base(path.Clean(dir)) == "data" {
			records[base] = zf
		}
	}
	if dataPkl == nil {
		return nil, errors.New("data.pkl not found in the archive")
	}
	set.read = func(s *pthStorage, b []byte) error {
		zf := records[s.key]
		if zf == nil {
			return fmt.Errorf("no record data/%s in the archive", s.key)
		}
		if uint64(len(b)) > zf.UncompressedSize64 {
			return fmt.Errorf("record %s holds %d bytes, the storage %d", zf.Name, zf.UncompressedSize64, len(b))
		}
		r, err := zf.Open()
		if err != nil {
			return err
		}
		defer r.Close()
		_, err = io.ReadFull(r, b)
		return err
	}
	r, err := dataPkl.Open()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	u := p.newPthUnpickler(bufio.NewReaderSize(r, 1<<16), set)
	return u.Load()
}

// legacyMagic is the first pickle of torch.save's legacy format, and
// legacyProtocol its second.
var legacyMagic, _ = new(big.Int).SetString("1950a86a20f9469cfc6c", 16)

const legacyProtocol = 1001

// loadPthLegacy reads torch.save's legacy format: five pickles (magic
// number, protocol version, system info, the object, the storage keys),
// then per key an 8-byte element count and the elements.
func (p *pickleClasses) loadPthLegacy(f *os.File, size int64, set *storageSet) (any, error) {
	cr := &countingReader{r: bufio.NewReaderSize(io.NewSectionReader(f, 0, size), 1<<16)}
	load := func(set *storageSet) (any, error) {
		u := p.newPthUnpickler(cr, set)
		return u.Load()
	}
	magic, err := load(nil)
	if err != nil {
		return nil, err
	}
	if n, ok := magic.(*big.Int); !ok || n.Cmp(legacyMagic) != 0 {
		return nil, fmt.Errorf("not torch.save's legacy format (magic number %v)", magic)
	}
	proto, err := load(nil)
	if err != nil {
		return nil, err
	}
	if n, ok := pyInt(proto); !ok || n != legacyProtocol {
		return nil, fmt.Errorf("legacy format protocol %v, want %d", proto, legacyProtocol)
	}
	if _, err := load(nil); err != nil { // system info
		return nil, err
	}
	obj, err := load(set)
	if err != nil {
		return nil, err
	}
	keys, err := load(nil)
	if err != nil {
		return nil, err
	}
	list, ok := keys.(*pickle.List)
	if !ok {
		return nil, fmt.Errorf("storage keys are %s, want a list", pyTypeName(keys))
	}
	offsets := map[string]int64{}
	pos := cr.n
	for _, k := range *list {
		key, _ := k.(string)
		s := set.byKey[key]
		if s == nil {
			return nil, fmt.Errorf("storage key %v names no storage of the pickle", k)
		}
		var count [8]byte
		if _, err := f.ReadAt(count[:], pos); err != nil {
			return nil, fmt.Errorf("storage %q: its element count at byte %d: %w", key, pos, io.ErrUnexpectedEOF)
		}
		n := binary.LittleEndian.Uint64(count[:])
		if n != uint64(s.numel) {
			return nil, fmt.Errorf("storage %q holds %d elements, its pickle says %d", key, n, s.numel)
		}
		offsets[key] = pos + 8
		if s.numel > (math.MaxInt64-pos)/int64(s.d.size)/2 {
			return nil, fmt.Errorf("storage %q of %d elements", key, s.numel)
		}
		pos += 8 + s.numel*int64(s.d.size)
		if pos > size {
			return nil, fmt.Errorf("truncated PyTorch checkpoint: %d bytes, storage %q ends at byte %d: %w", size, key, pos, io.ErrUnexpectedEOF)
		}
	}
	set.read = func(s *pthStorage, b []byte) error {
		off, ok := offsets[s.key]
		if !ok {
			return fmt.Errorf("storage %q is not in the file's storage keys", s.key)
		}
		_, err := f.ReadAt(b, off)
		return err
	}
	return obj, nil
}
