package vision

import (
	"fmt"
	"math"
)

// Bounds on a checkpoint description's numbers: a JSON file from elsewhere
// must not make gtl resize images to a million pixels a side.
const (
	maxMetaClasses = 1 << 20
	maxMetaSize    = 8192 // crop and resize size, pixels
)

// checkMeta validates a checkpoint description read from JSON (a zero
// value means "not given" throughout).
func checkMeta(m *CheckpointMeta) error {
	p := m.Preprocess
	switch {
	case m.NumClasses < 0 || m.NumClasses > maxMetaClasses:
		return fmt.Errorf("num_classes %d: want 1 to %d", m.NumClasses, maxMetaClasses)
	case len(m.Classes) > maxMetaClasses:
		return fmt.Errorf("%d class names: want at most %d", len(m.Classes), maxMetaClasses)
	case p.CropSize < 0 || p.CropSize > maxMetaSize:
		return fmt.Errorf("preprocess crop_size %d: want 1 to %d pixels", p.CropSize, maxMetaSize)
	case p.ResizeSize < 0 || p.ResizeSize > maxMetaSize:
		return fmt.Errorf("preprocess resize_size %d: want 1 to %d pixels", p.ResizeSize, maxMetaSize)
	case p.Filter != "" && p.Filter != "bilinear" && p.Filter != "bicubic":
		return fmt.Errorf("preprocess interpolation %q: want bilinear or bicubic", p.Filter)
	}
	if p.CropSize > 0 {
		for i := range 3 {
			if s := p.Std[i]; !(s > 0) || math.IsInf(float64(s), 0) || math.IsNaN(float64(p.Mean[i])) || math.IsInf(float64(p.Mean[i]), 0) {
				return fmt.Errorf("preprocess mean %v std %v: want finite means and positive finite deviations", p.Mean, p.Std)
			}
		}
	}
	return nil
}
