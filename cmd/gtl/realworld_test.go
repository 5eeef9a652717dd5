package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// realWorldScript makes, with Debian's torch and PIL, a squeezenet1_1
// (3 classes) as a plain state dict and as a Lightning checkpoint, and a
// folder of images as phones and the web leave them.
const realWorldScript = `
import collections, os, sys
import numpy as np, torch, torchvision
from PIL import Image
out = sys.argv[1]
torch.manual_seed(0)
sd = torchvision.models.squeezenet1_1(num_classes=3).state_dict()
torch.save(sd, os.path.join(out, "plain.pth"))
torch.save({"epoch": 1, "global_step": 5, "state_dict": collections.OrderedDict(("model." + k, v) for k, v in sd.items()),
            "optimizer_states": [], "hyper_parameters": {"lr": 0.1}}, os.path.join(out, "lightning.ckpt"))
d = os.path.join(out, "photos")
os.makedirs(os.path.join(d, ".ipynb_checkpoints"))
rng = np.random.default_rng(0)
img = Image.fromarray(rng.integers(0, 255, size=(40, 64, 3), dtype=np.uint8))
img.convert("CMYK").save(os.path.join(d, "cmyk.jpg"), quality=90)
exif = Image.Exif(); exif[0x0112] = 6
img.save(os.path.join(d, "phone.JPG"), exif=exif.tobytes(), quality=90)
img.save(os.path.join(d, "web.webp"), lossless=True)
img.save(os.path.join(d, "scan.tif"))
img.save(os.path.join(d, ".ipynb_checkpoints", "cmyk-checkpoint.jpg"))
open(os.path.join(d, ".DS_Store"), "wb").write(b"\x00\x00\x00\x01Bud1")
open(os.path.join(d, "._phone.JPG"), "wb").write(b"\x00\x05\x16\x07AppleDouble")
open(os.path.join(d, "notes.txt"), "w").write("holiday")
`

// TestRealWorldCLI runs predict as a new user would: a Lightning checkpoint,
// a folder of phone and web images with macOS and Jupyter litter, flags
// after the arguments.
func TestRealWorldCLI(t *testing.T) {
	dir := t.TempDir()
	if b, err := exec.Command("/usr/bin/python3", "-c", realWorldScript, dir).CombinedOutput(); err != nil {
		t.Fatalf("python: %v\n%s", err, b)
	}
	photos := filepath.Join(dir, "photos")
	logits := func(name string) string { return filepath.Join(dir, name) }
	out, errOut, code := gtl("predict", photos, "--model", "squeezenet1_1", "--weights", filepath.Join(dir, "lightning.ckpt"), "--top-k", "2",
		"--logits", logits("ckpt.npy"))
	if code != 0 {
		t.Fatalf("predict: %d %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 {
		t.Errorf("%d images predicted, want 4 (cmyk.jpg, phone.JPG, scan.tif, web.webp):\n%s", len(lines), out)
	}
	for _, l := range lines {
		if !regexp.MustCompile(`^.*(cmyk\.jpg|phone\.JPG|scan\.tif|web\.webp)\tclass \d \d+\.\d% \| class \d \d+\.\d%$`).MatchString(l) {
			t.Errorf("line %q, want an image and its top 2", l)
		}
	}
	for _, want := range []string{`weights taken from the checkpoint's "state_dict" entry`, `prefix "model." removed from every tensor name`,
		"skipped 1 file(s) that are not images gtl reads", "notes.txt"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr %q, want %q", errOut, want)
		}
	}
	// The same logits as the plain state dict; --exif=false changes the
	// phone picture's only.
	if _, errOut, code := gtl("predict", photos, "-q", "--logits", logits("plain.npy"), "--model", "squeezenet1_1", "--weights", filepath.Join(dir, "plain.pth")); code != 0 {
		t.Fatal(errOut)
	}
	if _, errOut, code := gtl("predict", photos, "--exif=false", "-q", "--logits", logits("stored.npy"), "--model", "squeezenet1_1", "--weights", filepath.Join(dir, "plain.pth")); code != 0 {
		t.Fatal(errOut)
	}
	// Rows are in file order: cmyk.jpg, phone.JPG, scan.tif, web.webp.
	cmp := `import numpy as np, sys
a, b, c = (np.load(f) for f in sys.argv[1:4])
same = [bool((a[i] == c[i]).all()) for i in range(4)]
sys.exit(0 if (a == b).all() and same == [True, False, True, True] else 1)`
	if b, err := exec.Command("/usr/bin/python3", "-c", cmp, logits("ckpt.npy"), logits("plain.npy"), logits("stored.npy")).CombinedOutput(); err != nil {
		t.Errorf("logits: Lightning checkpoint vs plain, and --exif=false on the phone picture only: %v %s", err, b)
	}
	// The pixel limit names the file.
	_, errOut, code = gtl("predict", filepath.Join(photos, "scan.tif"), "--max-pixels", "1000", "--model", "squeezenet1_1", "--weights", filepath.Join(dir, "plain.pth"), "-q")
	if code == 0 || !strings.Contains(errOut, "scan.tif: too many pixels: a tiff image of 64×40 = 2560 pixels, over the limit of 1000") {
		t.Errorf("--max-pixels 1000: exit %d, %q", code, errOut)
	}
	if _, err := os.Stat(logits("ckpt.npy")); err != nil {
		t.Fatal(err)
	}
}
