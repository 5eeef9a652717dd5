package vision

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/gtl-dev/gtl/env"
	"github.com/gtl-dev/gtl/vision/transforms"
)

// Pretrained is one of torchvision's weight files for an architecture (one
// member of its weights enum, e.g. ResNet50_Weights.IMAGENET1K_V2) with the
// evaluation transform it was trained for and its published accuracy. The
// table is generated from torchvision 0.14's own metadata by
// scripts/zoo/gen_pretrained.py.
type Pretrained struct {
	Arch         string
	Name         string // torchvision's enum name: IMAGENET1K_V1, IMAGENET1K_V2, IMAGENET1K_SWAG_E2E_V1, …
	Default      bool   // torchvision's DEFAULT for the architecture
	URL          string
	SHA256Prefix string // torchvision names its files after the start of their SHA-256
	CropSize     int
	ResizeSize   int
	Filter       transforms.Filter
	Mean, Std    []float64 // normalisation; nil: ImageNet's (transforms.ImageNetMean/Std)
	Acc1, Acc5   float64   // published ImageNet-1K top-1 and top-5 accuracy, %; 0: none published
	Params       int64
}

// FileName returns the file's name, as torchvision caches it.
func (p Pretrained) FileName() string { return path.Base(p.URL) }

// Eval returns the evaluation transform of the weights.
func (p Pretrained) Eval() transforms.Eval {
	return transforms.EvalPreset(p.CropSize, p.ResizeSize, p.Filter)
}

// Normalization returns the per-channel mean and standard deviation the
// weights expect (of [0, 1] pixel values).
func (p Pretrained) Normalization() (mean, std [3]float32) {
	mean, std = transforms.ImageNetMean, transforms.ImageNetStd
	for c := 0; c < 3 && len(p.Mean) == 3 && len(p.Std) == 3; c++ {
		mean[c], std[c] = float32(p.Mean[c]), float32(p.Std[c])
	}
	return mean, std
}

// DefaultWeights is the name that selects an architecture's default
// weights, as torchvision's Weights.DEFAULT.
const DefaultWeights = "DEFAULT"

// IsWeightsName reports whether name is DEFAULT or the enum name of any
// weights in the table (IMAGENET1K_V1, IMAGENET1K_SWAG_E2E_V1, …), exactly.
func IsWeightsName(name string) bool {
	if name == DefaultWeights {
		return true
	}
	for _, ws := range torchvisionWeights {
		for _, w := range ws {
			if w.Name == name {
				return true
			}
		}
	}
	return false
}

// PretrainedWeights lists torchvision's weights of an architecture in its
// enum's order.
func PretrainedWeights(arch string) ([]Pretrained, error) {
	ws, ok := torchvisionWeights[arch]
	if !ok || len(ws) == 0 {
		names := make([]string, 0, len(torchvisionWeights))
		for n := range torchvisionWeights {
			names = append(names, n)
		}
		sort.Slice(names, func(i, j int) bool { return naturalLess(names[i], names[j]) })
		return nil, fmt.Errorf("vision: no pretrained weights known for %q (known: %s)", arch, strings.Join(names, ", "))
	}
	return ws, nil
}

// PretrainedFor returns the default weights of an architecture
// (torchvision's DEFAULT: IMAGENET1K_V2 for resnet50).
func PretrainedFor(arch string) (Pretrained, error) { return PretrainedNamed(arch, DefaultWeights) }

// PretrainedNamed returns the weights of arch that torchvision's enum calls
// name (DEFAULT or "" for the default; IMAGENET1K_V1, …; case ignored; an
// enum-qualified name such as ResNet50_Weights.IMAGENET1K_V2 is accepted).
func PretrainedNamed(arch, name string) (Pretrained, error) {
	ws, err := PretrainedWeights(arch)
	if err != nil {
		return Pretrained{}, err
	}
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		name = name[i+1:]
	}
	if name == "" {
		name = DefaultWeights
	}
	names := []string{DefaultWeights}
	for _, w := range ws {
		if strings.EqualFold(name, w.Name) || strings.EqualFold(name, DefaultWeights) && w.Default {
			return w, nil
		}
		names = append(names, w.Name)
	}
	return Pretrained{}, fmt.Errorf("vision: %s has no weights %q (torchvision has: %s)", arch, name, strings.Join(names, ", "))
}

// FetchOptions configures FetchPretrained. The zero value uses
// GTL_HOME/weights as the cache, GTL_WEIGHTS_URL (or the official URL) as
// the source, and no progress reports.
type FetchOptions struct {
	Dir      string                        // cache folder; default $GTL_HOME/weights
	BaseURL  string                        // replaces the URL's folder; default GTL_WEIGHTS_URL
	Name     string                        // weights name (see PretrainedNamed); default DEFAULT
	Progress func(done, total int64)       // called as bytes arrive; total is -1 when unknown
	Client   *http.Client                  // default: 10 s to connect, no overall limit
	Started  func(url, destination string) // called once before a download
}

// CacheDir returns the folder where pretrained weights are kept.
func CacheDir() (string, error) {
	home, err := env.HomeDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(home, "weights"), nil
}

// FetchPretrained returns the path of an architecture's weights (o.Name, by
// default torchvision's DEFAULT) in the cache, downloading them first when they are not there and checking
// their SHA-256 against the published prefix. Without network it fails at
// once with a message saying where to put the file.
func FetchPretrained(arch string, o FetchOptions) (string, error) {
	p, err := PretrainedNamed(arch, o.Name)
	if err != nil {
		return "", err
	}
	dir := o.Dir
	if dir == "" {
		if dir, err = CacheDir(); err != nil {
			return "", err
		}
	}
	dst := filepath.Join(dir, p.FileName())
	if _, err := os.Stat(dst); err == nil {
		return dst, nil
	}
	url := p.URL
	base := o.BaseURL
	if base == "" {
		base = env.WeightsURL.Value()
	}
	if base != "" {
		url = strings.TrimRight(base, "/") + "/" + p.FileName()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("vision: pretrained %s %s: cache folder: %w", arch, p.Name, err)
	}
	if o.Started != nil {
		o.Started(url, dst)
	}
	if err := download(url, dst, p.SHA256Prefix, o); err != nil {
		return "", optionErrorf("Pretrained", "pretrained %s %s: %w; without network, put %s (from %s) into %s, or pass {Weights} FILE",
			arch, p.Name, err, p.FileName(), p.URL, dir)
	}
	return dst, nil
}

func download(url, dst, hashPrefix string, o FetchOptions) error {
	return downloadChecked(url, dst, o, func(http.Header, string) (string, error) { return hashPrefix, nil })
}

// downloadChecked downloads url to dst (through a temporary file, renamed
// once complete and verified). expect returns the SHA-256 (or a prefix of
// it) the file must have, from the response's headers and the SHA-256
// linked by a redirect (Hugging Face's X-Linked-Etag), or an error.
func downloadChecked(url, dst string, o FetchOptions, expect func(h http.Header, linked string) (string, error)) error {
	client := o.Client
	if client == nil {
		client = &http.Client{Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
			TLSHandshakeTimeout:   10 * time.Second,
			ResponseHeaderTimeout: 30 * time.Second,
		}}
	}
	var linked string
	c := *client
	inner := c.CheckRedirect
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if req.Response != nil && linked == "" {
			linked = req.Response.Header.Get("X-Linked-Etag")
		}
		if inner != nil {
			return inner(req, via)
		}
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		return nil
	}
	resp, err := c.Get(url)
	if err != nil {
		var uerr interface{ Unwrap() error }
		if errors.As(err, &uerr) {
			err = uerr.Unwrap()
		}
		return fmt.Errorf("download %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("download %s: %s", url, resp.Status)
	}
	hashPrefix, err := expect(resp.Header, linked)
	if err != nil {
		return fmt.Errorf("download %s: %w", url, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".part*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	h := sha256.New()
	var done int64
	buf := make([]byte, 1<<20)
	for {
		n, rerr := resp.Body.Read(buf)
		if n > 0 {
			if _, err := tmp.Write(buf[:n]); err != nil {
				tmp.Close()
				return fmt.Errorf("write %s: %w", tmp.Name(), err)
			}
			h.Write(buf[:n])
			done += int64(n)
			if o.Progress != nil {
				o.Progress(done, resp.ContentLength)
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			tmp.Close()
			return fmt.Errorf("download %s: %w after %d bytes", url, rerr, done)
		}
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if resp.ContentLength >= 0 && done != resp.ContentLength {
		return fmt.Errorf("download %s: got %d of %d bytes", url, done, resp.ContentLength)
	}
	if sum := hex.EncodeToString(h.Sum(nil)); !strings.HasPrefix(sum, hashPrefix) {
		return fmt.Errorf("download %s: SHA-256 %s… does not match the published %s", url, sum[:12], shortHash(hashPrefix))
	}
	return os.Rename(tmp.Name(), dst)
}

// shortHash shortens a full SHA-256 for messages.
func shortHash(h string) string {
	if len(h) > 16 {
		return h[:16] + "…"
	}
	return h
}
