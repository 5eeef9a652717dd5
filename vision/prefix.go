package vision

import (
	"fmt"

	"github.com/sugarme/gotch/ts"
)

// ForwardAfter returns the logits [N, NumClasses] for the activations
// of the backbone's first n modules (Backbone[:n] of a Seq backbone, see
// FrozenPrefix): the remaining modules (none when n is the whole
// backbone), then the head. The caller owns them. It fails when the
// backbone is not a Seq of at least n modules.
func (m *Model) ForwardAfter(n int, a *ts.Tensor, train bool) (*ts.Tensor, error) {
	seq, ok := m.Backbone.(Seq)
	if !ok || n < 0 || n > len(seq) {
		return nil, fmt.Errorf("vision: %s: backbone has no first %d modules", m.Arch, n)
	}
	f, err := seq[n:].Forward(a, train)
	return m.logits(f, err, train)
}

// FrozenPrefix returns how many leading modules of the model's backbone
// (a top-level Seq) compute a fixed function of their input in training:
// the longest leading run whose every parameter is frozen (no gradient),
// whose batch norms normalise with their running statistics (Frozen, as
// SetStageFrozen with bnEval sets them) and which holds nothing random in
// training mode (no dropout or stochastic depth with P > 0). Their output
// for an image is then the same in every epoch, so a trainer may compute
// it once: Backbone[:n] maps images [N, 3, S, S] to activations (e.g.
// resnet18 with stem and layer1 frozen, n = 5: [N, 64, S/4, S/4]), and
// Backbone[n:] followed by Head maps those to logits [N, NumClasses].
//
// The walk goes into Seq, Parent (residual blocks) and the layers of this
// package; a module it cannot see into (a plain Func, a model's own
// struct) ends the run, as does TransformInput or a backbone that is not a
// Seq. The prefix must hold at least one parameter: a run of parameterless
// modules is not worth caching. When n is 0, why says what stopped it.
// It reads requires_grad: run it on a torch worker thread.
func (m *Model) FrozenPrefix() (n int, why string) {
	if m.TransformInput {
		return 0, fmt.Sprintf("%s transforms its input inside the model", m.Arch)
	}
	seq, ok := m.Backbone.(Seq)
	if !ok {
		return 0, fmt.Sprintf("%s's backbone is not a sequence of modules", m.Arch)
	}
	params := 0
	why = fmt.Sprintf("%s's first backbone module is not frozen", m.Arch)
	for i, mod := range seq {
		k, reason := fixedParams(mod)
		if reason != "" {
			why = fmt.Sprintf("%s backbone module %d: %s", m.Arch, i, reason)
			break
		}
		params += k
		if params > 0 {
			n = i + 1
		}
	}
	if n == 0 {
		return 0, why
	}
	return n, ""
}

// fixedParams returns the number of parameter tensors in mod's subtree,
// or why mod's training-mode output is not a fixed function of its input.
func fixedParams(mod Module) (int, string) {
	frozen := func(params ...*ts.Tensor) (int, string) {
		k := 0
		for _, t := range params {
			if t == nil {
				continue
			}
			rg, err := t.RequiresGrad()
			if err != nil {
				return 0, err.Error()
			}
			if rg {
				return 0, "trainable parameters"
			}
			k++
		}
		return k, ""
	}
	switch v := mod.(type) {
	case nil:
		return 0, ""
	case Seq:
		return children(v)
	case Parent:
		return children(v.Children())
	case *Conv2d:
		return frozen(v.W, v.B)
	case *BatchNorm2d:
		if !v.Frozen {
			return 0, "batch norm " + v.name + " follows the data in training"
		}
		return frozen(v.W, v.B)
	case *Linear:
		return frozen(v.W, v.B)
	case *LayerNorm:
		return frozen(v.W, v.B)
	case Stateless, Symbolic, inPlaceAct:
		return 0, ""
	case Dropout:
		if v.P != 0 {
			return 0, "dropout"
		}
		return 0, ""
	case StochasticDepth:
		if v.P != 0 {
			return 0, "stochastic depth"
		}
		return 0, ""
	default:
		return 0, fmt.Sprintf("a %T, which the walk cannot see into", mod)
	}
}

func children(ms []Module) (int, string) {
	n := 0
	for _, c := range ms {
		k, why := fixedParams(c)
		if why != "" {
			return 0, why
		}
		n += k
	}
	return n, ""
}
