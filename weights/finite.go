package weights

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"
)

// NonFinite is a floating-point tensor that holds NaN or infinite values.
type NonFinite struct {
	Name  string
	NaN   int64 // NaN elements
	Inf   int64 // +Inf and -Inf elements
	Numel int64 // all elements
}

func (n NonFinite) String() string {
	var what []string
	if n.NaN > 0 {
		what = append(what, fmt.Sprintf("%d NaN", n.NaN))
	}
	if n.Inf > 0 {
		what = append(what, fmt.Sprintf("%d Inf", n.Inf))
	}
	return fmt.Sprintf("%s (%s of %d)", n.Name, strings.Join(what, ", "), n.Numel)
}

// FindNonFinite returns the floating-point tensors of m that hold NaN or
// ±Inf, in name order, with how many of each. A tensor costs one reduction
// (see AllFinite) and, when it is not finite, two counts. It must run on a torch worker thread.
func FindNonFinite(m map[string]*ts.Tensor) ([]NonFinite, error) {
	var out []NonFinite
	for _, name := range slices.Sorted(maps.Keys(m)) {
		n, bad, err := nonFinite(m[name])
		if err != nil {
			return nil, fmt.Errorf("weights: check tensor %q for NaN and Inf: %w", name, err)
		}
		if bad {
			n.Name = name
			out = append(out, n)
		}
	}
	return out, nil
}

// isFloat reports whether dt is a floating-point dtype.
func isFloat(dt gotch.DType) bool {
	return dt == gotch.Float || dt == gotch.Double || dt == gotch.Half || dt == gotch.BFloat16
}

// nonFinite counts the NaN and Inf elements of t, if it has any.
func nonFinite(t *ts.Tensor) (NonFinite, bool, error) {
	var n NonFinite
	if t == nil || !isFloat(t.DType()) {
		return n, false, nil
	}
	size, err := t.Size()
	if err != nil {
		return n, false, oneLine(err)
	}
	n.Numel = 1
	for _, s := range size {
		n.Numel *= s
	}
	if n.Numel == 0 {
		return n, false, nil
	}
	if ok, err := AllFinite(t); err != nil || ok {
		return n, false, err
	}
	count := func(f func(*ts.Tensor) (*ts.Tensor, error)) (int64, error) {
		mask, err := f(t)
		if err != nil {
			return 0, oneLine(err)
		}
		defer mask.MustDrop()
		c, err := mask.Sum(gotch.Int64, false)
		if err != nil {
			return 0, oneLine(err)
		}
		defer c.MustDrop()
		return c.Int64Value([]int64{})
	}
	if n.NaN, err = count(func(t *ts.Tensor) (*ts.Tensor, error) { return t.Isnan(false) }); err != nil {
		return n, false, err
	}
	if n.Inf, err = count(func(t *ts.Tensor) (*ts.Tensor, error) { return t.Isinf(false) }); err != nil {
		return n, false, err
	}
	return n, n.NaN+n.Inf > 0, nil
}

// NonFiniteList names non-finite tensors in one line: the first few, then
// how many more.
func NonFiniteList(bad []NonFinite) string {
	const show = 4
	parts := make([]string, 0, show+1)
	for i, b := range bad {
		if i == show {
			parts = append(parts, fmt.Sprintf("and %d more", len(bad)-show))
			break
		}
		parts = append(parts, b.String())
	}
	return strings.Join(parts, ", ")
}

// AllFinite reports whether every element of t is finite (true for
// tensors that are not floating-point): one reduction, its sum, which is
// finite when every element is (and, when the sum overflows, an exact
// check). It must run on a torch worker
// thread.
func AllFinite(t *ts.Tensor) (bool, error) {
	if t == nil || !isFloat(t.DType()) {
		return true, nil
	}
	// Summed in its own precision (half precision in float32): a sum in
	// float64 would copy the tensor into float64 first.
	acc := t.DType()
	if acc == gotch.Half || acc == gotch.BFloat16 {
		acc = gotch.Float
	}
	sum, err := t.Sum(acc, false)
	if err != nil {
		return false, oneLine(err)
	}
	v, err := sum.Float64Value([]int64{})
	sum.MustDrop()
	if err != nil {
		return false, oneLine(err)
	}
	if !math.IsNaN(v) && !math.IsInf(v, 0) {
		return true, nil
	}
	// A non-finite sum: NaN or Inf elements, or finite ones whose sum
	// overflows.
	fin, err := t.Isfinite(false)
	if err != nil {
		return false, oneLine(err)
	}
	all, err := fin.All(true)
	if err != nil {
		return false, oneLine(err)
	}
	defer all.MustDrop()
	b, err := all.Int64Value([]int64{})
	if err != nil {
		return false, oneLine(err)
	}
	return b != 0, nil
}
