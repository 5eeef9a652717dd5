package vision_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gtl-dev/gtl/internal/torchtest"
	"github.com/gtl-dev/gtl/torch"
	"github.com/gtl-dev/gtl/vision"
)

// hubServer serves a Hub-shaped tree: /ORG/NAME/resolve/main/config.json
// (ETag: a git blob id, as the Hub) and model.safetensors (a redirect to
// /cdn/…, carrying the file's SHA-256 in X-Linked-Etag, as the Hub's LFS
// files). linkedEtag overrides the published hash ("" sends none).
type hubServer struct {
	*httptest.Server
	files      map[string][]byte // "ORG/NAME/file" -> content
	linkedEtag func(sum string) string
	requests   atomic.Int64
}

func newHubServer(t *testing.T, files map[string][]byte) *hubServer {
	h := &hubServer{files: files, linkedEtag: func(sum string) string { return sum }}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.requests.Add(1)
		if key, ok := strings.CutPrefix(r.URL.Path, "/cdn/"); ok {
			if b, ok := h.files[key]; ok {
				w.Write(b)
				return
			}
			http.NotFound(w, r)
			return
		}
		repoFile := strings.Replace(strings.TrimPrefix(r.URL.Path, "/"), "/resolve/main/", "/", 1)
		b, ok := h.files[repoFile]
		if !ok || !strings.Contains(r.URL.Path, "/resolve/main/") {
			http.NotFound(w, r)
			return
		}
		if strings.HasSuffix(repoFile, ".safetensors") {
			sum := sha256.Sum256(b)
			if e := h.linkedEtag(hex.EncodeToString(sum[:])); e != "" {
				w.Header().Set("X-Linked-Etag", `"`+e+`"`)
			}
			http.Redirect(w, r, "/cdn/"+repoFile, http.StatusFound)
			return
		}
		w.Header().Set("ETag", `"0123456789abcdef0123456789abcdef01234567"`)
		w.Write(b)
	}))
	t.Cleanup(h.Close)
	return h
}

// hubResNet18 makes a Hub repository's files from torchvision's resnet18
// parity fixture (seeded random weights, 10 classes): model.safetensors
// written by scripts/zoo/pth_to_safetensors.py without num_batches_tracked,
// and a timm config.json. It returns the files and the fixture folder.
func hubResNet18(t *testing.T, arch string) (config, weights []byte, dir string) {
	t.Helper()
	dir = torchtest.Fixture(t, "resnet18")
	st := filepath.Join(t.TempDir(), "model.safetensors")
	cmd := exec.Command("/usr/bin/python3", filepath.Join(torchtest.Root(), "scripts", "zoo", "pth_to_safetensors.py"),
		filepath.Join(dir, "resnet18.pth"), st, "--drop-num-batches-tracked")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("pth_to_safetensors.py: %v\n%s", err, out)
	}
	weights, err := os.ReadFile(st)
	if err != nil {
		t.Fatal(err)
	}
	config = []byte(fmt.Sprintf(`{"architecture": %q, "num_classes": 10, "num_features": 512, "pretrained_cfg": {
		"tag": "a1_in1k", "custom_load": false, "input_size": [3, 224, 224], "fixed_input_size": false,
		"interpolation": "bicubic", "crop_pct": 0.95, "crop_mode": "center", "mean": [0.485, 0.456, 0.406],
		"std": [0.229, 0.224, 0.225], "num_classes": 10, "pool_size": [7, 7], "first_conv": "conv1", "classifier": "fc"}}`, arch))
	return config, weights, dir
}

// TestHubResNet18 fetches a timm ResNet-18 from a local Hub-shaped server
// and checks its logits against torchvision's, the transform read from
// pretrained_cfg, the cache, and the refusals.
func TestHubResNet18(t *testing.T) {
	config, weights, dir := hubResNet18(t, "resnet18")
	srv := newHubServer(t, map[string][]byte{
		"timm/resnet18.a1_in1k/config.json": config, "timm/resnet18.a1_in1k/model.safetensors": weights,
		"timm/resnet50d.a1_in1k/config.json": []byte(strings.Replace(string(config), `"resnet18"`, `"resnet50d"`, 1)),
	})
	home := t.TempDir()
	t.Setenv("GTL_HOME", home)
	t.Setenv("HF_ENDPOINT", srv.URL)
	orig := torch.NumThreads()
	if err := torch.SetNumThreads(1); err != nil { // as make_fixtures.py
		t.Fatal(err)
	}
	defer torch.SetNumThreads(max(orig, 1))

	open := func(o vision.OpenOptions) (*vision.Opened, error) {
		var out *vision.Opened
		err := torch.Do(func() error {
			var err error
			out, err = vision.Open(o)
			return err
		})
		return out, err
	}
	for round := 0; round < 2; round++ { // downloaded, then from the cache
		o, err := open(vision.OpenOptions{Pretrained: true, PretrainedName: "hf-hub:timm/resnet18.a1_in1k"})
		if err != nil {
			t.Fatal(err)
		}
		if o.Model.Arch != "resnet18" || o.Model.NumClasses != 10 {
			t.Errorf("opened %s with %d classes", o.Model.Arch, o.Model.NumClasses)
		}
		// timm: resize to floor(224 / 0.95) = 235, crop 224, bicubic.
		if p := o.Prep; p.CropSize != 224 || p.ResizeSize != 235 || p.Filter != "bicubic" || p.Mean[0] != 0.485 || p.Std[2] != 0.225 {
			t.Errorf("preprocess %+v", p)
		}
		err = torch.Do(func() error {
			defer o.Model.Close()
			maxD, tol, err := torchtest.CompareLogits(o.Model, filepath.Join(dir, "resnet18.input.npy"), filepath.Join(dir, "resnet18.eval.npy"), false)
			if err != nil {
				return err
			}
			if maxD > tol {
				t.Errorf("logits: max |Δ| %.3g > %.3g", maxD, tol)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if round == 0 {
			cached := filepath.Join(home, "hub", "models--timm--resnet18.a1_in1k", "snapshots", "main")
			for _, f := range []string{"config.json", "model.safetensors"} {
				if _, err := os.Stat(filepath.Join(cached, f)); err != nil {
					t.Errorf("not cached: %v", err)
				}
			}
		}
	}
	if n := srv.requests.Load(); n != 3 { // config, redirect, blob; none from the cache
		t.Errorf("%d requests, want 3", n)
	}

	tests := []struct {
		name, ref, arch string
		linked          func(string) string
		want            string
	}{
		{"unsupported architecture", "hf-hub:timm/resnet50d.a1_in1k", "", nil,
			`timm architecture "resnet50d" is not supported; gtl loads timm weights of resnet18, resnet34, resnet50`},
		{"wrong hash", "hf-hub:timm/resnet18.a1_in1k", "", func(string) string { return strings.Repeat("ab", 32) },
			"does not match the published abababababababab"},
		{"no hash", "hf-hub:timm/resnet18.a1_in1k", "", func(string) string { return "" }, "the server sent no SHA-256 for model.safetensors"},
		{"not on the Hub", "hf-hub:timm/nothing", "", nil, "404 Not Found"},
		{"bad ref", "hf-hub:resnet18", "", nil, "want hf-hub:ORG/NAME"},
		{"other model", "hf-hub:timm/resnet18.a1_in1k", "resnet34", nil, "hf-hub:timm/resnet18.a1_in1k is a resnet18, not resnet34"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			home := t.TempDir()
			t.Setenv("GTL_HOME", home)
			srv.linkedEtag = func(sum string) string { return sum }
			if tt.linked != nil {
				srv.linkedEtag = tt.linked
			}
			_, err := open(vision.OpenOptions{Arch: tt.arch, Pretrained: true, PretrainedName: tt.ref})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
			// Nothing half-downloaded is left as a weights file.
			matches, _ := filepath.Glob(filepath.Join(home, "hub", "*", "snapshots", "main", "*.safetensors*"))
			if len(matches) > 0 && tt.arch == "" {
				t.Errorf("left %v", matches)
			}
		})
	}
}
