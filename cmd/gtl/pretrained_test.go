package main

import (
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
