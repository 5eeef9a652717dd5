package env

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Var is one GTL_* environment variable.
type Var struct {
	Name        string
	Default     string // shown in help; used when the variable is unset or empty
	Description string
}

// Value returns the variable's value, or its default when unset or empty.
func (v Var) Value() string {
	if s := strings.TrimSpace(os.Getenv(v.Name)); s != "" {
		return s
	}
	return v.Default
}

// IsSet reports whether the variable is set to a non-empty value.
func (v Var) IsSet() bool { return strings.TrimSpace(os.Getenv(v.Name)) != "" }

// The variables gtl reads (GTL_*, and HF_ENDPOINT, shared with Hugging
// Face's own tools).
var (
	Home = Var{"GTL_HOME", "~/.cache/gtl",
		"folder for gtl's caches (downloaded weights)"}
	NumThreads = Var{"GTL_NUM_THREADS", "",
		"threads libtorch uses inside one op (default: one per physical core)"}
	Malloc = Var{"GTL_MALLOC", "reuse",
		"libtorch's CPU memory: reuse (freed blocks of 1 MiB or more are kept, up to 1 GiB, for the next step's tensors of the same size: no page faults on large activations) or system (libtorch's own allocator); read as libgtltorch loads"}
	FashionMNISTDir = Var{"GTL_FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist",
		"folder with Fashion-MNIST's IDX files (Debian: dataset-fashion-mnist)"}
	WeightsURL = Var{"GTL_WEIGHTS_URL", "",
		"base URL that --pretrained downloads torchvision weight files from (default: each file's official URL)"}
	FrozenCache = Var{"GTL_FROZEN_CACHE_MB", "2048",
		"MiB that the activations of frozen stages (--freeze N and compare's freeze-N, without augmentation) may take when computed once per training and validation image instead of every step; over it, or 0, training runs through the frozen stages"}
	HubEndpoint = Var{"HF_ENDPOINT", "https://huggingface.co",
		"Hugging Face Hub that --pretrained hf-hub:ORG/NAME downloads timm weights from (as huggingface_hub reads it)"}
)

// All lists every variable, for help texts.
func All() []Var {
	return []Var{Home, NumThreads, Malloc, FashionMNISTDir, WeightsURL, FrozenCache, HubEndpoint}
}

// HomeDir returns GTL_HOME with a leading ~ expanded.
func HomeDir() (string, error) {
	p := Home.Value()
	if p == "~" || strings.HasPrefix(p, "~/") {
		h, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("env: %s=%s: %w", Home.Name, p, err)
		}
		p = filepath.Join(h, strings.TrimPrefix(p, "~"))
	}
	return p, nil
}

// Threads returns GTL_NUM_THREADS as a number, 0 when unset.
func Threads() (int, error) {
	if !NumThreads.IsSet() {
		return 0, nil
	}
	n, err := strconv.Atoi(NumThreads.Value())
	if err != nil || n < 1 {
		return 0, fmt.Errorf("env: %s=%q: want a whole number of at least 1", NumThreads.Name, os.Getenv(NumThreads.Name))
	}
	return n, nil
}

// CheckMalloc reports an error when GTL_MALLOC is set to anything but
// "reuse" or "system": the wrapper library reads it as it loads and would
// treat a misspelling as the default.
func CheckMalloc() error {
	switch v := os.Getenv(Malloc.Name); v {
	case "", "reuse", "system":
		return nil
	default:
		return fmt.Errorf("env: %s=%q: want reuse or system", Malloc.Name, v)
	}
}

// FrozenCacheBytes returns GTL_FROZEN_CACHE_MB in bytes; -1 when it is 0
// (caching off).
func FrozenCacheBytes() (int64, error) {
	n, err := strconv.ParseInt(FrozenCache.Value(), 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("env: %s=%q: want a whole number of MiB, 0 or more", FrozenCache.Name, os.Getenv(FrozenCache.Name))
	}
	if n == 0 {
		return -1, nil
	}
	return n << 20, nil
}
