package vision

import (
	"crypto/sha256"
	"encoding/hex"
	"go/format"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/gtl-dev/gtl/internal/torchtest"
	"github.com/gtl-dev/gtl/vision/transforms"
)

// TestFetchPretrained serves a weight file from a local HTTP server and
// checks download, hash verification, caching and the offline message.
func TestFetchPretrained(t *testing.T) {
	content := []byte(strings.Repeat("gtl weights ", 100000))
	sum := sha256.Sum256(content)
	prefix := hex.EncodeToString(sum[:])[:8]
	// A fake architecture entry for the test; the real table is untouched.
	torchvisionWeights["testnet"] = []Pretrained{{Arch: "testnet", Name: "IMAGENET1K_V1", Default: true, URL: "https://example.invalid/models/testnet-" + prefix + ".pth", SHA256Prefix: prefix}}
	torchvisionWeights["badnet"] = []Pretrained{{Arch: "badnet", Name: "IMAGENET1K_V1", Default: true, URL: "https://example.invalid/models/badnet-00000000.pth", SHA256Prefix: "00000000"}}
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

// TestPretrainedTableMatchesTorchvision regenerates the table from the
// installed torchvision's metadata (scripts/zoo/gen_pretrained.py) and
// compares it with the committed one, entry by entry.
func TestPretrainedTableMatchesTorchvision(t *testing.T) {
	if _, err := exec.LookPath("/usr/bin/python3"); err != nil {
		t.Skip("no /usr/bin/python3")
	}
	root := torchtest.Root()
	out, err := exec.Command("/usr/bin/python3", filepath.Join(root, "scripts", "zoo", "gen_pretrained.py")).Output()
	if err != nil {
		t.Fatalf("gen_pretrained.py: %v (scripts/parity/setup.sh installs python3-torchvision)", err)
	}
	want, err := format.Source(out)
	if err != nil {
		t.Fatalf("generated table does not parse: %v", err)
	}
	got, err := os.ReadFile(filepath.Join(root, "vision", "pretrained_table.go"))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		g, w := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
		for i := 0; i < len(g) || i < len(w); i++ {
			var gl, wl string
			if i < len(g) {
				gl = g[i]
			}
			if i < len(w) {
				wl = w[i]
			}
			if gl != wl {
				t.Fatalf("vision/pretrained_table.go differs from torchvision's metadata at line %d:\n got: %s\nwant: %s\n(regenerate: scripts/zoo/gen_pretrained.py > vision/pretrained_table.go)", i+1, gl, wl)
			}
		}
	}
	n := 0
	for _, ws := range torchvisionWeights {
		n += len(ws)
	}
	if n != 115 {
		t.Errorf("%d weights, torchvision 0.14 lists 115", n)
	}
}

func TestPretrainedNamed(t *testing.T) {
	tests := []struct {
		arch, name   string
		want         string // enum name, or an error substring
		acc1         float64
		resize, crop int
		filter       transforms.Filter
	}{
		{"resnet50", "", "IMAGENET1K_V2", 80.858, 232, 224, transforms.Bilinear},
		{"resnet50", "DEFAULT", "IMAGENET1K_V2", 80.858, 232, 224, transforms.Bilinear},
		{"resnet50", "IMAGENET1K_V1", "IMAGENET1K_V1", 76.13, 256, 224, transforms.Bilinear},
		{"resnet50", "imagenet1k_v1", "IMAGENET1K_V1", 76.13, 256, 224, transforms.Bilinear},
		{"resnet50", "ResNet50_Weights.IMAGENET1K_V2", "IMAGENET1K_V2", 80.858, 232, 224, transforms.Bilinear},
		{"efficientnet_b1", "IMAGENET1K_V2", "IMAGENET1K_V2", 79.838, 255, 240, transforms.Bilinear},
		{"vit_b_16", "IMAGENET1K_SWAG_LINEAR_V1", "IMAGENET1K_SWAG_LINEAR_V1", 81.886, 224, 224, transforms.Bicubic},
		{"resnet18", "IMAGENET1K_V2", `resnet18 has no weights "IMAGENET1K_V2" (torchvision has: DEFAULT, IMAGENET1K_V1)`, 0, 0, 0, 0},
		{"nonet", "", `no pretrained weights known for "nonet"`, 0, 0, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.arch+"/"+tt.name, func(t *testing.T) {
			p, err := PretrainedNamed(tt.arch, tt.name)
			if tt.acc1 == 0 {
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("err = %v, want %q", err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.Name != tt.want || p.Acc1 != tt.acc1 || p.ResizeSize != tt.resize || p.CropSize != tt.crop || p.Filter != tt.filter {
				t.Errorf("got %s acc@1 %v resize %d crop %d %v", p.Name, p.Acc1, p.ResizeSize, p.CropSize, p.Filter)
			}
		})
	}
	// Non-ImageNet normalisation (vgg16's Caffe-style features).
	p, err := PretrainedNamed("vgg16", "IMAGENET1K_FEATURES")
	if err != nil {
		t.Fatal(err)
	}
	if mean, std := p.Normalization(); math.Abs(float64(mean[0])-0.48235) > 1e-6 || math.Abs(float64(std[0])-1.0/255) > 1e-6 {
		t.Errorf("vgg16 features normalisation %v %v", mean, std)
	}
}

func TestNaturalOrder(t *testing.T) {
	got := []string{"resnet101", "resnet18", "vgg11_bn", "vgg11", "efficientnet_b0", "resnet50"}
	sort.Slice(got, func(i, j int) bool { return naturalLess(got[i], got[j]) })
	if want := "efficientnet_b0 resnet18 resnet50 resnet101 vgg11 vgg11_bn"; strings.Join(got, " ") != want {
		t.Errorf("order %v, want %s", got, want)
	}
}
