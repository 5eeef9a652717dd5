package vision

import (
	"fmt"
	"slices"
	"strings"

	"github.com/sugarme/gotch/ts"

	"github.com/gtl-dev/gtl/weights"
)

// NonFiniteError refuses weights that hold NaN or Inf, naming the tensors:
// a model computes NaN from them (PyTorch too), which gtl's oneDNN path
// would otherwise have hidden.
type NonFiniteError struct {
	File    string // the weights file; "" for a model's own tensors (CheckFinite)
	Arch    string // the model's architecture, for a model's own tensors
	Tensors []weights.NonFinite
}

func (e *NonFiniteError) Error() string { return e.option().Error() }

// option is the error as an OptionError naming AllowNonFinite, so that
// callers render it as their own option or flag.
func (e *NonFiniteError) option() *OptionError {
	if e.File == "" {
		return &OptionError{Field: "AllowNonFinite", msg: fmt.Sprintf("%s: %d tensor(s) of the model hold NaN or Inf: %s", e.Arch, len(e.Tensors), weights.NonFiniteList(e.Tensors))}
	}
	return &OptionError{Field: "AllowNonFinite", msg: fmt.Sprintf("%s: %d tensor(s) hold NaN or Inf: %s; a model computes NaN from them: "+
		"{AllowNonFinite} loads them anyway", e.File, len(e.Tensors), weights.NonFiniteList(e.Tensors))}
}

// As lets errors.As find the OptionError in a NonFiniteError.
func (e *NonFiniteError) As(target any) bool {
	if t, ok := target.(**OptionError); ok {
		*t = e.option()
		return true
	}
	return false
}

// CheckFinite returns a *NonFiniteError naming the model's parameters and
// buffers (batch-norm running statistics included) that hold NaN or Inf,
// or nil when every one is finite: the check a training loop runs before it
// keeps a checkpoint. It costs one reduction per tensor: measured 13 ms
// for resnet18 and 36 ms for resnet50 on 2 busy CPU cores, so once per
// epoch (or per checkpoint) rather than per step. It must run on a torch
// worker thread.
func (m *Model) CheckFinite() error {
	vars := m.VS.Variables()
	named := make(map[string]*ts.Tensor, len(vars))
	for k := range vars {
		v := vars[k]
		named[k] = &v
	}
	bad, err := weights.FindNonFinite(named)
	if err != nil {
		return fmt.Errorf("vision: %s: %w", m.Arch, err)
	}
	if len(bad) > 0 {
		return &NonFiniteError{Arch: m.Arch, Tensors: bad}
	}
	return nil
}

// backboneShapes returns the shapes of m's tensors outside its head and
// optional parts, less the num_batches_tracked buffers (files saved before
// PyTorch 0.4.1 lack them).
func (m *Model) backboneShapes() map[string][]int64 {
	out := map[string][]int64{}
	for k, v := range m.VS.Variables() {
		if hasAnyPrefix(k, m.HeadPrefixes) || hasAnyPrefix(k, m.OptionalPrefixes) ||
			k == "num_batches_tracked" || strings.HasSuffix(k, ".num_batches_tracked") {
			continue
		}
		out[k] = v.MustSize()
	}
	return out
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// completeUnder returns the name prefixes of named under which m's whole
// backbone sits, every tensor with the model's shape: "" for the top
// level, "encoder_q." for a MoCo checkpoint's query encoder. The
// prefixes of a momentum or target copy (encoder_k., momentum, target)
// come after the others; otherwise they are sorted.
func completeUnder(m *Model, named map[string]*ts.Tensor) []string {
	want := m.backboneShapes()
	if len(want) == 0 || len(named) == 0 {
		return nil
	}
	ref := slices.Min(sortedKeys(want))
	var out []string
	for name := range named {
		p, ok := strings.CutSuffix(name, ref)
		if !ok || (p != "" && !strings.HasSuffix(p, ".")) {
			continue
		}
		complete := true
		for k, shape := range want {
			t, ok := named[p+k]
			if !ok || !slices.Equal(t.MustSize(), shape) {
				complete = false
				break
			}
		}
		if complete {
			out = append(out, p)
		}
	}
	copyLike := func(p string) bool {
		return strings.Contains(p, "encoder_k.") || strings.Contains(p, "momentum") || strings.Contains(p, "target")
	}
	slices.SortFunc(out, func(a, b string) int {
		if ca, cb := copyLike(a), copyLike(b); ca != cb {
			if ca {
				return 1
			}
			return -1
		}
		return strings.Compare(a, b)
	})
	return out
}

// prefixHint adds to a refused load the prefixes (as the file names them)
// under which a complete backbone of arch sits, and the flag that takes
// one.
func (o *Opened) prefixHint(err error, arch string, under []string) error {
	var ps []string
	for _, p := range under {
		if p != "" {
			ps = append(ps, o.File.Prefix+o.File.Stripped+p)
		}
	}
	if len(ps) == 0 {
		return err
	}
	also := ""
	if len(ps) > 1 {
		also = " (also under `" + strings.Join(ps[1:], "`, `") + "`)"
	}
	return optionErrorf("WeightsPrefix", "%w; found a complete %s under `%s`%s: add {WeightsPrefix} %s", err, arch, ps[0], also, ps[0])
}

// skipHeadExtras returns named without the tensors under m's head prefixes
// that m does not have (a self-supervised checkpoint's projection MLP,
// "fc.0.weight"), and their names. The caller still owns and frees every
// tensor.
func skipHeadExtras(m *Model, named map[string]*ts.Tensor) (map[string]*ts.Tensor, []string) {
	vars := m.VS.Variables()
	out := make(map[string]*ts.Tensor, len(named))
	var skipped []string
	for k, t := range named {
		if _, known := vars[k]; !known && hasAnyPrefix(k, m.HeadPrefixes) {
			skipped = append(skipped, k)
			continue
		}
		out[k] = t
	}
	slices.Sort(skipped)
	return out, skipped
}
