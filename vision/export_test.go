package vision

import (
	"sync/atomic"

	"github.com/gtl-dev/gtl/torch"
)

// Internals for the vision_test package: the tests that need gtl's
// architectures (registered by vision/models, which imports vision) are
// external tests.

// FoldBN is foldBN.
var FoldBN = foldBN

// BatchNorms returns every batch norm of m.
func BatchNorms(m *Model) []*BatchNorm2d { return m.bns }

// Folded reports whether bn holds a folded convolution.
func (bn *BatchNorm2d) Folded() bool { return bn.fold.w != nil }

// DropFold drops bn's folded convolution.
func (bn *BatchNorm2d) DropFold() { bn.dropFold() }

// Name returns bn's module name (e.g. "layer1.0.bn1").
func (bn *BatchNorm2d) Name() string { return bn.name }

// SetFoldBN switches batch-norm folding (foldBN) and returns the old value.
func SetFoldBN(on bool) bool { old := foldBN; foldBN = on; return old }

// SetMkldnnInfer sets the oneDNN inference switch (mkldnnInfer).
func SetMkldnnInfer(v string) { mkldnnInfer = v }

// The oneDNN path's states.
const (
	MkldnnUntried     = mkldnnUntried
	MkldnnWorks       = mkldnnWorks
	MkldnnUnsupported = mkldnnUnsupported
)

// MkldnnState returns m's oneDNN state and the error that made it unsupported.
func MkldnnState(m *Model) (int32, error) { return atomic.LoadInt32(&m.mkldnn), m.mkldnnErr }

// FoldedMkldnn reports whether bn holds a folded weight prepacked for oneDNN.
func (bn *BatchNorm2d) FoldedMkldnn() bool {
	return bn.fold.w != nil && bn.fold.key.mkldnn && torch.IsMkldnn(bn.fold.w)
}
