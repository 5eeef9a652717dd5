package vision

import (
	"fmt"
	"io"
	"reflect"
	"strings"

	"github.com/sugarme/gotch/pickle"
	"github.com/sugarme/gotch/ts"
)

// ReadPth reads the tensors of a PyTorch checkpoint written by torch.save:
// a state dict (zip or legacy format), also when wrapped as
// {"state_dict": ...} or {"model": ...}, and with DataParallel's "module."
// prefix removed. The caller owns the returned tensors (see DropAll).
func ReadPth(path string) (map[string]*ts.Tensor, error) {
	obj, err := pickle.LoadWithUnpickler(path, func(r io.Reader) pickle.Unpickler { return pickle.NewUnpickler(r) })
	if err != nil {
		return nil, fmt.Errorf("vision: read %s: not a PyTorch checkpoint: %w", path, err)
	}
	entries, err := stateDictEntries(obj)
	if err != nil {
		return nil, fmt.Errorf("vision: read %s: %w", path, err)
	}
	out := make(map[string]*ts.Tensor, len(entries))
	for _, e := range entries {
		t, err := storageToTensor(e.value)
		if err != nil {
			DropAll(out)
			return nil, fmt.Errorf("vision: read %s: tensor %q: %w", path, e.key, err)
		}
		out[strings.TrimPrefix(e.key, "module.")] = t
	}
	return out, nil
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
	if numel == 0 {
		return ts.Empty(st.Size, st.Source.DType(), st.Source.Device())
	}
	if n == 0 {
		return nil, fmt.Errorf("storage is empty")
	}
	flat, err := ts.OfSlice(data)
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
