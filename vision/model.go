package vision

import (
	"fmt"
	"sort"
	"strings"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"

	"github.com/gtl-dev/gtl/internal/suggest"
	"github.com/gtl-dev/gtl/torch"
)

// Stage is one layer group of a model: what --freeze N and discriminative
// learning rates act on. Prefixes are the state-dict key prefixes of the
// torchvision modules it covers (each ends with ".").
type Stage struct {
	Name     string   `json:"name"`
	Prefixes []string `json:"prefixes"`
}

// Covers reports whether the parameter named key belongs to the stage.
func (s Stage) Covers(key string) bool {
	for _, p := range s.Prefixes {
		if strings.HasPrefix(key, p) {
			return true
		}
	}
	return false
}

// Model is a torchvision-compatible image classifier: its parameters carry
// torchvision's state-dict names, so torchvision weights load as they are.
type Model struct {
	Arch       string
	VS         *nn.VarStore
	NumClasses int
	InputSize  int // default training and evaluation crop (224; 299 for inception_v3)
	ResizeSize int // torchvision's eval resize before the centre crop (256; 342 for inception_v3)
	FeatureDim int // width of the penultimate features

	// Backbone maps images [N, 3, S, S] to penultimate features
	// [N, FeatureDim]; Head maps those to logits.
	Backbone, Head Module
	// Embedding, when set, replaces Backbone for Features (embeddings,
	// cached features): for models whose head needs the spatial map
	// (SqueezeNet), it pools the map to [N, EmbeddingDim].
	Embedding    Module
	EmbeddingDim int
	// HeadPrefixes are the state-dict prefixes of the classifier layer that a
	// new number of classes replaces (e.g. "fc.").
	HeadPrefixes []string
	// Stages partition the parameters, from the stem to the head.
	Stages []Stage
	// OptionalPrefixes are the state-dict prefixes of parts that a weights
	// file may lack (see Spec.Optional).
	OptionalPrefixes []string

	// NoDropout turns dropout and stochastic depth off in training mode
	// (for deterministic checks); the model's layers share this flag.
	NoDropout bool

	bns []*BatchNorm2d // every batch norm, for freezing by stage

	// TransformInput re-normalises ImageNet-normalised input to the
	// (x-0.5)/0.5 range inside the model, as torchvision's inception_v3 does
	// with its pretrained weights (transform_input=True).
	TransformInput bool

	// mkldnn records whether the oneDNN inference path (infer.go) works
	// for this model (atomic; mkldnnUntried, mkldnnWorks or
	// mkldnnUnsupported); mkldnnErr is the op that made it unsupported.
	mkldnn    int32
	mkldnnErr error
}

// TransformInputAffine returns the per-channel scale and shift of
// torchvision's Inception3._transform_input, which maps
// ImageNet-normalised channels to (x-0.5)/0.5: x·(std/0.5) + (mean-0.5)/0.5.
func TransformInputAffine() (scale, shift []float32) {
	mean := []float64{0.485, 0.456, 0.406}
	std := []float64{0.229, 0.224, 0.225}
	scale, shift = make([]float32, 3), make([]float32, 3)
	for c := range scale {
		scale[c] = float32(std[c] / 0.5)
		shift[c] = float32((mean[c] - 0.5) / 0.5)
	}
	return scale, shift
}

// transformInput maps ImageNet-normalised channels to (x-0.5)/0.5, as
// torchvision's Inception3._transform_input. The caller owns the result.
func transformInput(x *ts.Tensor) (*ts.Tensor, error) {
	scale, shift := TransformInputAffine()
	a, err := ts.NewTensorFromData(scale, []int64{1, 3, 1, 1})
	if err != nil {
		return nil, err
	}
	defer a.MustDrop()
	b, err := ts.NewTensorFromData(shift, []int64{1, 3, 1, 1})
	if err != nil {
		return nil, err
	}
	defer b.MustDrop()
	dev, err := x.Device()
	if err != nil {
		return nil, err
	}
	if dev.IsCuda() {
		if a, err = a.ToDevice(dev, gotch.Float, false, false, false); err != nil {
			return nil, err
		}
		defer a.MustDrop()
		if b, err = b.ToDevice(dev, gotch.Float, false, false, false); err != nil {
			return nil, err
		}
		defer b.MustDrop()
	}
	y, err := x.Mul(a, false)
	if err != nil {
		return nil, err
	}
	return y.Add(b, true)
}

// backbone runs the input transform (when set) and the backbone.
func (m *Model) backbone(x *ts.Tensor, train bool) (*ts.Tensor, error) {
	if y, ok := m.mkldnnBackbone(x, train); ok {
		return y, nil
	}
	if !m.TransformInput {
		return m.Backbone.Forward(x, train)
	}
	t, err := transformInput(x)
	if err != nil {
		return nil, err
	}
	defer t.MustDrop()
	return m.Backbone.Forward(t, train)
}

// SetStageFrozen freezes or unfreezes stage i: its parameters stop (or
// resume) receiving gradients, so optimisers leave them and their state
// alone, and, when bnEval is set, its batch norms normalise with their
// running statistics and stop updating them in training mode. It must run
// on a torch worker thread.
func (m *Model) SetStageFrozen(i int, frozen, bnEval bool) error {
	if i < 0 || i >= len(m.Stages) {
		return fmt.Errorf("vision: %s has %d stages, no stage %d", m.Arch, len(m.Stages), i+1)
	}
	st := m.Stages[i]
	for name, v := range m.VS.Variables() {
		if !st.Covers(name) || v.DType() != gotch.Float && v.DType() != gotch.Double && v.DType() != gotch.Half {
			continue
		}
		if IsBuffer(name) {
			continue // buffers never take gradients
		}
		v := v
		if err := torch.SetRequiresGrad(&v, !frozen); err != nil {
			return fmt.Errorf("vision: %s: freeze %s: %w", m.Arch, name, err)
		}
	}
	for _, bn := range m.bns {
		if st.Covers(bn.name + ".") {
			bn.Frozen = frozen && bnEval
		}
	}
	return nil
}

// StageFrozen reports whether every parameter of stage i is frozen.
func (m *Model) StageFrozen(i int) bool {
	for name, v := range m.VS.Variables() {
		if m.Stages[i].Covers(name) {
			if rg, _ := v.RequiresGrad(); rg {
				return false
			}
		}
	}
	return true
}

// FeaturesDim returns the width of Features' output.
func (m *Model) FeaturesDim() int {
	if m.Embedding != nil {
		return m.EmbeddingDim
	}
	return m.FeatureDim
}

// Close frees the model's parameters (libtorch memory that Go's garbage
// collector cannot see). The model must not be used afterwards.
func (m *Model) Close() {
	if m != nil && m.VS != nil {
		for _, bn := range m.bns {
			bn.dropFold()
		}
		m.VS.Destroy()
	}
}

// Forward returns the logits for a batch of images. The caller owns them.
func (m *Model) Forward(x *ts.Tensor, train bool) (*ts.Tensor, error) {
	f, err := m.backbone(x, train)
	return m.logits(f, err, train)
}

// logits maps the backbone's output f (or its error) to the head's
// logits, freeing f.
func (m *Model) logits(f *ts.Tensor, err error, train bool) (*ts.Tensor, error) {
	if err != nil {
		return nil, fmt.Errorf("vision: %s: %w", m.Arch, err)
	}
	defer f.MustDrop()
	out, err := m.Head.Forward(f, train)
	if err != nil {
		return nil, fmt.Errorf("vision: %s head: %w", m.Arch, err)
	}
	return out, nil
}

// Features returns the penultimate features of a batch: [N, FeatureDim],
// or [N, EmbeddingDim] for a model with its own Embedding.
func (m *Model) Features(x *ts.Tensor, train bool) (*ts.Tensor, error) {
	if m.Embedding != nil {
		f, err := m.Embedding.Forward(x, train)
		if err != nil {
			return nil, fmt.Errorf("vision: %s embedding: %w", m.Arch, err)
		}
		return f, nil
	}
	f, err := m.backbone(x, train)
	if err != nil {
		return nil, fmt.Errorf("vision: %s: %w", m.Arch, err)
	}
	return f, nil
}

// Dropout returns a dropout layer (probability p) tied to the model's NoDropout switch.
func (m *Model) Dropout(p float64) Dropout { return Dropout{P: p, Off: &m.NoDropout} }

// StochasticDepth returns a stochastic-depth layer (drop probability p, per
// sample) tied to the model's NoDropout switch.
func (m *Model) StochasticDepth(p float64) StochasticDepth {
	return StochasticDepth{P: p, Off: &m.NoDropout}
}

// StageParams returns the number of parameter elements (buffers such as
// batch-norm statistics excluded, frozen parameters included) in each
// stage, in stage order, and the names of any tensors (parameters or
// buffers) that no stage covers.
func (m *Model) StageParams() (counts []int64, uncovered []string) {
	counts = make([]int64, len(m.Stages))
	for name, t := range m.VS.Variables() {
		found := false
		for i, s := range m.Stages {
			if s.Covers(name) {
				if !IsBuffer(name) {
					counts[i] += int64(t.Numel())
				}
				found = true
				break
			}
		}
		if !found {
			uncovered = append(uncovered, name)
		}
	}
	sort.Strings(uncovered)
	return counts, uncovered
}

// IsBuffer reports whether a state-dict name is a buffer (batch-norm
// statistics, Swin's relative_position_index), not a parameter.
func IsBuffer(name string) bool {
	return strings.HasSuffix(name, "running_mean") || strings.HasSuffix(name, "running_var") || strings.HasSuffix(name, "num_batches_tracked") ||
		strings.HasSuffix(name, "relative_position_index")
}

// NumParams returns the number of trainable parameter elements (buffers
// excluded), as torchvision counts with sum(p.numel() for p in m.parameters()).
func (m *Model) NumParams() int64 {
	var n int64
	for _, t := range m.VS.TrainableVariables() {
		n += int64(t.Numel())
	}
	return n
}

// Spec describes one architecture.
type Spec struct {
	Name       string
	Family     string // e.g. "resnet"
	InputSize  int    // default 224
	ResizeSize int    // default 256
	// Build creates the parameters under p and fills m's Backbone, Head,
	// HeadPrefixes, Stages and FeatureDim.
	Build func(m *Model, p *nn.Path) error
	// SkipPrefixes are state-dict key prefixes that published weight files
	// carry but the model does not build (googlenet's auxiliary classifiers
	// "aux1.", "aux2.", which torchvision drops after loading): Open skips
	// those tensors. (The opposite of parts a file may lack.)
	SkipPrefixes []string
	// Optional are the state-dict prefixes of parts that torchvision can
	// build the model without (inception_v3(aux_logits=False) has no
	// "AuxLogits."): a weights file without them loads, and those tensors
	// keep their initial values (reported as LoadReport.Initialized).
	Optional []string
}

var registry = map[string]Spec{}

// Register adds an architecture to the registry that New, Open, Lookup and
// Architectures read. Package vision/models registers torchvision's
// architectures from its init functions, as image/png registers its format
// with package image: import it (blank import where nothing else of it is
// used) to build models by name. Register panics when the name is already
// taken (a programming error, found when the program starts). A zero
// InputSize becomes 224, a zero ResizeSize 256.
func Register(s Spec) {
	if _, dup := registry[s.Name]; dup {
		panic("vision: architecture registered twice: " + s.Name)
	}
	if s.InputSize == 0 {
		s.InputSize = 224
	}
	if s.ResizeSize == 0 {
		s.ResizeSize = 256
	}
	registry[s.Name] = s
}

// Architectures lists the architecture names gtl knows, in natural order
// (resnet18 before resnet101).
func Architectures() []string {
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool { return naturalLess(names[i], names[j]) })
	return names
}

// naturalLess compares strings with runs of digits compared as numbers.
func naturalLess(a, b string) bool {
	for a != "" && b != "" {
		da, db := digitRun(a), digitRun(b)
		if da > 0 && db > 0 {
			na, nb := strings.TrimLeft(a[:da], "0"), strings.TrimLeft(b[:db], "0")
			if len(na) != len(nb) {
				return len(na) < len(nb)
			}
			if na != nb {
				return na < nb
			}
			a, b = a[da:], b[db:]
			continue
		}
		if a[0] != b[0] {
			return a[0] < b[0]
		}
		a, b = a[1:], b[1:]
	}
	return len(a) < len(b)
}

func digitRun(s string) int {
	n := 0
	for n < len(s) && s[n] >= '0' && s[n] <= '9' {
		n++
	}
	return n
}

// Lookup returns the spec of an architecture.
func Lookup(arch string) (Spec, error) {
	s, ok := registry[arch]
	if !ok && len(registry) == 0 {
		return Spec{}, fmt.Errorf("vision: unknown architecture %q: no architecture is registered (import github.com/gtl-dev/gtl/vision/models)", arch)
	}
	if !ok {
		return Spec{}, fmt.Errorf("vision: unknown architecture %q; closest: %s (gtl models lists all %d)", arch,
			strings.Join(suggest.Closest(arch, Architectures(), 3, -1), ", "), len(registry))
	}
	return s, nil
}

// New builds an architecture with numClasses outputs and torchvision's
// initialisation, on dev. It must run on a torch worker thread.
func New(arch string, numClasses int, dev gotch.Device) (*Model, error) {
	s, err := Lookup(arch)
	if err != nil {
		return nil, err
	}
	if numClasses < 1 {
		return nil, fmt.Errorf("vision: %s: %d classes, want at least 1", arch, numClasses)
	}
	m := &Model{Arch: arch, VS: nn.NewVarStore(dev), NumClasses: numClasses, InputSize: s.InputSize, ResizeSize: s.ResizeSize,
		OptionalPrefixes: s.Optional}
	building.mu.Lock()
	building.bns = &m.bns
	err = s.Build(m, m.VS.Root())
	building.bns = nil
	building.mu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("vision: build %s: %w", arch, err)
	}
	return m, nil
}
