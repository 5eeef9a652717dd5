package models

import (
	"fmt"
	"math"

	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"

	"github.com/gtl-dev/gtl/vision"
)

// SmallCNN is a two-block convolutional network for small images (MNIST
// sized): conv3×3(32)-ReLU-maxpool, conv3×3(64)-ReLU-maxpool, linear(128)-ReLU,
// linear(classes). It trains in seconds on a CPU and is what `gtl demo` and
// the smoke tests use; transfer learning uses the torchvision architectures.
type SmallCNN struct {
	conv1W, conv1B, conv2W, conv2B *ts.Tensor
	fc1W, fc1B, fc2W, fc2B         *ts.Tensor
}

// NewSmallCNN creates the network's parameters under p for images of
// inChannels×size×size (size divisible by 4) and numClasses outputs, with
// torchvision's initialisation: Kaiming-normal (fan-out) convolutions with
// zero bias, and PyTorch's default uniform ±1/√fan_in linear layers.
func NewSmallCNN(p *nn.Path, inChannels, numClasses, size int) (*SmallCNN, error) {
	if inChannels < 1 || numClasses < 2 || size < 4 || size%4 != 0 {
		return nil, fmt.Errorf("models: smallcnn: %d channels, %d classes, size %d: want ≥1 channel, ≥2 classes, size a multiple of 4", inChannels, numClasses, size)
	}
	const c1, c2, hidden = 32, 64, 128
	flat := int64(c2 * (size / 4) * (size / 4))
	m := &SmallCNN{}
	type param struct {
		dst  **ts.Tensor
		path string
		name string
		dims []int64
		init nn.Init
	}
	convStd := func(out, k int64) float64 { return math.Sqrt(2 / float64(out*k*k)) }
	bound := func(fanIn int64) float64 { return 1 / math.Sqrt(float64(fanIn)) }
	params := []param{
		{&m.conv1W, "conv1", "weight", []int64{c1, int64(inChannels), 3, 3}, vision.Normal(convStd(c1, 3))},
		{&m.conv1B, "conv1", "bias", []int64{c1}, nn.NewConstInit(0)},
		{&m.conv2W, "conv2", "weight", []int64{c2, c1, 3, 3}, vision.Normal(convStd(c2, 3))},
		{&m.conv2B, "conv2", "bias", []int64{c2}, nn.NewConstInit(0)},
		{&m.fc1W, "fc1", "weight", []int64{hidden, flat}, vision.Uniform(bound(flat))},
		{&m.fc1B, "fc1", "bias", []int64{hidden}, vision.Uniform(bound(flat))},
		{&m.fc2W, "fc2", "weight", []int64{int64(numClasses), hidden}, vision.Uniform(bound(hidden))},
		{&m.fc2B, "fc2", "bias", []int64{int64(numClasses)}, vision.Uniform(bound(hidden))},
	}
	for _, q := range params {
		t, err := p.Sub(q.path).NewVar(q.name, q.dims, q.init)
		if err != nil {
			return nil, fmt.Errorf("models: smallcnn: %s.%s: %w", q.path, q.name, err)
		}
		*q.dst = t
	}
	return m, nil
}

// Forward returns the logits for a batch x of shape [N, C, H, W]. The
// network has no dropout or batch norm, so train changes nothing; it is
// there to match the other models. The caller owns the result; x is kept.
func (m *SmallCNN) Forward(x *ts.Tensor, train bool) (*ts.Tensor, error) {
	block := func(in *ts.Tensor, w, b *ts.Tensor, dropIn bool) (*ts.Tensor, error) {
		c, err := ts.Conv2d(in, w, b, []int64{1, 1}, []int64{1, 1}, []int64{1, 1}, 1)
		if dropIn {
			in.MustDrop()
		}
		if err != nil {
			return nil, err
		}
		r, err := c.Relu(true)
		if err != nil {
			return nil, err
		}
		return r.MaxPool2d([]int64{2, 2}, []int64{2, 2}, []int64{0, 0}, []int64{1, 1}, false, true)
	}
	h, err := block(x, m.conv1W, m.conv1B, false)
	if err != nil {
		return nil, fmt.Errorf("models: smallcnn: conv1 on input %v: %w", x.MustSize(), err)
	}
	if h, err = block(h, m.conv2W, m.conv2B, true); err != nil {
		return nil, fmt.Errorf("models: smallcnn: conv2: %w", err)
	}
	if h, err = h.Flatten(1, -1, true); err != nil {
		return nil, fmt.Errorf("models: smallcnn: flatten: %w", err)
	}
	f, err := ts.Linear(h, m.fc1W, m.fc1B)
	h.MustDrop()
	if err != nil {
		return nil, fmt.Errorf("models: smallcnn: fc1 (input of %v): %w", x.MustSize(), err)
	}
	if f, err = f.Relu(true); err != nil {
		return nil, fmt.Errorf("models: smallcnn: relu: %w", err)
	}
	out, err := ts.Linear(f, m.fc2W, m.fc2B)
	f.MustDrop()
	if err != nil {
		return nil, fmt.Errorf("models: smallcnn: fc2: %w", err)
	}
	return out, nil
}
