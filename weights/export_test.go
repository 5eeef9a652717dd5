package weights

import "github.com/sugarme/gotch"

// Test helpers for the weights_test package (tests that need gtl's
// architectures, which import this package through vision).
var (
	Float64s  = float64s
	WeightsPy = weightsPy
)

// SafetensorsDType returns the safetensors name of a gotch dtype ("F32").
func SafetensorsDType(dt gotch.DType) (string, error) {
	d, err := dtypeOf(dt)
	return d.st, err
}
