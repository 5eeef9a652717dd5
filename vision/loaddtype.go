package vision

import (
	"fmt"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"
)

// checkLoadDType refuses to load integer or boolean data into a
// floating-point parameter (PyTorch's load_state_dict would cast it
// silently; such a file is not weights for this model). Other dtype
// differences (float16, bfloat16, float64 weights) are converted.
func checkLoadDType(name string, src, dst *ts.Tensor) error {
	isFloat := func(d gotch.DType) bool {
		return d == gotch.Float || d == gotch.Double || d == gotch.Half || d == gotch.BFloat16
	}
	if s, d := src.DType(), dst.DType(); isFloat(d) && !isFloat(s) {
		return fmt.Errorf("tensor %q: dtype %v in the file, want a floating-point type", name, s)
	}
	return nil
}
