package vision

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
