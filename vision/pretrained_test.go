package vision

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/sugarme/gotch"

	"github.com/gtl-dev/gtl/vision/torch"
)

// TestFetchPretrained serves a weight file from a local HTTP server and
// checks download, hash verification, caching and the offline message.
func TestFetchPretrained(t *testing.T) {
	content := []byte(strings.Repeat("gtl weights ", 100000))
	sum := sha256.Sum256(content)
	prefix := hex.EncodeToString(sum[:])[:8]
	// A fake architecture entry for the test; the real table is untouched.
	torchvisionWeights["testnet"] = Pretrained{Arch: "testnet", URL: "https://example.invalid/models/testnet-" + prefix + ".pth", SHA256Prefix: prefix}
	torchvisionWeights["badnet"] = Pretrained{Arch: "badnet", URL: "https://example.invalid/models/badnet-00000000.pth", SHA256Prefix: "00000000"}
	defer delete(torchvisionWeights, "testnet")
	defer delete(torchvisionWeights, "badnet")

	requests := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests++
		switch r.URL.Path {
		case "/mirror/testnet-" + prefix + ".pth", "/mirror/badnet-00000000.pth":
			w.Write(content)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()

	dir := t.TempDir()
	var progressed int64
	p, err := FetchPretrained("testnet", FetchOptions{Dir: dir, BaseURL: srv.URL + "/mirror/", Progress: func(done, total int64) { progressed = done }})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(p); string(got) != string(content) || progressed != int64(len(content)) {
		t.Fatalf("downloaded %d bytes, progress %d", len(got), progressed)
	}
	// Cached: no second request.
	if _, err := FetchPretrained("testnet", FetchOptions{Dir: dir, BaseURL: srv.URL + "/mirror/"}); err != nil || requests != 1 {
		t.Fatalf("second fetch: %v, %d requests", err, requests)
	}
	tests := []struct {
		name, arch, base, want string
	}{
		{"hash mismatch", "badnet", srv.URL + "/mirror", "does not match the published 00000000"},
		{"404", "testnet", srv.URL + "/elsewhere", "404 Not Found"},
		{"offline", "testnet", "http://127.0.0.1:1", "put testnet-" + prefix + ".pth (from https://example.invalid/models/"},
		{"unknown arch", "nonet", srv.URL, `no pretrained weights known for "nonet"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := t.TempDir()
			_, err := FetchPretrained(tt.arch, FetchOptions{Dir: d, BaseURL: tt.base})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
			if entries, _ := os.ReadDir(d); len(entries) != 0 {
				t.Errorf("left files behind: %v", entries)
			}
		})
	}
	// The environment variable is the default base URL.
	t.Setenv("GTL_WEIGHTS_URL", srv.URL+"/mirror")
	if _, err := FetchPretrained("testnet", FetchOptions{Dir: filepath.Join(dir, "env")}); err != nil {
		t.Fatalf("GTL_WEIGHTS_URL: %v", err)
	}
}

func TestPretrainedTableCoversRegistry(t *testing.T) {
	for _, arch := range Architectures() {
		p, err := PretrainedFor(arch)
		if err != nil {
			t.Errorf("%s: %v", arch, err)
			continue
		}
		if !strings.HasSuffix(p.FileName(), "-"+p.SHA256Prefix+".pth") || p.CropSize == 0 {
			t.Errorf("%s: bad entry %+v", arch, p)
		}
	}
}

// TestPublishedParamCounts: with 1000 classes every architecture has exactly
// the parameter count torchvision publishes for its ImageNet weights.
func TestPublishedParamCounts(t *testing.T) {
	for _, arch := range Architectures() {
		if testing.Short() && !lightArchs[arch] {
			continue
		}
		t.Run(arch, func(t *testing.T) {
			p, err := PretrainedFor(arch)
			if err != nil {
				t.Fatal(err)
			}
			err = torch.Do(func() error {
				m, err := New(arch, 1000, gotch.CPU)
				if err != nil {
					return err
				}
				defer m.VS.Destroy()
				if n := m.NumParams(); n != p.Params {
					t.Errorf("%d parameters, torchvision publishes %d", n, p.Params)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestNaturalOrder(t *testing.T) {
	got := []string{"resnet101", "resnet18", "vgg11_bn", "vgg11", "efficientnet_b0", "resnet50"}
	sort.Slice(got, func(i, j int) bool { return naturalLess(got[i], got[j]) })
	if want := "efficientnet_b0 resnet18 resnet50 resnet101 vgg11 vgg11_bn"; strings.Join(got, " ") != want {
		t.Errorf("order %v, want %s", got, want)
	}
}
