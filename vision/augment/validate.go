package augment

import "fmt"

// validator is implemented by the ops of this package.
type validator interface{ validate() error }

// Validate checks the parameters of every op of this package in p, so that
// a bad configuration fails once, up front, rather than inside a loader
// worker. Ops from elsewhere are not checked.
func (p Pipeline) Validate() error {
	for i, op := range p {
		if v, ok := op.(validator); ok {
			if err := v.validate(); err != nil {
				return fmt.Errorf("augment: op %d %s: %w", i, op, err)
			}
		}
	}
	return nil
}

func checkRange(name string, r [2]float64, lo, hi float64) error {
	if !(lo <= r[0] && r[0] <= r[1] && r[1] <= hi) {
		return fmt.Errorf("%s [%g, %g] must be ordered within [%g, %g]", name, r[0], r[1], lo, hi)
	}
	return nil
}

func checkProb(p float64) error {
	if !(p >= 0 && p <= 1) {
		return fmt.Errorf("probability %g outside [0, 1]", p)
	}
	return nil
}

func (c RandomResizedCrop) validate() error {
	c = c.defaults()
	if c.Size <= 0 {
		return fmt.Errorf("size %d, want > 0", c.Size)
	}
	if err := checkRange("scale", c.Scale, 0, 1); err != nil {
		return err
	}
	if c.Scale[1] == 0 {
		return fmt.Errorf("scale [%g, %g] must reach above 0", c.Scale[0], c.Scale[1])
	}
	if c.Ratio[0] <= 0 {
		return fmt.Errorf("ratio [%g, %g] must be positive", c.Ratio[0], c.Ratio[1])
	}
	return checkRange("ratio", c.Ratio, 0, 1e9)
}

func (f HorizontalFlip) validate() error { return checkProb(f.P) }

func (e Eval) validate() error {
	if e.Size <= 0 || e.ResizeSize < 0 {
		return fmt.Errorf("size %d, resize %d: want size > 0, resize ≥ 0", e.Size, e.ResizeSize)
	}
	return nil
}

func (o Rotation) validate() error {
	if !(o.Degrees >= 0 && o.Degrees <= 360) {
		return fmt.Errorf("degrees %g outside [0, 360]", o.Degrees)
	}
	return nil
}

func (o ColorJitter) validate() error {
	for _, v := range []float64{o.Brightness, o.Contrast, o.Saturation} {
		if !(v >= 0) {
			return fmt.Errorf("factor %g, want ≥ 0", v)
		}
	}
	if !(o.Hue >= 0 && o.Hue <= 0.5) {
		return fmt.Errorf("hue %g outside [0, 0.5]", o.Hue)
	}
	return nil
}

func (o TrivialAugmentWide) validate() error {
	if o.Bins < 0 || o.Bins == 1 {
		return fmt.Errorf("bins %d, want ≥ 2 (0 for 31)", o.Bins)
	}
	return nil
}

func (o RandAugment) validate() error {
	n, m, bins := orDefault(o.N, 2), orDefault(o.M, 9), orDefault(o.Bins, 31)
	if n < 0 || bins < 2 || m < 0 || m >= bins {
		return fmt.Errorf("n %d, m %d, bins %d: want n ≥ 0, bins ≥ 2, 0 ≤ m < bins", n, m, bins)
	}
	return nil
}

// Validate checks the erasing parameters.
func (e RandomErasing) Validate() error {
	e = e.defaults()
	if err := checkProb(e.P); err != nil {
		return fmt.Errorf("augment: random erasing: %w", err)
	}
	if err := checkRange("scale", e.Scale, 0, 1); err != nil {
		return fmt.Errorf("augment: random erasing: %w", err)
	}
	if e.Ratio[0] <= 0 || e.Ratio[0] > e.Ratio[1] {
		return fmt.Errorf("augment: random erasing: ratio [%g, %g] must be positive and ordered", e.Ratio[0], e.Ratio[1])
	}
	return nil
}
