package weights

import (
	"archive/zip"
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"unicode"
	"unsafe"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"
)

// ReadWeights reads the named tensors of a weights file, whatever its
// extension, from what its first bytes say it is:
//
//   - a zip archive holding data.pkl: torch.save's format (.pth, .pt), read by
//     [ReadPth];
//   - a zip archive holding constants.pkl or code/: a TorchScript archive
//     (torch.jit.save) or a libtorch archive as gotch and tch write them
//     (.ot), read by [ReadOt] or, for a scripted module, by its attributes;
//   - a pickle (0x80, protocol 2 or later): torch.save's legacy format, read by
//     [ReadPth];
//   - an 8-byte length followed by '{': safetensors, read by [ReadSafetensors]
//     (its metadata is dropped).
//
// The names are then normalised as [ReadWeightsWith] says. Anything else is
// an error naming the file and saying what it looks like.
// The caller owns the returned tensors (see DropAll).
// It must run on a torch worker thread (see torch.Do).
func ReadWeights(path string) (map[string]*ts.Tensor, error) {
	m, _, err := ReadWeightsWith(path, WeightsOptions{})
	return m, err
}

// WeightsOptions chooses what to read from a weights file.
type WeightsOptions struct {
	// Key names the entry of a wrapping checkpoint dict to take the
	// tensors from ("state_dict", "model_ema", ...). Empty: the dict itself
	// when it holds tensors, else the first entry holding tensors among
	// state_dict, model, module, net, network, model_state_dict, model_ema,
	// state_dict_ema, ema, ema_state_dict (plain weights before their EMA).
	Key string
	// Prefix selects the tensors whose names start with it and removes it
	// from their names: a backbone inside a larger checkpoint (MoCo's
	// "module.encoder_q.", mmselfsup's "backbone."). It is matched against
	// the names as stored (in the Key entry) and, when no name carries it,
	// against the names left after the wrapper prefixes are removed.
	// Default "": every tensor.
	Prefix string
}

// WeightsSource says where in a weights file its tensors were found and how
// their names were normalised.
type WeightsSource struct {
	Format   string   // "pth", "pth (legacy)", "safetensors", "libtorch archive" or "TorchScript archive"
	Class    string   // a TorchScript archive's module class
	Key      string   // the wrapping entry taken ("state_dict", ...); "" for a plain state dict
	Skipped  []string // other wrapping entries that hold tensors, not taken (e.g. "state_dict_ema")
	Stripped string   // the prefix removed from every name ("module.", "_orig_mod.module.", ...)
	Prefix   string   // WeightsOptions.Prefix when given: the sub-tree taken
	Dropped  int      // tensors outside Prefix, not returned
	// NonFinite are the floating-point tensors returned that hold NaN or
	// Inf (see FindNonFinite); the reader returns them all the same.
	NonFinite []NonFinite
}

// wrapperPrefixes are the name prefixes that wrappers add to every name of
// a model's state dict: DataParallel and DistributedDataParallel
// ("module."), Lightning modules holding the model as self.model ("model."),
// and torch.compile ("_orig_mod.").
var wrapperPrefixes = []string{"module.", "model.", "_orig_mod."}

// ReadWeightsWith reads a weights file as [ReadWeights] does, after which,
// whatever the format, one normalisation step removes a wrapper's prefix
// (see wrapperPrefixes) when every name carries it, repeatedly
// ("_orig_mod.module.conv1.weight" → "conv1.weight"). The returned source
// says what was done. The caller owns the returned tensors (see DropAll).
// It must run on a torch worker thread (see torch.Do).
func ReadWeightsWith(path string, o WeightsOptions) (map[string]*ts.Tensor, WeightsSource, error) {
	var src WeightsSource
	kind, err := sniffWeights(path)
	if err != nil {
		return nil, src, err
	}
	var m map[string]*ts.Tensor
	switch kind {
	case kindPthZip, kindPthLegacy:
		m, src, err = readPth(path, o.Key)
		src.Format = "pth"
		if kind == kindPthLegacy {
			src.Format = "pth (legacy)"
		}
	case kindOt:
		// A TorchScript module's tensors are its attributes, found by
		// walking its pickle; libtorch's reader of tensor archives is the
		// fallback for files that walk cannot read.
		src.Format = "TorchScript archive"
		if m, src.Class, err = readTorchScript(path); err != nil || isTensorArchive(src.Class) {
			DropAll(m)
			src.Format, src.Class = "libtorch archive", ""
			m, err = ReadOt(path)
		}
	default: // kindSafetensors
		src.Format = "safetensors"
		m, _, err = ReadSafetensors(path)
	}
	if err != nil {
		return nil, src, err
	}
	if o.Key != "" && src.Key == "" {
		DropAll(m)
		return nil, src, fmt.Errorf("weights: read %s: --weights-key %q: a %s file holds a plain set of tensors, with no wrapping entries", path, o.Key, src.Format)
	}
	if o.Prefix != "" {
		if m, src.Dropped, err = selectPrefix(m, o.Prefix); err != nil {
			return nil, src, fmt.Errorf("weights: read %s: %w", path, err)
		}
		src.Prefix = o.Prefix
	}
	m, src.Stripped = stripWrapperPrefix(m)
	if src.NonFinite, err = FindNonFinite(m); err != nil {
		DropAll(m)
		return nil, src, fmt.Errorf("weights: read %s: %w", path, err)
	}
	return m, src, nil
}

// selectPrefix keeps the tensors of m under prefix p, without it, and
// frees the others; names as stored are tried first, then the names left
// after the wrapper prefixes are removed. An error lists the prefixes the
// names do have.
func selectPrefix(m map[string]*ts.Tensor, p string) (map[string]*ts.Tensor, int, error) {
	under := func(m map[string]*ts.Tensor) int {
		n := 0
		for k := range m {
			if strings.HasPrefix(k, p) && len(k) > len(p) {
				n++
			}
		}
		return n
	}
	if under(m) == 0 {
		if s, stripped := stripWrapperPrefix(m); stripped != "" && under(s) > 0 {
			m = s
		}
	}
	if under(m) == 0 {
		names := slices.Collect(maps.Keys(m))
		DropAll(m)
		return nil, 0, fmt.Errorf("prefix %q: no tensor name starts with it (names start with %s)", p, strings.Join(NamePrefixes(names, 2, 8), ", "))
	}
	out := make(map[string]*ts.Tensor, len(m))
	dropped := 0
	for k, t := range m {
		if strings.HasPrefix(k, p) && len(k) > len(p) {
			out[k[len(p):]] = t
			continue
		}
		t.MustDrop()
		dropped++
	}
	return out, dropped, nil
}

// NamePrefixes returns the distinct prefixes of names made of their first
// depth dot-separated parts (each ending in "."; a shorter name is itself),
// sorted, at most limit of them (then "...").
func NamePrefixes(names []string, depth, limit int) []string {
	seen := map[string]bool{}
	for _, n := range names {
		parts := strings.SplitAfter(n, ".")
		if len(parts) > depth {
			parts = parts[:depth]
		}
		seen[strings.Join(parts, "")] = true
	}
	out := slices.Sorted(maps.Keys(seen))
	if len(out) > limit {
		out = append(out[:limit], "...")
	}
	return out
}

// isTensorArchive tells the module class of the archives that gotch's and
// tch's VarStore.Save write (a bag of named tensors, .ot) from a scripted
// model's.
func isTensorArchive(class string) bool {
	return class == "" || !strings.Contains(strings.TrimPrefix(class, "__torch__."), ".")
}

// stripWrapperPrefix removes from every name a prefix of wrapperPrefixes
// that every name carries, as long as one does, and returns what it removed.
func stripWrapperPrefix(m map[string]*ts.Tensor) (map[string]*ts.Tensor, string) {
	stripped := ""
	for len(m) > 0 {
		found := ""
		for _, p := range wrapperPrefixes {
			all := true
			for k := range m {
				if !strings.HasPrefix(k, p) || len(k) == len(p) {
					all = false
					break
				}
			}
			if all {
				found = p
				break
			}
		}
		if found == "" {
			break
		}
		out := make(map[string]*ts.Tensor, len(m))
		for k, t := range m {
			out[strings.TrimPrefix(k, found)] = t
		}
		m, stripped = out, stripped+found
	}
	return m, stripped
}

type weightsKind int

const (
	kindPthZip weightsKind = iota
	kindPthLegacy
	kindOt
	kindSafetensors
)

// sniffWeights tells the format of a weights file from its content.
func sniffWeights(name string) (weightsKind, error) {
	f, err := os.Open(name)
	if err != nil {
		return 0, fmt.Errorf("weights: read: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("weights: read %s: %w", name, err)
	}
	if st.IsDir() {
		return 0, fmt.Errorf("weights: read %s: is a directory, not a weights file", name)
	}
	head := make([]byte, 64)
	n, err := io.ReadFull(f, head)
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return 0, fmt.Errorf("weights: read %s: %w", name, err)
	}
	head = head[:n]
	switch {
	case n == 0:
		return 0, fmt.Errorf("weights: read %s: empty file", name)
	case bytes.HasPrefix(head, []byte("PK\x03\x04")):
		return sniffZip(name, f, st.Size())
	case head[0] == 0x80 && n >= 2 && head[1] >= 2 && head[1] <= 5:
		return kindPthLegacy, nil
	case n >= 9 && head[8] == '{':
		return kindSafetensors, nil
	case n < 4 && bytes.HasPrefix([]byte("PK\x03\x04"), head), n == 1 && head[0] == 0x80:
		return 0, fmt.Errorf("weights: read %s: truncated: only %d bytes", name, n)
	}
	return 0, fmt.Errorf("weights: read %s: not a weights file: %s", name, describeHead(head))
}

// sniffZip tells a torch.save zip from a libtorch (TorchScript) archive.
func sniffZip(name string, f *os.File, size int64) (weightsKind, error) {
	zr, err := zip.NewReader(f, size)
	if err != nil {
		return 0, fmt.Errorf("weights: read %s: truncated or corrupt zip archive (%d bytes): %v", name, size, err)
	}
	hasData := false
	for _, e := range zr.File {
		dir, base := path.Split(e.Name)
		if base == "constants.pkl" || strings.HasPrefix(dir, "code/") || strings.Contains(dir, "/code/") {
			return kindOt, nil
		}
		if base == "data.pkl" {
			hasData = true
		}
	}
	if !hasData {
		return 0, fmt.Errorf("weights: read %s: a zip archive without data.pkl, not a PyTorch checkpoint", name)
	}
	return kindPthZip, nil
}

// describeHead says what a file that is no weights file looks like.
func describeHead(head []byte) string {
	s := string(head)
	switch {
	case bytes.HasPrefix(head, []byte{0x1f, 0x8b}):
		return "a gzip file; decompress it first"
	case strings.HasPrefix(s, "version https://git-lfs"):
		return "a Git LFS pointer, not the weights themselves (git lfs pull fetches them)"
	case bytes.HasPrefix(head, []byte("\x89HDF")):
		return "an HDF5 file (Keras .h5?), which gtl does not read"
	case bytes.HasPrefix(head, []byte("\x93NUMPY")):
		return "a NumPy .npy array, not a set of named tensors"
	case strings.HasPrefix(strings.TrimLeftFunc(strings.ToLower(s), unicode.IsSpace), "<!doctype html"),
		strings.HasPrefix(strings.TrimLeftFunc(strings.ToLower(s), unicode.IsSpace), "<html"):
		return "an HTML page (a failed download?)"
	}
	k := min(len(head), 8)
	return fmt.Sprintf("starts with % x (%q); want a .pth, .safetensors or .ot file", head[:k], head[:k])
}

// ReadOt reads a libtorch archive of named tensors, as gotch's
// VarStore.Save, tch's VarStore::save and [WriteOt] write them (.ot files),
// onto the CPU. Names saved with "|" for "." get their dots back. The caller
// owns the returned tensors (see DropAll).
// It must run on a torch worker thread (see torch.Do).
func ReadOt(path string) (out map[string]*ts.Tensor, err error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("weights: read: %w", err)
	}
	defer func() {
		if r := recover(); r != nil {
			DropAll(out)
			out, err = nil, fmt.Errorf("weights: read %s: corrupt libtorch archive: %v", path, r)
		}
	}()
	named, err := ts.LoadMultiWithDevice(path, gotch.CPU)
	if err != nil {
		return nil, fmt.Errorf("weights: read %s: not a libtorch archive of tensors: %v", path, oneLine(err))
	}
	out = make(map[string]*ts.Tensor, len(named))
	for _, nt := range named {
		t := nt.Tensor
		if rg, err := t.RequiresGrad(); err == nil && rg {
			d, err := t.Detach(true)
			if err != nil {
				DropAll(out)
				return nil, fmt.Errorf("weights: read %s: tensor %q: %v", path, nt.Name, oneLine(err))
			}
			t = d
		}
		if old, dup := out[nt.Name]; dup {
			old.MustDrop()
		}
		out[nt.Name] = t
	}
	return out, nil
}

// WriteOt writes named tensors as a libtorch archive (.ot), the format of
// gotch's VarStore.Save and tch's VarStore::save, with "." in names saved as
// "|" as tch does. The file is written atomically: a failed write leaves no
// file behind (and an existing file as it was).
// It must run on a torch worker thread (see torch.Do).
func WriteOt(path string, tensors map[string]*ts.Tensor) error {
	if len(tensors) == 0 {
		return fmt.Errorf("weights: write %s: no tensors", path)
	}
	names := slices.Sorted(maps.Keys(tensors))
	named := make([]ts.NamedTensor, 0, len(names))
	for _, name := range names {
		t := tensors[name]
		if err := checkTensor(t); err != nil {
			return fmt.Errorf("weights: write %s: tensor %q: %w", path, name, err)
		}
		if name == "" || strings.Contains(name, "|") {
			return fmt.Errorf("weights: write %s: tensor %q: a name in a libtorch archive must be non-empty and free of '|'", path, name)
		}
		named = append(named, ts.NamedTensor{Name: strings.ReplaceAll(name, ".", "|"), Tensor: t})
	}
	err := writeAtomicFile(path, func(tmp string) error {
		if err := ts.SaveMultiNew(named, tmp); err != nil {
			return oneLine(err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("weights: write %s: %w", path, err)
	}
	return nil
}

// writeAtomicFile writes a file through a temporary file in the same folder,
// renamed into place once complete; on failure the temporary file is removed.
func writeAtomicFile(path string, write func(tmp string) error) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			os.Remove(tmp)
		}
	}()
	if err := f.Close(); err != nil {
		return err
	}
	if err := write(tmp); err != nil {
		return err
	}
	if err := os.Chmod(tmp, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// WriteAtomic writes path whole or not at all: write gets a buffered
// writer to a temporary file in the same folder, which is synced and then
// renamed over path (see writeAtomicFile). An existing file survives a failed
// write.
func WriteAtomic(path string, write func(w io.Writer) error) error {
	return writeAtomicFile(path, func(tmp string) error {
		f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_TRUNC, 0o600)
		if err != nil {
			return err
		}
		bw := bufio.NewWriterSize(f, 1<<20)
		err = write(bw)
		if err == nil {
			err = bw.Flush()
		}
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		return err
	})
}

// oneLine keeps the first line of an error: libtorch errors carry C++ and Go
// stack traces.
func oneLine(err error) error {
	s := strings.TrimSpace(err.Error())
	s, _, _ = strings.Cut(s, "\n")
	s = strings.TrimPrefix(s, "Libtorch API Error: ")
	return errors.New(s)
}

// dtypeInfo ties a tensor element type to its names in the file formats.
type dtypeInfo struct {
	st      string      // safetensors dtype
	dt      gotch.DType // gotch dtype
	size    int         // bytes per element
	storage string      // torch storage class (torch.<storage>)
}

var dtypeTable = []dtypeInfo{
	{"F64", gotch.Double, 8, "DoubleStorage"},
	{"F32", gotch.Float, 4, "FloatStorage"},
	{"F16", gotch.Half, 2, "HalfStorage"},
	{"BF16", gotch.BFloat16, 2, "BFloat16Storage"},
	{"I64", gotch.Int64, 8, "LongStorage"},
	{"I32", gotch.Int, 4, "IntStorage"},
	{"I16", gotch.Int16, 2, "ShortStorage"},
	{"I8", gotch.Int8, 1, "CharStorage"},
	{"U8", gotch.Uint8, 1, "ByteStorage"},
	{"BOOL", gotch.Bool, 1, "BoolStorage"},
}

// dtypeOf returns the formats' names of a gotch dtype.
func dtypeOf(dt gotch.DType) (dtypeInfo, error) {
	for _, d := range dtypeTable {
		if d.dt == dt {
			return d, nil
		}
	}
	return dtypeInfo{}, fmt.Errorf("dtype %v is not supported (want one of F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL)", dt)
}

// checkTensor rejects a nil or undefined tensor.
func checkTensor(t *ts.Tensor) error {
	if t == nil {
		return errors.New("nil tensor")
	}
	if ok, err := t.Defined(); err != nil || !ok {
		return errors.New("undefined tensor")
	}
	return nil
}

// tensorMeta returns a tensor's dtype and shape, checking both.
func tensorMeta(t *ts.Tensor) (dtypeInfo, []int64, error) {
	if err := checkTensor(t); err != nil {
		return dtypeInfo{}, nil, err
	}
	d, err := dtypeOf(t.DType())
	if err != nil {
		return dtypeInfo{}, nil, err
	}
	if sparse, err := t.IsSparse(); err != nil || sparse {
		return dtypeInfo{}, nil, errors.New("sparse tensors are not supported")
	}
	return d, t.MustSize(), nil
}

// numelOf returns the element count of a shape, or an error for a negative
// dimension or an overflow of bytes per element × elements.
func numelOf(shape []int64, elemSize int) (int64, error) {
	n := int64(1)
	for _, s := range shape {
		if s < 0 {
			return 0, fmt.Errorf("negative dimension in shape %v", shape)
		}
		if s != 0 && n > (1<<62)/int64(elemSize)/s {
			return 0, fmt.Errorf("shape %v is too large", shape)
		}
		n *= s
	}
	return n, nil
}

// isLittleEndian: the formats store little-endian data, which gtl copies
// to and from tensor memory as it is.
var isLittleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// tensorBytes returns a copy of a tensor's elements, row-major and
// little-endian, as the files store them.
func tensorBytes(t *ts.Tensor, d dtypeInfo) ([]byte, error) {
	if !isLittleEndian {
		return nil, errors.New("big-endian hosts are not supported")
	}
	src := t
	dev, err := t.Device()
	if err != nil {
		return nil, oneLine(err)
	}
	if dev != gotch.CPU {
		c, err := t.To(gotch.CPU, false)
		if err != nil {
			return nil, fmt.Errorf("copy to the CPU: %v", oneLine(err))
		}
		defer c.MustDrop()
		src = c
	}
	c, err := src.Contiguous(false)
	if err != nil {
		return nil, oneLine(err)
	}
	defer c.MustDrop()
	numel, err := numelOf(c.MustSize(), d.size)
	if err != nil {
		return nil, err
	}
	nbytes := int(numel) * d.size
	out := make([]byte, nbytes)
	if nbytes == 0 {
		return out, nil
	}
	p, err := c.DataPtr()
	if err != nil {
		return nil, oneLine(err)
	}
	if p == nil {
		return nil, errors.New("tensor has no data")
	}
	copy(out, unsafe.Slice((*byte)(p), nbytes))
	runtime.KeepAlive(c)
	return out, nil
}

// newTensorFilled makes a CPU tensor of the given dtype and shape (also
// 0-dimensional) and lets fill write its raw little-endian bytes.
func newTensorFilled(d dtypeInfo, shape []int64, fill func(b []byte) error) (*ts.Tensor, error) {
	if !isLittleEndian {
		return nil, errors.New("big-endian hosts are not supported")
	}
	numel, err := numelOf(shape, d.size)
	if err != nil {
		return nil, err
	}
	flat, err := ts.Empty([]int64{numel}, d.dt, gotch.CPU)
	if err != nil {
		return nil, fmt.Errorf("make a %s tensor: %v", d.st, oneLine(err))
	}
	if nbytes := int(numel) * d.size; nbytes > 0 {
		p, err := flat.DataPtr()
		if err != nil || p == nil {
			flat.MustDrop()
			return nil, fmt.Errorf("tensor memory: %v", err)
		}
		b := unsafe.Slice((*byte)(p), nbytes)
		if err := fill(b); err != nil {
			flat.MustDrop()
			return nil, err
		}
		if d.dt == gotch.Bool { // torch's bools must be 0 or 1
			for i, v := range b {
				if v > 1 {
					b[i] = 1
				}
			}
		}
		runtime.KeepAlive(flat)
	}
	var out *ts.Tensor
	switch len(shape) {
	case 0: // gotch's generated ops cannot take an empty shape
		out, err = flat.Select(0, 0, true)
	case 1:
		return flat, nil
	default:
		out, err = flat.View(shape, true)
	}
	if err != nil {
		return nil, fmt.Errorf("reshape to %v: %v", shape, oneLine(err))
	}
	return out, nil
}
