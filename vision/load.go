package vision

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/sugarme/gotch/ts"

	"github.com/gtl-dev/gtl/torch"
)

// LoadReport says what a load did with each tensor.
type LoadReport struct {
	Loaded        []string // copied from the file
	Reinitialized []string // head tensors left at their fresh random values (class count differs)
	Unexpected    []string // in the file, not in the model (only when allowed)
	Missing       []string // in the model, not in the file (only when allowed)
	// Filled are batch-norm num_batches_tracked buffers absent from the
	// file (saved before PyTorch 0.4.1), set to 0 as PyTorch's own
	// load_state_dict does.
	Filled []string
	// Initialized are tensors of an optional part of the model (see
	// Spec.Optional) absent from the file, left at their initial values.
	Initialized []string
	// Skipped are tensors of a file without the model's head that sit
	// under the head's names but are not the model's (a self-supervised
	// projection MLP, "fc.0.weight"): not loaded; the head is new.
	Skipped []string
}

// LoadOptions relaxes a load. The zero value is strict: every tensor of the
// model must be in the file with the same shape, and nothing else may be.
type LoadOptions struct {
	// NewHead keeps the model's own (freshly initialised) head when the
	// file's head has another shape, e.g. another number of classes.
	NewHead bool
	// ResetHead keeps the model's fresh head even when the file's head has
	// the same shape (new classes that happen to be as many as the old).
	ResetHead bool
	// AllowMissing and AllowUnexpected permit tensors absent from the file,
	// or present in the file but unknown to the model.
	AllowMissing, AllowUnexpected bool
}

// LoadTensors copies named tensors into the model's variables (without
// recording gradients). Every mismatch is an error naming the tensor and
// both shapes; nothing is half-loaded: the shapes are checked before any
// copy. It must run on a torch worker thread.
func (m *Model) LoadTensors(named map[string]*ts.Tensor, o LoadOptions) (LoadReport, error) {
	vars := m.VS.Variables()
	var rep LoadReport
	var problems, shapes []string
	isHead := func(k string) bool {
		for _, p := range m.HeadPrefixes {
			if strings.HasPrefix(k, p) {
				return true
			}
		}
		return false
	}
	isOptional := func(k string) bool {
		for _, p := range m.OptionalPrefixes {
			if strings.HasPrefix(k, p) {
				return true
			}
		}
		return false
	}
	type pairT struct{ dst, src *ts.Tensor }
	var copies []pairT
	var fills []*ts.Tensor
	for _, name := range sortedKeys(vars) {
		v := vars[name]
		dst := &v
		src, ok := named[name]
		if o.ResetHead && isHead(name) {
			rep.Reinitialized = append(rep.Reinitialized, name)
			continue
		}
		if !ok {
			if isOptional(name) {
				rep.Initialized = append(rep.Initialized, name)
				continue
			}
			if name == "num_batches_tracked" || strings.HasSuffix(name, ".num_batches_tracked") {
				rep.Filled = append(rep.Filled, name)
				fills = append(fills, dst)
				continue
			}
			if o.NewHead && isHead(name) {
				rep.Reinitialized = append(rep.Reinitialized, name)
				continue
			}
			rep.Missing = append(rep.Missing, name)
			continue
		}
		ds, ss := dst.MustSize(), src.MustSize()
		if !slices.Equal(ds, ss) {
			if o.NewHead && isHead(name) {
				rep.Reinitialized = append(rep.Reinitialized, name)
				continue
			}
			shapes = append(shapes, fmt.Sprintf("tensor %q: shape %v in the file, %v in %s", name, ss, ds, m.Arch))
			continue
		}
		if err := checkLoadDType(name, src, dst); err != nil {
			shapes = append(shapes, err.Error())
			continue
		}
		copies = append(copies, pairT{dst, src})
		rep.Loaded = append(rep.Loaded, name)
	}
	for _, name := range sortedKeys(named) {
		if _, ok := vars[name]; !ok {
			rep.Unexpected = append(rep.Unexpected, name)
		}
	}
	switch {
	case len(shapes) == 1:
		problems = append(problems, shapes[0])
	case len(shapes) > 1:
		problems = append(problems, fmt.Sprintf("%d tensors differ in shape, first %s", len(shapes), shapes[0]))
	}
	if len(rep.Missing) > 0 && !o.AllowMissing {
		problems = append(problems, fmt.Sprintf("%d tensor(s) of %s missing from the file, first %q", len(rep.Missing), m.Arch, rep.Missing[0]))
	}
	if len(rep.Unexpected) > 0 && !o.AllowUnexpected {
		problems = append(problems, fmt.Sprintf("%d tensor(s) in the file unknown to %s, first %q", len(rep.Unexpected), m.Arch, rep.Unexpected[0]))
	}
	if len(problems) > 0 {
		hint := ""
		if len(shapes)+len(rep.Missing) > len(vars)/4 {
			hint = fmt.Sprintf(" (these do not look like %s weights)", m.Arch)
		}
		return rep, fmt.Errorf("vision: load into %s: %s%s", m.Arch, strings.Join(problems, "; "), hint)
	}
	err := torch.WithoutGrad(func() error {
		for _, dst := range fills {
			z, err := dst.ZerosLike(false)
			if err != nil {
				return err
			}
			dst.Copy_(z)
			z.MustDrop()
		}
		for _, c := range copies {
			src := c.src
			if src.DType() != c.dst.DType() {
				conv, err := src.Totype(c.dst.DType(), false)
				if err != nil {
					return err
				}
				c.dst.Copy_(conv)
				conv.MustDrop()
				continue
			}
			c.dst.Copy_(src)
		}
		return nil
	})
	return rep, err
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
