package main

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestPretrainedNames: --pretrained alone picks torchvision's DEFAULT, and
// takes an enum name after "=" or a space; the choice shows in the file the
// (here offline) download asks for.
func TestPretrainedNames(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("GTL_HOME", filepath.Join(tmp, "home"))
	t.Setenv("GTL_WEIGHTS_URL", "http://127.0.0.1:1/models")
	img := filepath.Join(tmp, "a.png")
	writePNG(t, img)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"bare is DEFAULT", []string{"--model", "resnet50", "--pretrained", img}, `resnet50 IMAGENET1K_V2: .*put resnet50-11ad3fa6\.pth`},
		{"space", []string{"--model", "resnet50", "--pretrained", "IMAGENET1K_V1", img}, `put resnet50-0676ba61\.pth`},
		{"after the image", []string{img, "--model", "resnet50", "--pretrained"}, `put resnet50-11ad3fa6\.pth`},
		{"name after the image", []string{img, "--pretrained", "IMAGENET1K_V1", "--model", "resnet50"}, `put resnet50-0676ba61\.pth`},
		{"equals", []string{"--model", "resnet50", "--pretrained=IMAGENET1K_V1", img}, `put resnet50-0676ba61\.pth`},
		{"DEFAULT", []string{"--model", "resnet50", "--pretrained", "DEFAULT", img}, `put resnet50-11ad3fa6\.pth`},
		{"qualified", []string{"--model", "resnet50", "--pretrained", "ResNet50_Weights.IMAGENET1K_V1", img}, `put resnet50-0676ba61\.pth`},
		{"unknown name", []string{"--model", "resnet18", "--pretrained=IMAGENET1K_V2", img}, `resnet18 has no weights "IMAGENET1K_V2" \(torchvision has: DEFAULT, IMAGENET1K_V1\)`},
		{"vit size", []string{"--model", "vit_b_16", "--pretrained", "IMAGENET1K_SWAG_E2E_V1", img}, `vit_b_16 IMAGENET1K_SWAG_E2E_V1 needs 384×384 images`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, errOut, code := gtl(append([]string{"predict", "--quiet"}, tt.args...)...)
			if code == 0 || !regexp.MustCompile(tt.want).MatchString(errOut) || strings.Count(strings.TrimSpace(errOut), "\n") > 0 {
				t.Fatalf("exit %d, stderr %q; want one line matching %q", code, errOut, tt.want)
			}
		})
	}
	out, _, code := gtl("models", "resnet50")
	for _, re := range []string{`(?m)^  --pretrained=IMAGENET1K_V1 +ImageNet acc@1  76\.13% acc@5  92\.86%  crop 224 resize 256 bilinear$`,
		`(?m)^  --pretrained=IMAGENET1K_V2 \(DEFAULT\) +ImageNet acc@1  80\.86% acc@5  95\.43%  crop 224 resize 232 bilinear$`} {
		if code != 0 || !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("models resnet50: want %s in\n%s", re, out)
		}
	}
}

func TestJoinPretrainedArg(t *testing.T) {
	tests := []struct{ in, want string }{
		{"gtl predict --pretrained IMAGENET1K_V2 a.png", "gtl predict --pretrained=IMAGENET1K_V2 a.png"},
		{"gtl predict --pretrained hf-hub:timm/resnet18.a1_in1k a.png", "gtl predict --pretrained=hf-hub:timm/resnet18.a1_in1k a.png"},
		{"gtl predict --pretrained a.png", "gtl predict --pretrained a.png"},
		{"gtl predict --pretrained MY_PHOTOS", "gtl predict --pretrained MY_PHOTOS"},
		{"gtl predict -- --pretrained DEFAULT", "gtl predict -- --pretrained DEFAULT"},
	}
	for _, tt := range tests {
		if got := strings.Join(joinPretrainedArg(strings.Fields(tt.in)), " "); got != tt.want {
			t.Errorf("%q -> %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestPredictHub: gtl predict --pretrained hf-hub:timm/resnet18.a1_in1k
// against a local Hub-shaped server (HF_ENDPOINT) serving torchvision's
// seeded resnet18 as timm's safetensors: the logits of an .npy batch are
// torchvision's, an image gets its top classes, and a second run uses the
// cache without the server.
func TestPredictHub(t *testing.T) {
	dir := fixture(t, "resnet18")
	st := filepath.Join(t.TempDir(), "model.safetensors")
	if out, err := exec.Command("/usr/bin/python3", "../../scripts/zoo/pth_to_safetensors.py", filepath.Join(dir, "resnet18.pth"), st).CombinedOutput(); err != nil {
		t.Fatalf("pth_to_safetensors.py: %v\n%s", err, out)
	}
	weights, err := os.ReadFile(st)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(weights)
	config := `{"architecture": "resnet18", "num_classes": 10, "pretrained_cfg": {"input_size": [3, 224, 224],
		"interpolation": "bicubic", "crop_pct": 0.95, "crop_mode": "center", "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}}`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/timm/resnet18.a1_in1k/resolve/main/config.json":
			w.Write([]byte(config))
		case "/timm/resnet18.a1_in1k/resolve/main/model.safetensors":
			w.Header().Set("X-Linked-Etag", `"`+hex.EncodeToString(sum[:])+`"`)
			http.Redirect(w, r, "/blob", http.StatusFound)
		case "/blob":
			w.Write(weights)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	tmp := t.TempDir()
	t.Setenv("GTL_HOME", filepath.Join(tmp, "home"))
	t.Setenv("HF_ENDPOINT", srv.URL)
	logits := filepath.Join(tmp, "logits.npy")
	_, errOut, code := gtl("--threads", "1", "predict", "--pretrained", "hf-hub:timm/resnet18.a1_in1k", "--logits", logits, filepath.Join(dir, "resnet18.input.npy"))
	if code != 0 || !strings.Contains(errOut, "resnet18: loaded ") {
		t.Fatalf("predict: exit %d\n%s", code, errOut)
	}
	cmp := exec.Command("/usr/bin/python3", "-c", "import numpy as np,sys; a=np.load(sys.argv[1]); b=np.load(sys.argv[2]); sys.exit(0 if a.shape==b.shape and abs(a-b).max()<=1e-4*abs(b).max()+1e-5 else 1)",
		logits, filepath.Join(dir, "resnet18.eval.npy"))
	if b, err := cmp.CombinedOutput(); err != nil {
		t.Errorf("hf-hub logits differ from torchvision's: %v %s", err, b)
	}
	srv.Close() // from the cache now
	img := filepath.Join(tmp, "a.png")
	writePNG(t, img)
	out, errOut, code := gtl("predict", "--quiet", "--pretrained=hf-hub:timm/resnet18.a1_in1k", "--top-k", "2", img)
	if code != 0 || !regexp.MustCompile(`class \d`).MatchString(out) {
		t.Fatalf("predict from the cache: exit %d\n%s%s", code, out, errOut)
	}
}
