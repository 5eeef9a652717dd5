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

// Pretrained is one official torchvision weight file and the evaluation
// transform it was trained for.
type Pretrained struct {
	Arch         string
	URL          string
	SHA256Prefix string // torchvision names its files after the start of their SHA-256
	CropSize     int
	ResizeSize   int
	Filter       transforms.Filter
	Params       int64
}

// FileName returns the file's name, as torchvision caches it.
func (p Pretrained) FileName() string { return path.Base(p.URL) }

// Eval returns the evaluation transform of the weights.
func (p Pretrained) Eval() transforms.Eval {
	return transforms.EvalPreset(p.CropSize, p.ResizeSize, p.Filter)
}

// PretrainedFor returns the ImageNet weights of an architecture.
func PretrainedFor(arch string) (Pretrained, error) {
	p, ok := torchvisionWeights[arch]
	if !ok {
		names := make([]string, 0, len(torchvisionWeights))
		for n := range torchvisionWeights {
			names = append(names, n)
		}
		sort.Strings(names)
		return Pretrained{}, fmt.Errorf("vision: no pretrained weights known for %q (known: %s)", arch, strings.Join(names, ", "))
	}
	return p, nil
}

// FetchOptions configures FetchPretrained. The zero value uses
// GTL_HOME/weights as the cache, GTL_WEIGHTS_URL (or the official URL) as
// the source, and no progress reports.
type FetchOptions struct {
	Dir      string                        // cache folder; default $GTL_HOME/weights
	BaseURL  string                        // replaces the URL's folder; default GTL_WEIGHTS_URL
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

// FetchPretrained returns the path of an architecture's ImageNet weights in
// the cache, downloading them first when they are not there and checking
// their SHA-256 against the published prefix. Without network it fails at
// once with a message saying where to put the file.
func FetchPretrained(arch string, o FetchOptions) (string, error) {
	p, err := PretrainedFor(arch)
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
		return "", fmt.Errorf("vision: pretrained %s: cache folder: %w", arch, err)
	}
	if o.Started != nil {
		o.Started(url, dst)
	}
	if err := download(url, dst, p.SHA256Prefix, o); err != nil {
		return "", fmt.Errorf("vision: pretrained %s: %w; without network, put %s (from %s) into %s, or pass --weights FILE",
			arch, err, p.FileName(), p.URL, dir)
	}
	return dst, nil
}

func download(url, dst, hashPrefix string, o FetchOptions) error {
	client := o.Client
	if client == nil {
		client = &http.Client{Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
			TLSHandshakeTimeout:   10 * time.Second,
			ResponseHeaderTimeout: 30 * time.Second,
		}}
	}
	resp, err := client.Get(url)
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
		return fmt.Errorf("download %s: SHA-256 %s… does not match the published %s", url, sum[:12], hashPrefix)
	}
	return os.Rename(tmp.Name(), dst)
}
