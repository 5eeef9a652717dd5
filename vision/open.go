package vision

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/gtl-dev/gtl/vision/datasets"
	"github.com/gtl-dev/gtl/vision/transforms"
	"github.com/gtl-dev/gtl/weights"
)

// CheckpointMeta is the JSON written beside a gtl checkpoint's weights: what
// a later run needs to rebuild and use the model.
type CheckpointMeta struct {
	Arch       string              `json:"arch"`
	NumClasses int                 `json:"num_classes"`
	Classes    datasets.ClassNames `json:"classes,omitempty"` // escaped in JSON (see datasets.EscapeName)
	Stages     []Stage             `json:"stages,omitempty"`
	// TransformInput: the model re-normalises its input (torchvision's
	// inception_v3 with its pretrained weights).
	TransformInput bool           `json:"transform_input,omitempty"`
	Preprocess     Preprocess     `json:"preprocess"`
	Train          map[string]any `json:"train,omitempty"` // the resolved training configuration
	// MultiLabel marks a multi-label classifier: each class's probability
	// is the sigmoid of its logit, and an image carries every class whose
	// probability is above its threshold (Thresholds, one per class;
	// default 0.5 each, as fastai's accuracy_multi).
	MultiLabel bool      `json:"multi_label,omitempty"`
	Thresholds []float64 `json:"thresholds,omitempty"`
}

// Preprocess is the evaluation transform a model expects.
type Preprocess struct {
	CropSize   int        `json:"crop_size"`
	ResizeSize int        `json:"resize_size"`
	Filter     string     `json:"interpolation"` // "bilinear" or "bicubic"
	Mean       [3]float32 `json:"mean"`
	Std        [3]float32 `json:"std"`
}

// Eval returns the transform.
func (p Preprocess) Eval() transforms.Eval {
	f := transforms.Bilinear
	if p.Filter == "bicubic" {
		f = transforms.Bicubic
	}
	return transforms.EvalPreset(p.CropSize, p.ResizeSize, f)
}

// MetaPath returns the JSON file that goes with a weights file
// (x.safetensors → x.json).
func MetaPath(weights string) string {
	for _, ext := range []string{".safetensors", ".pth", ".pt", ".ot"} {
		if strings.HasSuffix(weights, ext) {
			return strings.TrimSuffix(weights, ext) + ".json"
		}
	}
	return weights + ".json"
}

// ReadMeta reads a weights file's gtl description: the JSON beside it
// (MetaPath), or else, for a .safetensors, the description in its
// __metadata__ (MetaKey). It returns nil, nil when there is none (plain
// torchvision files have none).
func ReadMeta(path string) (*CheckpointMeta, error) {
	where := MetaPath(path)
	b, err := os.ReadFile(where)
	if os.IsNotExist(err) {
		if !strings.HasSuffix(strings.ToLower(path), ".safetensors") {
			return nil, nil
		}
		md, err := weights.SafetensorsMetadata(path)
		if err != nil || md[MetaKey] == "" {
			return nil, nil // an unreadable file fails where its tensors are read
		}
		b, where = []byte(md[MetaKey]), path+" (__metadata__ "+MetaKey+")"
	} else if err != nil {
		return nil, fmt.Errorf("vision: %w", err)
	}
	var m CheckpointMeta
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("vision: %s: not a gtl checkpoint description: %w", where, err)
	}
	if err := checkMeta(&m); err != nil {
		return nil, fmt.Errorf("vision: %s: %w", where, err)
	}
	return &m, nil
}

// OpenOptions says which model to build and how to initialise it.
type OpenOptions struct {
	Arch    string // required unless the weights' checkpoint JSON names it
	Weights string // weights file; empty: none
	// WeightsKey names the entry of a wrapping checkpoint to take the
	// weights from (see weights.WeightsOptions.Key); empty: chosen as it says.
	WeightsKey string
	// WeightsPrefix takes the weights under this name prefix, which it
	// removes (see weights.WeightsOptions.Prefix): the backbone of a
	// self-supervised checkpoint ("module.encoder_q."). Empty: the
	// top level; when the model's tensors are not there, the refusal names
	// the prefixes under which a complete backbone sits.
	WeightsPrefix string
	// AllowNonFinite loads weights that hold NaN or Inf; by default they
	// are refused, naming the tensors (the model would compute NaN, as
	// PyTorch does with them).
	AllowNonFinite bool
	Pretrained     bool // fetch torchvision's ImageNet weights (see FetchPretrained)
	// PretrainedName picks which of torchvision's weights Pretrained fetches
	// (see PretrainedNamed; empty: DEFAULT), or, as hf-hub:ORG/NAME, a timm
	// model from the Hugging Face Hub (see FetchHub; Arch may then be empty).
	PretrainedName string
	NumClasses     int // 0: as in the weights (1000 without weights)
	// Classes, when set, are the class names of the data to fine-tune on;
	// a head trained on other classes is re-initialised even if their count
	// matches.
	Classes []string
	Device  gotch.Device
	Fetch   FetchOptions
	// Meta is the checkpoint description of Weights when the caller has
	// read it already (see ReadMeta); nil: Open reads it.
	Meta *CheckpointMeta
}

// Opened is a model ready to use, with what is known about its data.
type Opened struct {
	Model   *Model
	Report  LoadReport
	Source  string                // the weights file, if any
	File    weights.WeightsSource // where in the file the weights were found
	Meta    *CheckpointMeta       // the checkpoint description, if any
	Classes []string              // class names by index (generated when unknown)
	Prep    Preprocess            // evaluation transform
}

// Open builds a model and loads its weights. A head whose size differs from
// --num-classes is re-initialised (from libtorch's generator: seed it with
// torch.ManualSeed for repeatable runs); any other missing, unexpected or
// mis-shaped tensor is an error. It must run on a torch worker thread.
func Open(o OpenOptions) (*Opened, error) {
	out := &Opened{}
	if o.Device.Name == "" {
		o.Device = gotch.CPU // the zero Device is not one libtorch knows
	}
	var hub *HubModel
	if o.Pretrained && o.Weights != "" {
		return nil, optionErrorf("Weights", "give either {Weights} or {Pretrained}, not both")
	}
	if o.Pretrained && IsHubRef(o.PretrainedName) {
		var err error
		if hub, err = FetchHub(o.PretrainedName, o.Fetch); err != nil {
			return nil, err
		}
		if o.Arch != "" && o.Arch != hub.Arch {
			return nil, optionErrorf("Arch", "%s is a %s, not %s ({Arch})", o.PretrainedName, hub.Arch, o.Arch)
		}
		o.Arch, o.Weights, o.Pretrained = hub.Arch, hub.Weights, false
	}
	if o.Pretrained {
		if o.Arch == "" {
			return nil, optionErrorf("Arch", "{Pretrained} needs {Arch}")
		}
		pw, err := PretrainedNamed(o.Arch, o.PretrainedName)
		if err != nil {
			return nil, err
		}
		if spec, err := Lookup(o.Arch); err == nil && spec.Family == "vit" && pw.CropSize != spec.InputSize {
			return nil, fmt.Errorf("vision: %s %s needs %d×%d images; gtl's %s is built for %d×%d only (use another of its weights)",
				o.Arch, pw.Name, pw.CropSize, pw.CropSize, o.Arch, spec.InputSize, spec.InputSize)
		}
		f := o.Fetch
		f.Name = pw.Name
		p, err := FetchPretrained(o.Arch, f)
		if err != nil {
			return nil, err
		}
		o.Weights = p
	}
	var named map[string]*ts.Tensor
	if o.Weights != "" {
		meta, err := o.Meta, error(nil)
		if meta == nil {
			if meta, err = ReadMeta(o.Weights); err != nil {
				return nil, err
			}
		}
		out.Meta, out.Source = meta, o.Weights
		if meta != nil {
			if o.Arch == "" {
				o.Arch = meta.Arch
			} else if meta.Arch != o.Arch {
				return nil, fmt.Errorf("vision: %s is a %s checkpoint, not %s", o.Weights, meta.Arch, o.Arch)
			}
		}
		if named, out.File, err = readWeights(o.Weights, weights.WeightsOptions{Key: o.WeightsKey, Prefix: o.WeightsPrefix}); err != nil {
			return nil, err
		}
		defer weights.DropAll(named)
		if bad := out.File.NonFinite; len(bad) > 0 && !o.AllowNonFinite {
			return nil, &NonFiniteError{File: o.Weights, Tensors: bad}
		}
		if hub != nil {
			if err := hubToTorchvision(named); err != nil { // adds to named: weights.DropAll frees all
				return nil, err
			}
		}
	}
	if o.Arch == "" {
		return nil, optionErrorf("Arch", "no architecture given ({Arch})")
	}
	spec, err := Lookup(o.Arch)
	if err != nil {
		return nil, err
	}
	named = renameLegacyKeys(spec, named)
	named = skipExtraKeys(spec, named)
	// The model is built once with the class count asked for, or, when the
	// weights decide it, first with any count to learn the head's names.
	n := o.NumClasses
	if n == 0 {
		n = 1000
	}
	m, err := New(o.Arch, n, o.Device)
	if err != nil {
		return nil, err
	}
	fileClasses := 0
	if named != nil {
		for _, p := range m.HeadPrefixes {
			if t, ok := named[p+"weight"]; ok {
				fileClasses = int(t.MustSize()[0])
				break
			}
		}
		if fileClasses == 0 {
			// No head: a backbone alone (a self-supervised checkpoint) is
			// fine-tuned with a new head; tensors under the head's names
			// that the model does not have (a projection MLP) are skipped.
			under := completeUnder(m, named)
			if !slices.Contains(under, "") || o.Classes == nil {
				err := fmt.Errorf("vision: %s: no %sweight tensor: not %s weights (first tensors: %s)", o.Weights, m.HeadPrefixes[0], o.Arch, firstKeys(named, 3))
				if slices.Contains(under, "") {
					err = fmt.Errorf("vision: %s: a %s backbone without its classifier (no %sweight tensor): fine-tune it on your classes first (gtl train)", o.Weights, o.Arch, m.HeadPrefixes[0])
				}
				m.Close()
				return nil, out.scriptHint(out.prefixHint(err, o.Arch, under), o.Arch)
			}
			named, out.Report.Skipped = skipHeadExtras(m, named)
		}
		if o.NumClasses == 0 && fileClasses != n {
			m.Close()
			if m, err = New(o.Arch, fileClasses, o.Device); err != nil {
				return nil, err
			}
			n = fileClasses
		}
	}
	if named != nil {
		reset := o.Classes != nil && (out.Meta == nil || !slices.Equal(out.Meta.Classes, o.Classes))
		skipped := out.Report.Skipped
		out.Report, err = m.LoadTensors(named, LoadOptions{NewHead: n != fileClasses, ResetHead: reset})
		out.Report.Skipped = skipped
		if err != nil {
			under := completeUnder(m, named)
			m.Close()
			return nil, out.scriptHint(out.prefixHint(fmt.Errorf("%w (file %s)", err, o.Weights), o.Arch, under), o.Arch)
		}
	}
	// torchvision builds inception_v3 with transform_input=True exactly when
	// it loads its own ImageNet weights; a gtl checkpoint records the choice.
	known, isKnown := knownWeights(o.Arch, o.Weights)
	if isKnown && (o.Arch == "inception_v3" || o.Arch == "googlenet") {
		m.TransformInput = true
	}
	if out.Meta != nil {
		m.TransformInput = out.Meta.TransformInput
	}
	out.Model = m
	out.Prep = Preprocess{CropSize: m.InputSize, ResizeSize: m.ResizeSize, Filter: "bilinear", Mean: transforms.ImageNetMean, Std: transforms.ImageNetStd}
	if !isKnown {
		var err error // other files: the default weights' transform
		known, err = PretrainedFor(o.Arch)
		isKnown = err == nil
	}
	if isKnown {
		out.Prep.CropSize, out.Prep.ResizeSize, out.Prep.Filter = known.CropSize, known.ResizeSize, known.Filter.String()
		out.Prep.Mean, out.Prep.Std = known.Normalization()
	}
	if hub != nil {
		out.Prep = hub.Preprocess()
	}
	switch {
	case o.Classes != nil && len(o.Classes) == n:
		out.Classes = o.Classes
	case out.Meta != nil && len(out.Meta.Classes) == n:
		out.Classes = out.Meta.Classes
		if out.Meta.Preprocess.CropSize > 0 {
			out.Prep = out.Meta.Preprocess
		}
	case n == 1000 && fileClasses == 1000:
		out.Classes = ImageNetClasses
	default:
		out.Classes = make([]string, n)
		for i := range out.Classes {
			out.Classes[i] = fmt.Sprintf("class %d", i)
		}
	}
	return out, nil
}

// skipExtraKeys returns named without the keys under the spec's
// SkipPrefixes (the caller still owns and frees every tensor).
func skipExtraKeys(spec Spec, named map[string]*ts.Tensor) map[string]*ts.Tensor {
	if len(spec.SkipPrefixes) == 0 || named == nil {
		return named
	}
	out := make(map[string]*ts.Tensor, len(named))
	for k, v := range named {
		if !(Stage{Prefixes: spec.SkipPrefixes}).Covers(k) {
			out[k] = v
		}
	}
	return out
}

// knownWeights returns the torchvision weights of arch whose file name is
// weights' (torchvision's cache names), if any.
func knownWeights(arch, weights string) (Pretrained, bool) {
	if weights == "" {
		return Pretrained{}, false
	}
	ws, _ := PretrainedWeights(arch)
	for _, w := range ws {
		if filepath.Base(weights) == w.FileName() {
			return w, true
		}
	}
	return Pretrained{}, false
}

// scriptHint adds to a failed load of a TorchScript archive what the file
// is and how to get weights gtl can load from it.
func (o *Opened) scriptHint(err error, arch string) error {
	if o.File.Format != "TorchScript archive" {
		return err
	}
	return fmt.Errorf("%w: a TorchScript archive of %s whose tensor names are not %s's; "+
		"re-export the weights in Python with torch.save(model.state_dict(), \"weights.pth\")", err, o.File.Class, arch)
}

// readWeights reads a weights file in any supported format, turning a
// panic in a parser into an error.
func readWeights(path string, o weights.WeightsOptions) (named map[string]*ts.Tensor, src weights.WeightsSource, err error) {
	if _, err := os.Stat(path); err != nil {
		return nil, src, fmt.Errorf("vision: weights: %w", err)
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("vision: read %s: corrupt or unsupported weights file (%v)", path, r)
		}
	}()
	return weights.ReadWeightsWith(path, o)
}

// densenetLegacyKey matches the old names of torchvision's published DenseNet
// files ("denselayer1.norm.1.weight"), which torchvision renames on load.
var densenetLegacyKey = regexp.MustCompile(`^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|running_mean|running_var))$`)

func renameLegacyKeys(spec Spec, named map[string]*ts.Tensor) map[string]*ts.Tensor {
	if spec.Family != "densenet" || named == nil {
		return named
	}
	out := make(map[string]*ts.Tensor, len(named))
	for k, v := range named {
		if m := densenetLegacyKey.FindStringSubmatch(k); m != nil {
			k = m[1] + m[2]
		}
		out[k] = v
	}
	return out
}

func firstKeys(m map[string]*ts.Tensor, n int) string {
	keys := sortedKeys(m)
	if len(keys) > n {
		keys = keys[:n]
	}
	return strings.Join(keys, ", ")
}
