package vision

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/gtl-dev/gtl/env"
)

// HubPrefix marks a Hugging Face Hub model in a weights name:
// "hf-hub:timm/resnet50.a1_in1k", as timm's create_model takes it.
const HubPrefix = "hf-hub:"

// IsHubRef reports whether name refers to a Hugging Face Hub model.
func IsHubRef(name string) bool { return strings.HasPrefix(name, HubPrefix) }

// HubConfig is the part of a timm model's config.json gtl reads.
type HubConfig struct {
	Architecture  string           `json:"architecture"`
	NumClasses    int              `json:"num_classes"`
	PretrainedCfg HubPretrainedCfg `json:"pretrained_cfg"`
}

// HubPretrainedCfg is timm's pretrained_cfg: the evaluation transform the
// weights were made for. timm resizes the shorter side to
// floor(input_size / crop_pct), then centre-crops input_size.
type HubPretrainedCfg struct {
	InputSize     []int     `json:"input_size"` // [3, H, W]
	Interpolation string    `json:"interpolation"`
	CropPct       float64   `json:"crop_pct"`
	CropMode      string    `json:"crop_mode"`
	Mean          []float64 `json:"mean"`
	Std           []float64 `json:"std"`
	NumClasses    int       `json:"num_classes"`
}

// hubArchs maps the timm architectures whose state-dict names are
// torchvision's to gtl's architectures. timm's ResNet family (timm.models.
// resnet: conv1, bn1, layer1-4 of BasicBlock/Bottleneck with conv1-3,
// bn1-3 and downsample.0/1, fc) keeps torchvision's names and the v1.5
// stride on the 3×3 convolution, so its files load as they are; the deep-
// stem and other variants (resnet50d, resnet26t, …) have other layers and
// are refused.
var hubArchs = map[string]string{
	"resnet18": "resnet18", "resnet34": "resnet34", "resnet50": "resnet50", "resnet101": "resnet101", "resnet152": "resnet152",
	"resnext50_32x4d": "resnext50_32x4d", "resnext101_32x8d": "resnext101_32x8d", "resnext101_64x4d": "resnext101_64x4d",
	"wide_resnet50_2": "wide_resnet50_2", "wide_resnet101_2": "wide_resnet101_2",
}

// HubArchitectures lists the timm architectures gtl loads from the Hub.
func HubArchitectures() []string {
	names := make([]string, 0, len(hubArchs))
	for n := range hubArchs {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool { return naturalLess(names[i], names[j]) })
	return names
}

// HubModel is a timm model fetched from the Hub into the cache.
type HubModel struct {
	Repo    string // ORG/NAME
	Arch    string // gtl's architecture
	Weights string // the cached model.safetensors
	Config  HubConfig
}

var hubRepoRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$`)

// HubCacheDir returns the folder of a Hub repository in gtl's cache,
// laid out as huggingface_hub's (HF_HOME/hub/models--ORG--NAME), with the
// files of the main revision in snapshots/main.
func HubCacheDir(repo string) (string, error) {
	home, err := env.HomeDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(home, "hub", "models--"+strings.ReplaceAll(repo, "/", "--"), "snapshots", "main"), nil
}

// FetchHub returns the timm model ref ("hf-hub:ORG/NAME") from the cache,
// downloading config.json and model.safetensors first from
// $HF_ENDPOINT/ORG/NAME/resolve/main/ when they are not there. The weights'
// SHA-256 must match the one the Hub publishes for the file (the
// X-Linked-Etag header of its LFS files, or an ETag that is a SHA-256);
// the config's architecture must be one gtl maps (HubArchitectures).
// o.Dir, when set, replaces the cache folder; o.BaseURL the endpoint.
func FetchHub(ref string, o FetchOptions) (*HubModel, error) {
	repo := strings.TrimPrefix(ref, HubPrefix)
	if !hubRepoRE.MatchString(repo) || strings.Contains(repo, "..") {
		return nil, optionErrorf("PretrainedName", "{PretrainedName} %s: want %sORG/NAME (e.g. %stimm/resnet50.a1_in1k)", ref, HubPrefix, HubPrefix)
	}
	dir := o.Dir
	if dir == "" {
		var err error
		if dir, err = HubCacheDir(repo); err != nil {
			return nil, err
		}
	}
	endpoint := o.BaseURL
	if endpoint == "" {
		endpoint = env.HubEndpoint.Value()
	}
	base := strings.TrimRight(endpoint, "/") + "/" + repo + "/resolve/main/"
	get := func(file string, needHash bool) (string, error) {
		dst := filepath.Join(dir, file)
		if _, err := os.Stat(dst); err == nil {
			return dst, nil
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return "", fmt.Errorf("vision: %s: cache folder: %w", ref, err)
		}
		if o.Started != nil && needHash {
			o.Started(base+file, dst)
		}
		oo := o
		if !needHash {
			oo.Progress = nil
		}
		err := downloadChecked(base+file, dst, oo, func(h http.Header, linked string) (string, error) {
			for _, v := range []string{linked, h.Get("X-Linked-Etag"), h.Get("ETag")} {
				v = strings.Trim(strings.TrimPrefix(strings.TrimSpace(v), "W/"), `"`)
				if sha256RE.MatchString(v) {
					return strings.ToLower(v), nil
				}
			}
			if needHash {
				return "", fmt.Errorf("the server sent no SHA-256 for %s (X-Linked-Etag), so it cannot be checked", file)
			}
			return "", nil // config.json: a git blob, no SHA-256 published
		})
		if err != nil {
			return "", optionErrorf("Pretrained", "%s: %w; without network, put config.json and model.safetensors from %s into %s, or pass {Weights} FILE",
				ref, err, base, dir)
		}
		return dst, nil
	}
	cfgPath, err := get("config.json", false)
	if err != nil {
		return nil, err
	}
	raw, err := os.ReadFile(cfgPath)
	if err != nil {
		return nil, fmt.Errorf("vision: %s: %w", ref, err)
	}
	var cfg HubConfig
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return nil, fmt.Errorf("vision: %s: %s is not a timm config: %w", ref, cfgPath, err)
	}
	arch, ok := hubArchs[cfg.Architecture]
	if !ok {
		return nil, fmt.Errorf("vision: %s: timm architecture %q is not supported; gtl loads timm weights of %s (timm's names match torchvision's for these)",
			ref, cfg.Architecture, strings.Join(HubArchitectures(), ", "))
	}
	if _, err := cfg.PretrainedCfg.preprocess(); err != nil {
		return nil, fmt.Errorf("vision: %s: %s: %w", ref, cfgPath, err)
	}
	weights, err := get("model.safetensors", true)
	if err != nil {
		return nil, err
	}
	return &HubModel{Repo: repo, Arch: arch, Weights: weights, Config: cfg}, nil
}

var sha256RE = regexp.MustCompile(`^[0-9a-fA-F]{64}$`)

// preprocess turns pretrained_cfg into gtl's evaluation transform; absent
// fields take timm's defaults (224, crop_pct 0.875, bicubic, ImageNet
// statistics).
func (c HubPretrainedCfg) preprocess() (Preprocess, error) {
	p := Preprocess{CropSize: 224, Filter: "bicubic"}
	if len(c.InputSize) == 3 {
		if c.InputSize[1] != c.InputSize[2] || c.InputSize[0] != 3 || c.InputSize[1] < 1 {
			return p, fmt.Errorf("input_size %v: gtl takes square 3-channel inputs", c.InputSize)
		}
		p.CropSize = c.InputSize[1]
	}
	pct := c.CropPct
	if pct == 0 {
		pct = 0.875
	}
	if pct <= 0 || pct > 1 {
		return p, fmt.Errorf("crop_pct %g: want (0, 1]", pct)
	}
	if c.CropMode != "" && c.CropMode != "center" {
		return p, fmt.Errorf("crop_mode %q: gtl centre-crops only", c.CropMode)
	}
	p.ResizeSize = int(math.Floor(float64(p.CropSize) / pct))
	switch c.Interpolation {
	case "", "bicubic":
	case "bilinear":
		p.Filter = "bilinear"
	default:
		return p, fmt.Errorf("interpolation %q: gtl resizes with bilinear or bicubic", c.Interpolation)
	}
	mean, std := Pretrained{Mean: c.Mean, Std: c.Std}.Normalization()
	if (c.Mean != nil || c.Std != nil) && (len(c.Mean) != 3 || len(c.Std) != 3) {
		return p, fmt.Errorf("mean %v, std %v: want 3 values each", c.Mean, c.Std)
	}
	p.Mean, p.Std = mean, std
	return p, nil
}

// Preprocess returns the evaluation transform of the model's weights.
func (h *HubModel) Preprocess() Preprocess {
	p, _ := h.Config.PretrainedCfg.preprocess() // checked by FetchHub
	return p
}

// hubToTorchvision renames a timm state dict to torchvision's names for
// arch. The ResNet family needs no renaming; batch norms without
// num_batches_tracked (state dicts saved without it) get a zero count, as
// torchvision's BatchNorm does on load. The tensors it adds go into named,
// which the caller frees.
func hubToTorchvision(named map[string]*ts.Tensor) error {
	for k := range named {
		prefix, ok := strings.CutSuffix(k, ".running_mean")
		if !ok {
			continue
		}
		if _, ok := named[prefix+".num_batches_tracked"]; ok {
			continue
		}
		z, err := ts.Zeros([]int64{1}, gotch.Int64, gotch.CPU) // gotch takes no empty shape
		if err == nil {
			z, err = z.Squeeze(true) // 0-dimensional, as torchvision's
		}
		if err != nil {
			return err
		}
		named[prefix+".num_batches_tracked"] = z
	}
	return nil
}
