package vision

import (
	"fmt"
	"sync/atomic"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/gtl-dev/gtl/torch"
	"github.com/gtl-dev/gtl/vision/transforms"
	"github.com/gtl-dev/gtl/weights"
)

// ImagesTensor stacks preprocessed images (all the same size) into a float32
// batch [N, 3, H, W], normalised with prep's mean and std, on dev. The
// caller owns the tensor.
func ImagesTensor(imgs []transforms.RGB, prep Preprocess, dev gotch.Device) (*ts.Tensor, error) {
	if len(imgs) == 0 {
		return nil, fmt.Errorf("vision: empty batch")
	}
	w, h := imgs[0].W, imgs[0].H
	data := make([]float32, 0, len(imgs)*3*w*h)
	for i, im := range imgs {
		if im.W != w || im.H != h {
			return nil, fmt.Errorf("vision: batch image %d is %dx%d, first is %dx%d", i, im.W, im.H, w, h)
		}
		data = append(data, im.CHW(prep.Mean, prep.Std)...)
	}
	return FloatTensor(data, []int64{int64(len(imgs)), 3, int64(h), int64(w)}, dev)
}

// FloatTensor makes a float32 tensor of the given shape from data, on dev.
func FloatTensor(data []float32, shape []int64, dev gotch.Device) (*ts.Tensor, error) {
	t, err := torch.FromSlice(data, shape)
	if err != nil {
		return nil, fmt.Errorf("vision: tensor %v: %w", shape, err)
	}
	if dev.IsCuda() {
		return t.ToDevice(dev, gotch.Float, false, false, true)
	}
	return t, nil
}

// Logits runs m in eval mode under inference mode (no autograd, batch
// norms folded into their convolutions) and returns the logits as float32
// rows. It must run on a torch worker thread.
func (m *Model) Logits(x *ts.Tensor) ([][]float32, error) {
	return m.rows(x, m.Forward)
}

// Embed returns the penultimate features of x as float32 rows (eval mode,
// inference mode). It must run on a torch worker thread.
func (m *Model) Embed(x *ts.Tensor) ([][]float32, error) {
	return m.rows(x, m.Features)
}

func (m *Model) rows(x *ts.Tensor, f func(*ts.Tensor, bool) (*ts.Tensor, error)) ([][]float32, error) {
	var out [][]float32
	err := torch.Inference(func() error {
		y, err := f(x, false)
		if err != nil {
			return err
		}
		defer y.MustDrop()
		size, err := y.Size()
		if err != nil {
			return err
		}
		vals := y.Float64Values()
		n, d := int(size[0]), int(size[1])
		out = make([][]float32, n)
		for i := range out {
			out[i] = make([]float32, d)
			for j := range out[i] {
				out[i][j] = float32(vals[i*d+j])
			}
		}
		return nil
	})
	return out, err
}

// mkldnnInfer turns the oneDNN evaluation path on (tests switch it off to
// compare; benchmarks can set it at link time with -ldflags
// -X .../vision.mkldnnInfer=off).
var mkldnnInfer = "on"

// States of Model.mkldnn.
const (
	mkldnnUntried int32 = iota
	mkldnnWorks
	mkldnnUnsupported
)

// mkldnnBackbone runs the backbone as PyTorch's frozen inference path does
// on the CPU (torch.jit.optimize_for_inference after torch.jit.freeze:
// batch norms folded into convolutions whose weights are reordered once
// into oneDNN's blocked layout, activations kept as MKLDNN tensors from
// layer to layer, converted back to a dense tensor at the global pooling).
// It applies in inference mode, in evaluation, on float32 CPU input, with
// folding on. ok is false when it does not apply or the backbone uses an op
// without a oneDNN kernel (SiLU, hardswish, concatenation, ...; ReLU6
// runs PyTorch's prim::MKLDNNHardTanh_): the first
// failure marks the model, and it, like every later call, takes the
// ordinary path. Neither does it apply to an input, or folded weights,
// holding NaN or Inf: oneDNN's ReLU and max pooling turn NaN into numbers
// where PyTorch's eager ops propagate it. The caller owns y.
func (m *Model) mkldnnBackbone(x *ts.Tensor, train bool) (y *ts.Tensor, ok bool) {
	if dev, err := x.Device(); err != nil || dev.Name != gotch.CPU.Name {
		return nil, false
	}
	if train || !foldBN || mkldnnInfer != "on" || atomic.LoadInt32(&m.mkldnn) == mkldnnUnsupported ||
		!torch.InInference() || x.DType() != gotch.Float || x.Dim() != 4 ||
		torch.AutocastEnabled(gotch.CPU) || torch.IsMkldnn(x) {
		return nil, false
	}
	// oneDNN's ReLU and max pooling turn NaN into numbers (PyTorch's
	// propagate it): an input with NaN or Inf takes the dense path.
	if ok, err := weights.AllFinite(x); err != nil || !ok {
		return nil, false
	}
	y, err := m.mkldnnForward(x)
	if err != nil {
		m.mkldnnErr = err
		atomic.StoreInt32(&m.mkldnn, mkldnnUnsupported)
		return nil, false
	}
	atomic.StoreInt32(&m.mkldnn, mkldnnWorks)
	return y, true
}

func (m *Model) mkldnnForward(x *ts.Tensor) (*ts.Tensor, error) {
	in := x
	if m.TransformInput {
		t, err := transformInput(x)
		if err != nil {
			return nil, err
		}
		defer t.MustDrop()
		in = t
	}
	xm, err := torch.ToMkldnn(in)
	if err != nil {
		return nil, err
	}
	defer xm.MustDrop()
	y, err := m.Backbone.Forward(xm, false)
	if err != nil {
		return nil, err
	}
	if torch.IsMkldnn(y) {
		d, err := torch.ToDense(y)
		y.MustDrop()
		if err != nil {
			return nil, err
		}
		y = d
	}
	return y, nil
}
