package vision

import (
	"fmt"
	"math"

	"github.com/sugarme/gotch"
	lib "github.com/sugarme/gotch/libtch"
	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"

	"github.com/gtl-dev/gtl/torch"
)

// Parameter initialisations of torchvision's models (torch.nn.init), as
// gotch nn.Init values that draw in the requested dtype.

// KaimingNormalOut is torchvision's convolution init:
// kaiming_normal_(mode="fan_out", nonlinearity="relu").
func KaimingNormalOut(out int64, k ...int64) nn.Init {
	fan := float64(out)
	for _, v := range k {
		fan *= float64(v)
	}
	return normalInit{0, math.Sqrt(2 / fan)}
}

// Normal is N(0, std²) (torch.nn.init.normal_).
func Normal(std float64) nn.Init { return normalInit{0, std} }

// normalInit is N(mean, std²), the numbers of gotch's nn.NewRandnInit
// without its garbage: for mean 0 that init draws a whole tensor, discards
// it and leaves it to Go's finalizers, so every model built held a second
// copy of its convolution weights until the next garbage collection
// (measured: +43.6 MB of C heap per resnet18 built and closed, released
// only when the GC ran; in gtl compare, one model per run, RSS rose until a
// collection and then dropped). This one draws the discarded tensor too,
// so seeded models keep their weights, and frees it at once.
type normalInit struct{ mean, std float64 }

var _ nn.Init = normalInit{}

func (n normalInit) sample(dims []int64, dtype gotch.DType, dev gotch.Device) (*ts.Tensor, error) {
	if n.mean == 0 { // gotch's discarded draw, kept for the random stream
		d, err := ts.Randn(dims, dtype, dev)
		if err != nil {
			return nil, err
		}
		d.MustDrop()
	}
	x, err := ts.Randn(dims, dtype, dev)
	if err != nil {
		return nil, err
	}
	if x, err = x.MulScalar(ts.FloatScalar(n.std), true); err != nil {
		return nil, err
	}
	return x.AddScalar(ts.FloatScalar(n.mean), true)
}

// InitTensor returns a new tensor drawn from N(mean, std²).
func (n normalInit) InitTensor(dims []int64, dev gotch.Device, dtypeOpt ...gotch.DType) *ts.Tensor {
	return sampler(n.sample).initTensor("normal", dims, dev, dtypeOpt)
}

// Set redraws x in place.
func (n normalInit) Set(x *ts.Tensor) { sampler(n.sample).set("normal", x) }

// Uniform is U(-b, b) (torch.nn.init.uniform_), drawn without gotch's leak
// (see uniformInit).
func Uniform(b float64) nn.Init { return uniformInit{-b, b} }

// uniformInit is U(lo, hi), drawn as nn.NewUniformInit draws it (zeros,
// then libtorch's uniform_: the same numbers). gotch's uniform_ wrapper
// replaces the tensor's C handle by a new one and never frees the old,
// which keeps the storage alive for ever: nn.NewUniformInit leaked every
// tensor it made (measured: vision.New+Close of squeezenet1_1 grew RSS by
// its 2.9 MB of weights each time). This one frees the old handle.
type uniformInit struct{ lo, hi float64 }

var _ nn.Init = uniformInit{}

func (u uniformInit) sample(dims []int64, dtype gotch.DType, dev gotch.Device) (*ts.Tensor, error) {
	x, err := ts.Zeros(dims, dtype, dev)
	if err != nil {
		return nil, err
	}
	if err := uniformInPlace(x, u.lo, u.hi); err != nil {
		x.MustDrop()
		return nil, err
	}
	return x, nil
}

// uniformInPlace fills x, a tensor whose Go value has no copies, with
// U(lo, hi) through libtorch's uniform_, freeing the C handle gotch's
// wrapper replaces.
func uniformInPlace(x *ts.Tensor, lo, hi float64) error {
	old := lib.Ctensor(x.Ctensor())
	if err := x.Uniform_(lo, hi); err != nil {
		return err
	}
	if lib.Ctensor(x.Ctensor()) != old {
		lib.AtFree(old)
	}
	return nil
}

// InitTensor returns a new tensor drawn from U(lo, hi).
func (u uniformInit) InitTensor(dims []int64, dev gotch.Device, dtypeOpt ...gotch.DType) *ts.Tensor {
	return sampler(u.sample).initTensor("uniform", dims, dev, dtypeOpt)
}

// Set redraws x.
func (u uniformInit) Set(x *ts.Tensor) { sampler(u.sample).set("uniform", x) }

// TruncNormal is torch.nn.init.trunc_normal_(mean=0, std, a=-2, b=2): a
// normal distribution truncated to the absolute bounds [-2, 2], sampled by
// the inverse CDF as PyTorch does.
type TruncNormal struct{ Std float64 }

var _ nn.Init = TruncNormal{}

// sample draws a tensor of the given shape.
func (t TruncNormal) sample(dims []int64, dtype gotch.DType, dev gotch.Device) (*ts.Tensor, error) {
	const a, b = -2.0, 2.0
	cdf := func(x float64) float64 { return (1 + math.Erf(x/math.Sqrt2)) / 2 }
	lo, hi := 2*cdf(a/t.Std)-1, 2*cdf(b/t.Std)-1
	u, err := ts.Rand(dims, dtype, dev) // U[0, 1)
	if err != nil {
		return nil, err
	}
	if u, err = u.MulScalar(ts.FloatScalar(hi-lo), true); err != nil {
		return nil, err
	}
	if u, err = u.AddScalar(ts.FloatScalar(lo), true); err != nil {
		return nil, err
	}
	if u, err = u.Erfinv(true); err != nil {
		return nil, err
	}
	if u, err = u.MulScalar(ts.FloatScalar(t.Std*math.Sqrt2), true); err != nil {
		return nil, err
	}
	return u.Clamp(ts.FloatScalar(a), ts.FloatScalar(b), true)
}

// sampler draws a new tensor of the given shape, dtype and device.
type sampler func(dims []int64, dtype gotch.DType, dev gotch.Device) (*ts.Tensor, error)

// initTensor implements nn.Init's InitTensor for a sampler. nn.Init cannot
// return an error: a failing libtorch op panics, which torch.Do turns into
// an error of the enclosing call (vision.New).
func (s sampler) initTensor(what string, dims []int64, dev gotch.Device, dtypeOpt []gotch.DType) *ts.Tensor {
	dtype := gotch.DefaultDType
	if len(dtypeOpt) > 0 {
		dtype = dtypeOpt[0]
	}
	out, err := s(dims, dtype, dev)
	if err != nil {
		panic(fmt.Errorf("vision: %s init: %w", what, err))
	}
	return out
}

// set implements nn.Init's Set: redraw x in place, without recording
// gradients; it must run on a torch worker thread.
func (s sampler) set(what string, x *ts.Tensor) {
	err := torch.WithoutGrad(func() error {
		size, err := x.Size()
		if err != nil {
			return err
		}
		dev, err := x.Device()
		if err != nil {
			return err
		}
		v, err := s(size, x.DType(), dev)
		if err != nil {
			return err
		}
		x.Copy_(v)
		v.MustDrop()
		return nil
	})
	if err != nil {
		panic(fmt.Errorf("vision: %s init: %w", what, err))
	}
}

// InitTensor returns a new tensor drawn from the distribution.
func (t TruncNormal) InitTensor(dims []int64, dev gotch.Device, dtypeOpt ...gotch.DType) *ts.Tensor {
	return sampler(t.sample).initTensor("trunc_normal", dims, dev, dtypeOpt)
}

// Set redraws x in place.
func (t TruncNormal) Set(x *ts.Tensor) { sampler(t.sample).set("trunc_normal", x) }

// Constant fills a tensor with one value, in the requested dtype (gotch's
// nn.NewConstInit makes float64 tensors for values other than 0 and 1).
type Constant float64

var _ nn.Init = Constant(0)

func (c Constant) sample(dims []int64, dtype gotch.DType, dev gotch.Device) (*ts.Tensor, error) {
	return ts.Full(dims, ts.FloatScalar(float64(c)), dtype, dev)
}

// InitTensor returns a new tensor filled with c.
func (c Constant) InitTensor(dims []int64, dev gotch.Device, dtypeOpt ...gotch.DType) *ts.Tensor {
	return sampler(c.sample).initTensor("constant", dims, dev, dtypeOpt)
}

// Set fills x with c in place.
func (c Constant) Set(x *ts.Tensor) { sampler(c.sample).set("constant", x) }
