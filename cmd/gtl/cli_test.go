package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func gtl(args ...string) (stdout, stderr string, code int) {
	var o, e bytes.Buffer
	code = run(append([]string{"gtl"}, args...), &o, &e)
	return o.String(), e.String(), code
}

func TestCommands(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		env      map[string]string
		code     int
		stdout   []string // regexps
		stderrRE string
	}{
		{name: "version", args: []string{"version"}, stdout: []string{`^gtl 0\.1\.0-dev`, `libtorch \d+\.\d+\.\d+ \((CPU|CUDA) build\), gotch v0\.9\.1`}},
		{name: "doctor", args: []string{"doctor"}, stdout: []string{
			`(?m)^OK    libtorch  `, `(?m)^OK    wrapper .* \d+ generated ops disabled`, `(?m)^OK    compute `,
			`(?m)^OK    data      Fashion-MNIST: 70000 images`, `(?m)^OK    fonts     the 79 pinned fonts of gtl glyphs, from fonts-dejavu-core, `, `(?m)^OK    threads   `, `(?m)^OK    c10d      gloo: data-parallel`}},
		{name: "doctor bad env", args: []string{"doctor"}, env: map[string]string{"GTL_NUM_THREADS": "lots"}, code: 1,
			stdout:   []string{`(?m)^FAIL  threads   env: GTL_NUM_THREADS="lots"`, `fix: set GTL_NUM_THREADS`},
			stderrRE: `^gtl: doctor: gtl cannot work here`},
		{name: "doctor missing data", args: []string{"doctor"}, env: map[string]string{"GTL_FASHION_MNIST_DIR": "/nonexistent"},
			stdout: []string{`(?m)^WARN  data .*not found`, `apt-get install dataset-fashion-mnist`}},
		{name: "smoke", args: []string{"--threads", "1", "smoke", "--per-class", "5", "--test", "200", "--epochs", "2", "--quiet"},
			stdout: []string{`(?m)50 training images \(5 per class\), 200 test images, 2 epochs, 1 libtorch thread$`,
				`(?m)^1 +\d\.\d{4} +\d\.\d{4} +\d+\.\d%`, `(?m)^2 +`, `final test accuracy \d+\.\d% \(chance 10%\)`}},
		{name: "smoke bad flag value", args: []string{"smoke", "--per-class", "0"}, code: 2, stderrRE: `^gtl: --per-class 0: want 1\.\.6000`},
		{name: "bad threads", args: []string{"--threads", "-2", "version"}, code: 2, stderrRE: `^gtl: --threads -2: want at least 1`},
		{name: "bad env threads", args: []string{"version"}, env: map[string]string{"GTL_NUM_THREADS": "0"}, code: 2, stderrRE: `^gtl: env: GTL_NUM_THREADS="0"`},
		{name: "bad env malloc", args: []string{"version"}, env: map[string]string{"GTL_MALLOC": "sytem"}, code: 2, stderrRE: `^gtl: env: GTL_MALLOC="sytem": want reuse or system\n$`},
		{name: "unknown flag", args: []string{"smoke", "--nope"}, code: 2, stderrRE: `^gtl: unknown flag --nope for gtl smoke \(gtl smoke --help lists the flags\)\n$`},
		{name: "help lists env", args: []string{"--help"}, stdout: []string{`GTL_HOME`, `GTL_NUM_THREADS`, `GTL_FASHION_MNIST_DIR`, `doctor`, `compare`}},
		{name: "bench json", args: []string{"bench", "--model", "resnet18", "--mode", "infer", "--batch", "2", "--image-size", "32",
			"--steps", "2", "--warmup", "0", "--device", "cpu", "--threads", "1", "--json"},
			stdout: []string{`^\{"tool":"gtl","model":"resnet18","mode":"infer","batch":2,"image_size":32,"device":"cpu",`,
				`"threads":1,`, `"images_per_s":[0-9.e+]+,`, `"peak_mem_kind":"rss"`}},
		// (mobilenet_v2 cannot train under CPU bf16 autocast on libtorch 1.13: hardtanh has no
		// bfloat16 backward there, in PyTorch alike.)
		{name: "bench text", args: []string{"bench", "--model", "resnet18", "--batch", "2", "--image-size", "32",
			"--steps", "1", "--warmup", "0", "--device", "cpu", "--amp", "bf16", "--channels-last"},
			stdout: []string{`(?m)^resnet18 train: batch 2, 32 px, amp bf16, channels-last on cpu`, `images/s; step p50 `, `peak memory \d+ MiB \(rss\)`}},
		{name: "bench bad mode", args: []string{"bench", "--mode", "eval"}, code: 2, stderrRE: `^gtl: bench: mode "eval": want train or infer\n$`},
		{name: "bench bad amp", args: []string{"bench", "--amp", "fp8"}, code: 2, stderrRE: `^gtl: --amp fp8: want none, bf16 or fp16\n$`},
		{name: "train fp16 on cpu", args: []string{"train", "--data", "fashion-mnist", "--model", "resnet18", "--device", "cpu", "--amp", "fp16", "--out", "x"}, code: 2, stderrRE: `^gtl: --amp fp16 needs a CUDA device .*; on the CPU use bf16\n$`},
		{name: "compare tf32 on cpu", args: []string{"compare", "--data", "fashion-mnist", "--weights", "w.pth", "--device", "cpu", "--tf32", "--out", "x"}, code: 2, stderrRE: `^gtl: --tf32 needs a CUDA device`},
		{name: "bench fp16 on cpu", args: []string{"bench", "--device", "cpu", "--amp", "fp16"}, code: 2, stderrRE: `fp16 needs a CUDA device`},
		{name: "bench bad device", args: []string{"bench", "--device", "tpu"}, code: 2, stderrRE: `^gtl: --device: device "tpu"`},
		{name: "compare missing device", args: []string{"compare", "--data", "fashion-mnist", "--device", "cuda:99", "--out", "/nonexistent/cmp"}, code: 2,
			stderrRE: `^gtl: --device: device cuda:99: [^\n]*\n$`},
		{name: "train missing device", args: []string{"train", "--data", "fashion-mnist", "--model", "resnet18", "--device", "cuda:99", "--out", "/nonexistent/run"}, code: 2,
			stderrRE: `^gtl: --device: device cuda:99: [^\n]*\n$`},
		{name: "bench bad batch", args: []string{"bench", "--batch", "0"}, code: 2, stderrRE: `^gtl: --batch 0: want at least 1`},
		{name: "bench unknown model", args: []string{"bench", "--model", "resnet19", "--device", "cpu"}, code: 2, stderrRE: `resnet19`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			out, errOut, code := gtl(tt.args...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, out, errOut)
			}
			for _, re := range tt.stdout {
				if !regexp.MustCompile(re).MatchString(out) {
					t.Errorf("stdout does not match %q:\n%s", re, out)
				}
			}
			if tt.stderrRE != "" && !regexp.MustCompile(tt.stderrRE).MatchString(errOut) {
				t.Errorf("stderr does not match %q:\n%s", tt.stderrRE, errOut)
			}
			if strings.Contains(errOut, "goroutine ") || strings.Contains(errOut, "panic") {
				t.Errorf("stack trace on stderr:\n%s", errOut)
			}
		})
	}
}

func TestFirstLine(t *testing.T) {
	for in, want := range map[string]string{"a": "a", "a\nb\nc": "a", "\n x \n": "x", "": ""} {
		if got := firstLine(in); got != want {
			t.Errorf("firstLine(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestSetupScriptBadLibtorch: each way LIBTORCH can be wrong gives one line
// that says what was looked for and where, and exit status 1.
func TestSetupScriptBadLibtorch(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	mk := func(t *testing.T, files map[string]string) string {
		dir := t.TempDir()
		for name, body := range files {
			p := filepath.Join(dir, name)
			os.MkdirAll(filepath.Dir(p), 0o755)
			os.WriteFile(p, []byte(body), 0o644)
		}
		return dir
	}
	hdr := "include/torch/csrc/api/include/torch/"
	version := func(maj, min int) string {
		return "#define TORCH_VERSION_MAJOR " + strconv.Itoa(maj) + "\n#define TORCH_VERSION_MINOR " + strconv.Itoa(min) + "\n#define TORCH_VERSION_PATCH 0\n"
	}
	tests := []struct {
		name  string
		files map[string]string // nil: LIBTORCH does not exist
		want  string
	}{
		{"missing folder", nil, `LIBTORCH=/nonexistent/libtorch is not a folder`},
		{"no headers", map[string]string{"README": ""}, `no libtorch headers under LIBTORCH=.* \(looked for .*/torch/torch.h\)`},
		{"no libraries", map[string]string{hdr + "torch.h": "", hdr + "version.h": version(2, 1)}, `no libtorch_cpu.so under LIBTORCH=.* \(looked in lib/`},
		{"too old", map[string]string{hdr + "torch.h": "", hdr + "version.h": version(1, 12), "lib/libtorch_cpu.so": ""}, `libtorch 1\.12\.0 at .* is too old`},
		// libtorch 2.9+ defines the numbers in another header that version.h includes.
		{"version in an included header", map[string]string{hdr + "torch.h": "", hdr + "version.h": "#include <torch/headeronly/version.h>\n",
			"include/torch/headeronly/version.h": version(1, 11), "lib/libtorch_cpu.so": ""}, `libtorch 1\.11\.0 at .* is too old`},
		{"no version", map[string]string{hdr + "torch.h": "", hdr + "version.h": "\n", "lib/libtorch_cpu.so": ""}, `cannot tell the libtorch version`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lt := "/nonexistent/libtorch"
			if tt.files != nil {
				lt = mk(t, tt.files)
			}
			cmd := exec.Command("bash", "../../scripts/setup.sh")
			cmd.Env = append(os.Environ(), "LIBTORCH="+lt, "GTL_SKIP_APT=1")
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			err := cmd.Run()
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
				t.Fatalf("exit: %v, want status 1; stderr: %s", err, stderr.String())
			}
			msg := strings.TrimSpace(stderr.String())
			if strings.Count(msg, "\n") != 0 || !strings.HasPrefix(msg, "setup: error: ") || !regexp.MustCompile(tt.want).MatchString(msg) {
				t.Fatalf("stderr %q, want one line matching %q", msg, tt.want)
			}
		})
	}
}

// TestSetupScriptMissingPackage: with apt-get ruled out, a missing Debian
// package is one line naming it and the command that installs it.
func TestSetupScriptMissingPackage(t *testing.T) {
	bin := t.TempDir()
	// A dpkg-query that knows no package.
	if err := os.WriteFile(filepath.Join(bin, "dpkg-query"), []byte("#!/bin/sh\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", "../../scripts/setup.sh")
	cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"), "GTL_SKIP_APT=1", "LIBTORCH=")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	msg := strings.TrimSpace(stderr.String())
	want := "setup: error: missing Debian packages: dataset-fashion-mnist g++ make patch libjpeg62-turbo-dev libtorch-dev libgloo-dev; install them with: sudo apt-get install -y --no-install-recommends dataset-fashion-mnist g++ make patch libjpeg62-turbo-dev libtorch-dev libgloo-dev"
	if err == nil || msg != want {
		t.Fatalf("err %v, stderr %q\nwant %q", err, msg, want)
	}
}

// fixture makes torchvision reference files for arch in a temporary folder
// (scripts/parity/make_fixtures.py with Debian's python3-torchvision).
func fixture(t *testing.T, arch string) string {
	t.Helper()
	dir := t.TempDir()
	out, err := exec.Command("/usr/bin/python3", "../../scripts/parity/make_fixtures.py", dir, arch).CombinedOutput()
	if err != nil {
		t.Fatalf("make_fixtures.py: %v\n%s (scripts/parity/setup.sh installs python3-torchvision)", err, out)
	}
	return dir
}

// TestPredictEmbedModels runs the model commands end to end on torchvision
// reference weights: predict on an .npy batch must reproduce torchvision's
// logits, and every kind of bad input is one line and a non-zero exit.
func TestPredictEmbedModels(t *testing.T) {
	dir := fixture(t, "resnet18")
	pth := filepath.Join(dir, "resnet18.pth")
	in := filepath.Join(dir, "resnet18.input.npy")
	logits := filepath.Join(t.TempDir(), "logits.npy")
	out, errOut, code := gtl("predict", "--model", "resnet18", "--weights", pth, "--logits", logits, "-k", "2", in)
	if code != 0 {
		t.Fatalf("predict: %d\n%s", code, errOut)
	}
	if !regexp.MustCompile(`(?m)^.*resnet18\.input\.npy\[1\]\tclass \d \d+\.\d% \| class \d`).MatchString(out) {
		t.Errorf("predict output:\n%s", out)
	}
	if !strings.Contains(errOut, "122 tensors loaded, 0 re-initialised, 0 unexpected, 0 missing") {
		t.Errorf("load report: %s", errOut)
	}
	check := exec.Command("/usr/bin/python3", "-c", "import numpy as np,sys; a=np.load(sys.argv[1]); b=np.load(sys.argv[2]); sys.exit(0 if a.shape==b.shape and abs(a-b).max()<=1e-4*abs(b).max()+1e-5 else 1)",
		logits, filepath.Join(dir, "resnet18.eval.npy"))
	if b, err := check.CombinedOutput(); err != nil {
		t.Errorf("predict's logits differ from torchvision's: %v %s", err, b)
	}

	// A picture through the eval transform, and a new head.
	img := filepath.Join(t.TempDir(), "x.png")
	writePNG(t, img)
	out, errOut, code = gtl("predict", "--model", "resnet18", "--weights", pth, "--num-classes", "3", "-k", "1", "-q", img)
	if code != 0 || !regexp.MustCompile(`x\.png\tclass [0-2] \d+\.\d%\n$`).MatchString(out) {
		t.Fatalf("predict image: %d %q %s", code, out, errOut)
	}

	feats := filepath.Join(t.TempDir(), "f.npy")
	out, errOut, code = gtl("embed", "--model", "resnet18", "--weights", pth, "--data", "fashion-mnist", "--limit", "8", "--out", feats, "-q")
	if code != 0 || !strings.Contains(out, "features [8 512]") || !strings.Contains(out, "classes: T-shirt/top, Trouser") {
		t.Fatalf("embed: %d %q %s", code, out, errOut)
	}
	if _, err := os.Stat(strings.TrimSuffix(feats, ".npy") + ".labels.npy"); err != nil {
		t.Error(err)
	}

	// Export: a gtl checkpoint (safetensors + JSON) predicts the same logits
	// without --model, and its .pth and .safetensors load strictly into
	// torchvision's resnet18 with the same logits as the original weights.
	tmp := t.TempDir()
	ck := filepath.Join(tmp, "ck.safetensors")
	if _, errOut, code := gtl("export", "-q", "--model", "resnet18", "--weights", pth, "--format", "safetensors", "--out", ck); code != 0 {
		t.Fatalf("export safetensors: %s", errOut)
	}
	if _, err := os.Stat(filepath.Join(tmp, "ck.json")); err != nil {
		t.Fatal(err)
	}
	back := filepath.Join(tmp, "back.pth")
	if _, errOut, code := gtl("export", "-q", "--weights", ck, "--out", back); code != 0 {
		t.Fatalf("export pth from the checkpoint: %s", errOut)
	}
	logits2 := filepath.Join(tmp, "l2.npy")
	if _, errOut, code := gtl("predict", "-q", "--weights", ck, "--logits", logits2, in); code != 0 {
		t.Fatalf("predict from checkpoint: %s", errOut)
	}
	for _, f := range []struct{ file, format, logits string }{{back, "pth", filepath.Join(tmp, "tv1.npy")}, {ck, "safetensors", filepath.Join(tmp, "tv2.npy")}} {
		if b, err := exec.Command("/usr/bin/python3", "../../scripts/parity/weights_io.py", "logits", f.file, f.format, "resnet18", "10", in, f.logits).CombinedOutput(); err != nil {
			t.Fatalf("torchvision cannot load gtl's %s: %v\n%s", f.format, err, b)
		}
	}
	// gtl's evaluation folds batch norms (rounding differs from eager
	// torchvision's within the tolerance checked above): the checkpoint must
	// give exactly gtl's logits of the original weights, and torchvision
	// exactly its own.
	for _, c := range []struct{ got, want string }{
		{logits2, logits},
		{filepath.Join(tmp, "tv1.npy"), filepath.Join(dir, "resnet18.eval.npy")},
		{filepath.Join(tmp, "tv2.npy"), filepath.Join(dir, "resnet18.eval.npy")},
	} {
		cmp := exec.Command("/usr/bin/python3", "-c", "import numpy as np,sys; a=np.load(sys.argv[1]); b=np.load(sys.argv[2]); sys.exit(0 if abs(a-b).max()==0 else 1)", c.got, c.want)
		if b, err := cmp.CombinedOutput(); err != nil {
			t.Errorf("%s differs from %s: %v %s", c.got, c.want, err, b)
		}
	}
	if _, errOut, code := gtl("export", "--weights", ck, "--format", "pth", "--out", filepath.Join(tmp, "x.safetensors")); code != 2 || !strings.Contains(errOut, "does not fit --format pth") {
		t.Errorf("mismatched --out/--format: %d %s", code, errOut)
	}

	out, _, code = gtl("models", "resnet18", "resnet50")
	if code != 0 || !regexp.MustCompile(`(?m)^resnet18 +11\.69M +224  1 stem 9\.5K \| 2 layer1 148\.0K .*6 head 513\.0K$`).MatchString(out) {
		t.Errorf("models:\n%s", out)
	}

	trunc := filepath.Join(t.TempDir(), "t.pth")
	b, _ := os.ReadFile(pth)
	os.WriteFile(trunc, b[:len(b)/3], 0o644)
	bad := []struct {
		name string
		args []string
		want string
	}{
		{"other architecture", []string{"predict", "--model", "resnet34", "--weights", pth, in}, `load into resnet34: .*missing from the file`},
		{"truncated weights", []string{"predict", "--model", "resnet18", "--weights", trunc, in}, `t\.pth`},
		{"missing weights", []string{"predict", "--model", "resnet18", "--weights", "/nonexistent.pth", in}, `/nonexistent\.pth`},
		{"unknown arch", []string{"predict", "--model", "resnet19", in}, `unknown architecture "resnet19"`},
		{"npy of logits", []string{"predict", "--model", "resnet18", "--weights", pth, filepath.Join(dir, "resnet18.eval.npy")}, `eval\.npy: <f4 array of shape \[2 10\]; want float32 \[N, 3, H, W\]`},
		{"unreadable image", []string{"predict", "--model", "resnet18", "--weights", pth, trunc}, `t\.pth: not a readable image`},
		{"unknown model for models", []string{"models", "nonet"}, `unknown architecture "nonet"`},
		{"both weights and pretrained", []string{"predict", "--model", "resnet18", "--weights", pth, "--pretrained", in}, `either --weights or --pretrained`},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			_, errOut, code := gtl(tt.args...)
			// (A bare .pth is also named in a note on its missing preprocessing.)
			lines := regexp.MustCompile(`(?m)^note: .* carries no preprocessing .*\n`).ReplaceAllString(errOut, "")
			if code == 0 || !regexp.MustCompile(tt.want).MatchString(errOut) || strings.Count(strings.TrimSpace(lines), "\n") > 1 {
				t.Fatalf("exit %d, stderr %q; want non-zero and one line matching %q", code, errOut, tt.want)
			}
			if strings.Contains(errOut, "goroutine ") {
				t.Fatalf("stack trace: %s", errOut)
			}
		})
	}
}

func writePNG(t *testing.T, path string) {
	t.Helper()
	m := image.NewRGBA(image.Rect(0, 0, 80, 60))
	for i := range m.Pix {
		m.Pix[i] = uint8(i * 7)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, m); err != nil {
		t.Fatal(err)
	}
}

// TestTrainTransfer runs the transfer flow at a small size: a source
// model from scratch on classes 0-4, then fine-tuning on classes 5-9 from
// its best checkpoint with two frozen stages, and the feature extractor.
func TestTrainTransfer(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "source")
	out, errOut, code := gtl("train", "--data", "fashion-mnist", "-q", "--model", "resnet18", "--classes", "0-4", "--shots", "40", "--epochs", "1", "--val", "100", "--out", src)
	if code != 0 {
		t.Fatalf("source: %d %s", code, errOut)
	}
	for _, f := range []string{"best.safetensors", "best.json", "last.safetensors", "metrics.jsonl", "metrics.csv", "config.json"} {
		if _, err := os.Stat(filepath.Join(src, f)); err != nil {
			t.Errorf("source run: %v", err)
		}
	}
	ft := filepath.Join(dir, "ft")
	out, errOut, code = gtl("train", "--data", "fashion-mnist", "--model", "resnet18", "--weights", filepath.Join(src, "best.safetensors"), "--classes", "5-9",
		"--shots", "20", "--freeze", "2", "--epochs", "2", "--val", "100", "--optimizer", "adamw", "--schedule", "cosine",
		"--warmup", "0.1", "--label-smoothing", "0.1", "--unfreeze-at", "1", "--out", ft)
	if code != 0 {
		t.Fatalf("fine-tune: %d %s", code, errOut)
	}
	for _, re := range []string{`(?m)^unfrozen: stage 2 \(layer1\)$`, `(?m)^1 +stem +9\.5K frozen`, `(?m)^2 +layer1 +148\.0K frozen`, `(?m)^3 +layer2 +525\.6K yes +0\.01 `,
		`(?m)^2 +\d+\.\d{4} +\d+\.\d{4} +\d+\.\d%`, `best val accuracy \d+\.\d%`} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("fine-tune output does not match %q:\n%s", re, out)
		}
	}
	if !strings.Contains(errOut, "120 tensors loaded, 2 re-initialised") {
		t.Errorf("the head trained on classes 0-4 must be re-initialised for 5-9: %s", errOut)
	}
	// Five classes: no top-5 accuracy, which would be 100%.
	if !regexp.MustCompile(`(?m)^top-1 \d+\.\d%  loss [0-9.]+  \(100 images, 5 classes\)$`).MatchString(out) || strings.Contains(out, "top-5") || !regexp.MustCompile(`(?m)^4 Ankle boot +(\d+ +){5}\d+\.\d%$`).MatchString(out) {
		t.Errorf("no report with a confusion matrix:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(ft, "confusion.csv")); err != nil {
		t.Error(err)
	}
	ev, errOut, code := gtl("eval", "-q", "--weights", filepath.Join(ft, "best.safetensors"))
	if code != 0 || !strings.Contains(ev, "(5000 images, 5 classes)") || !strings.Contains(ev, "0 Sandal") {
		t.Errorf("eval: %d %s %s", code, ev, errOut)
	}
	lines, _ := os.ReadFile(filepath.Join(ft, "metrics.jsonl"))
	if strings.Count(string(lines), "\n") != 2 {
		t.Errorf("metrics.jsonl: %q", lines)
	}
	if _, errOut, code = gtl("train", "--data", "fashion-mnist", "-q", "--weights", filepath.Join(src, "best.safetensors"), "--classes", "5-9", "--shots", "20",
		"--freeze", "all", "--epochs", "2", "--val", "100", "--out", filepath.Join(dir, "lin")); code != 0 {
		t.Fatalf("feature extractor: %s", errOut)
	}
	// Fine-tuning without --strategy, --epochs or --schedule: a cosine
	// schedule with 10% warm-up and at least 100 steps (100 images, batch
	// 32: 3 steps an epoch, so 34 epochs); flags the user gives win.
	for _, tc := range []struct {
		args     []string
		schedule string
		warmup   float64
		epochs   int
	}{
		{nil, "cosine", 0.1, 34},
		{[]string{"--epochs", "2"}, "cosine", 0.1, 2},
		{[]string{"--schedule", "constant"}, "constant", 0, 34},
	} {
		d := filepath.Join(dir, "defaults-"+strings.Join(tc.args, ""))
		args := append([]string{"train", "--data", "fashion-mnist", "-q", "--weights", filepath.Join(src, "best.safetensors"), "--classes", "5-9", "--shots", "20",
			"--freeze", "all", "--val", "100", "--out", d}, tc.args...)
		if _, errOut, code = gtl(args...); code != 0 {
			t.Fatalf("%v: %s", tc.args, errOut)
		}
		var cfg struct {
			Schedule string  `json:"schedule"`
			Warmup   float64 `json:"warmup"`
			Epochs   int     `json:"epochs"`
		}
		b, _ := os.ReadFile(filepath.Join(d, "config.json"))
		if err := json.Unmarshal(b, &cfg); err != nil || cfg.Schedule != tc.schedule || cfg.Warmup != tc.warmup || cfg.Epochs != tc.epochs {
			t.Errorf("%v: config %+v (%v), want %s, warm-up %g, %d epochs", tc.args, cfg, err, tc.schedule, tc.warmup, tc.epochs)
		}
	}
	bad := []struct {
		args []string
		want string
	}{
		{[]string{"--freeze", "6"}, "--freeze 6: the model has 6 stages"},
		{[]string{"--freeze", "some"}, "--freeze some: want a number of stages or all"},
		{[]string{"--shots", "7000"}, "--shots: 7000 images per class asked"},
		{[]string{"--classes", "3-12"}, `class 10 out of range`},
		{[]string{"--bn-policy", "maybe"}, "--bn-policy maybe"},
		{[]string{"--optimizer", "adam"}, "--optimizer adam: want sgd or adamw"},
		{[]string{"--unfreeze-at", "9", "--epochs", "3"}, `--unfreeze-at 9: "9" is not an epoch between 1 and 2`},
		{[]string{"--schedule", "linear"}, `unknown schedule "linear"`},
		{[]string{"--label-smoothing", "1"}, "--label-smoothing 1"},
		{[]string{"--augment", "heavy"}, "--augment heavy: want none, light or strong"},
		{[]string{"--on-bad-image", "ignore"}, "--on-bad-image ignore: want fail or skip"},
		{[]string{"--ema", "1"}, "--ema 1: want a decay in [0, 1)"},
		{[]string{"--device", "tpu"}, `--device: device "tpu"`},
		{[]string{"--strategy", "linear"}, "--strategy linear starts from source weights"},
		{[]string{"--strategy", "best"}, `unknown strategy "best"`},
		{[]string{"--freeze", "2"}, "--freeze 2: without source weights (--weights or --pretrained) the frozen stages would keep their random initialisation"},
		{[]string{"--batch", "0"}, "--batch"},
		{[]string{"--strategy", "auto"}, "--strategy auto: needs source weights"},
	}
	for _, b := range bad {
		_, errOut, code := gtl(append([]string{"train", "--data", "fashion-mnist", "-q", "--model", "resnet18", "--out", filepath.Join(dir, "bad")}, b.args...)...)
		if code != 2 || !strings.Contains(errOut, b.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", b.args, code, errOut, b.want)
		}
	}
}

// TestTrainResume: 2 epochs, then --resume to 3, give the same weights as 3
// epochs in one go; Ctrl-C stops after a complete epoch with a resumable
// state.
func TestTrainResume(t *testing.T) {
	dir := t.TempDir()
	args := func(out string, epochs string, extra ...string) []string {
		return append([]string{"train", "--data", "fashion-mnist", "-q", "--model", "resnet18", "--classes", "0-2", "--shots", "16", "--val", "30",
			"--epochs", epochs, "--out", out}, extra...)
	}
	one, two := filepath.Join(dir, "one"), filepath.Join(dir, "two")
	if _, errOut, code := gtl(args(one, "3")...); code != 0 {
		t.Fatal(errOut)
	}
	if _, errOut, code := gtl(args(two, "2")...); code != 0 {
		t.Fatal(errOut)
	}
	out, errOut, code := gtl(args(two, "3", "--resume")...)
	if code != 0 || !regexp.MustCompile(`(?m)^3 +\d`).MatchString(out) || regexp.MustCompile(`(?m)^1 +\d`).MatchString(out) {
		t.Fatalf("resume: %d\n%s\n%s", code, out, errOut)
	}
	a, _ := os.ReadFile(filepath.Join(one, "last.safetensors"))
	b, _ := os.ReadFile(filepath.Join(two, "last.safetensors"))
	if len(a) == 0 || !bytes.Equal(a, b) {
		t.Error("weights after 2 epochs + resume to 3 differ from 3 epochs in one go")
	}
	if m, _ := os.ReadFile(filepath.Join(two, "metrics.jsonl")); strings.Count(string(m), "\n") != 3 {
		t.Errorf("metrics.jsonl after resuming: %q", m)
	}
	if _, errOut, code := gtl(args(filepath.Join(dir, "none"), "3", "--resume")...); code != 2 || !strings.Contains(errOut, "holds no resumable run") {
		t.Errorf("resume without state: %d %s", code, errOut)
	}
}

// TestTrainInterrupt sends Ctrl-C, and SIGTERM (what Slurm, Kubernetes and
// docker stop send), to a real gtl train process: each stops at the next
// step with a resumable state and the shell's status for the signal.
func TestTrainInterrupt(t *testing.T) {
	if os.Getenv("GTL_TEST_MAIN") == "1" {
		os.Exit(run(append([]string{"gtl"}, strings.Fields(os.Getenv("GTL_TEST_ARGS"))...), os.Stdout, os.Stderr))
	}
	for _, tc := range []struct {
		sig  os.Signal
		code int
	}{{os.Interrupt, 130}, {syscall.SIGTERM, 143}} {
		t.Run(signalName(tc.sig), func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "run")
			cmd := exec.Command(os.Args[0], "-test.run=^TestTrainInterrupt$")
			cmd.Env = append(os.Environ(), "GTL_TEST_MAIN=1", "GTL_TEST_ARGS=train --data fashion-mnist -q --model resnet18 --classes 0-2 --shots 64 --val 30 --epochs 50 --out "+out)
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 1<<16)
			var seen string
			for !regexp.MustCompile(`(?m)^1 +\d`).MatchString(seen) {
				n, err := stdout.Read(buf)
				if err != nil {
					t.Fatalf("no first epoch: %v\n%s\n%s", err, seen, stderr.String())
				}
				seen += string(buf[:n])
			}
			cmd.Process.Signal(tc.sig)
			rest, _ := io.ReadAll(stdout)
			err = cmd.Wait()
			seen += string(rest)
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != tc.code {
				t.Fatalf("exit: %v, want %d\n%s\n%s", err, tc.code, seen, stderr.String())
			}
			if !strings.Contains(seen, "continue it with the same flags and --resume") || regexp.MustCompile(`(?m)^50 +\d`).MatchString(seen) ||
				!strings.Contains(stderr.String(), signalName(tc.sig)+": stopping after this step") {
				t.Errorf("output:\n%s\nstderr:\n%s", seen, stderr.String())
			}
			if _, err := os.Stat(filepath.Join(out, "trainer-state.json")); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestTrainImageFolder trains on a generated image folder (bright versus
// dark pictures), split 75/25, and checks the layout errors.
func TestTrainImageFolder(t *testing.T) {
	root := t.TempDir()
	for c, base := range map[string]uint8{"bright": 200, "dark": 40} {
		os.MkdirAll(filepath.Join(root, c), 0o755)
		for i := 0; i < 12; i++ {
			m := image.NewRGBA(image.Rect(0, 0, 40, 30))
			for j := range m.Pix {
				m.Pix[j] = base + uint8((i*7+j*13)%40)
			}
			f, _ := os.Create(filepath.Join(root, c, fmt.Sprintf("%02d.png", i)))
			png.Encode(f, m)
			f.Close()
		}
	}
	first := filepath.Join(t.TempDir(), "run")
	out, errOut, code := gtl("train", "-q", "--model", "resnet18", "--data", root, "--val-split", "0.25", "--epochs", "3", "--batch", "6",
		"--out", first)
	if code != 0 {
		t.Fatalf("%d %s", code, errOut)
	}
	if !strings.Contains(out, "training resnet18 on 18 images (2 classes, 64 px), validating on 6") {
		t.Errorf("output:\n%s", out)
	}
	// --shots draws images per class from a folder's training split.
	out, errOut, code = gtl("train", "-q", "--model", "resnet18", "--data", root, "--val-split", "0.25", "--shots", "3", "--epochs", "1", "--batch", "2",
		"--out", filepath.Join(t.TempDir(), "shots"))
	if code != 0 || !strings.Contains(out, "training resnet18 on 6 images (2 classes, 64 px), validating on 6") {
		t.Errorf("--shots 3 on a folder: %d\n%s\n%s", code, out, errOut)
	}
	// The feature extractor's naive path (--no-cache: the frozen backbone
	// every step) trains to the same losses as the cached features (from
	// the first run's weights: frozen stages need source weights).
	losses := map[bool][]float64{}
	for _, noCache := range []bool{false, true} {
		dir := filepath.Join(t.TempDir(), "fe")
		args := []string{"train", "-q", "--weights", filepath.Join(first, "best.safetensors"), "--data", root, "--val-split", "0.25", "--epochs", "2", "--batch", "6",
			"--freeze", "all", "--out", dir}
		if noCache {
			args = append(args, "--no-cache")
		}
		if _, errOut, code := gtl(args...); code != 0 {
			t.Fatalf("--freeze all, no-cache %v: %d %s", noCache, code, errOut)
		}
		var conf struct {
			Cached bool `json:"cached_features"`
		}
		b, _ := os.ReadFile(filepath.Join(dir, "config.json"))
		if err := json.Unmarshal(b, &conf); err != nil || conf.Cached == noCache {
			t.Errorf("no-cache %v: config.json cached_features %v (%v), want %v", noCache, conf.Cached, err, !noCache)
		}
		lines, _ := os.ReadFile(filepath.Join(dir, "metrics.jsonl"))
		for _, l := range strings.Split(strings.TrimSpace(string(lines)), "\n") {
			var m struct {
				Loss float64 `json:"train_loss"`
			}
			if err := json.Unmarshal([]byte(l), &m); err != nil {
				t.Fatalf("metrics.jsonl line %q: %v", l, err)
			}
			losses[noCache] = append(losses[noCache], m.Loss)
		}
	}
	if len(losses[false]) != 2 || len(losses[true]) != 2 {
		t.Fatalf("losses per epoch: %v", losses)
	}
	for i := range losses[false] {
		// Equal up to float rounding: the naive path runs the frozen
		// backbone folded (batch norm into convolution) under no-grad, the
		// cached one under inference mode.
		if d := math.Abs(losses[false][i] - losses[true][i]); d > 1e-4*max(1, math.Abs(losses[false][i])) {
			t.Errorf("epoch %d: train loss cached %.6f, naive %.6f", i+1, losses[false][i], losses[true][i])
		}
	}
	// A truncated image: named, and left out with --on-bad-image skip, also
	// when the loader streams the files for augmentation.
	whole, _ := os.ReadFile(filepath.Join(root, "dark", "00.png"))
	os.WriteFile(filepath.Join(root, "dark", "zz-broken.png"), whole[:len(whole)/2], 0o644)
	if _, errOut, code := gtl("train", "-q", "--model", "resnet18", "--data", root, "--val-split", "0.25", "--epochs", "1", "--batch", "6",
		"--out", filepath.Join(t.TempDir(), "fail")); code == 0 || !strings.Contains(errOut, "zz-broken.png") {
		t.Errorf("broken image: exit %d, stderr %q", code, errOut)
	}
	for _, aug := range []string{"none", "strong"} {
		out, errOut, code := gtl("train", "-q", "--model", "resnet18", "--data", root, "--val-split", "0.25", "--epochs", "2", "--batch", "6",
			"--augment", aug, "--mixup", "0.2", "--erase", "0.25", "--workers", "2", "--on-bad-image", "skip", "--out", filepath.Join(t.TempDir(), "skip"))
		if code != 0 || !strings.Contains(out+errOut, "zz-broken.png") {
			t.Errorf("--augment %s --on-bad-image skip: exit %d, stdout %q, stderr %q", aug, code, out, errOut)
		}
	}
	// A val/ class missing from train/.
	bad := t.TempDir()
	for _, p := range []string{"train/a/1.png", "val/a/1.png", "val/b/1.png"} {
		os.MkdirAll(filepath.Dir(filepath.Join(bad, p)), 0o755)
		f, _ := os.Create(filepath.Join(bad, p))
		png.Encode(f, image.NewGray(image.Rect(0, 0, 4, 4)))
		f.Close()
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--data", bad}, `class folder "b" is in val but not in train`},
		{[]string{"--data", root, "--val-split", "0"}, "a validation split in (0, 1) is needed"},
		{[]string{"--data", "/nonexistent"}, "--data /nonexistent: does not exist"},
		{[]string{"--data", root, "--on-bad-image", "skip", "--no-cache"}, "--no-cache applies to frozen stages: --freeze N or all"},
		{[]string{"--data", root, "--classes", "0-1"}, "--classes applies to fashion-mnist"},
		{[]string{"--data", root, "--on-bad-image", "skip", "--shots", "13"}, "--shots: 13 images per class asked"},
		{[]string{"--data", root, "--on-bad-image", "skip", "--freeze", "all"}, "--freeze all: without source weights (--weights or --pretrained)"},
	} {
		_, errOut, code := gtl(append([]string{"train", "--data", "fashion-mnist", "-q", "--model", "resnet18", "--epochs", "1", "--out", filepath.Join(t.TempDir(), "x")}, tt.args...)...)
		if code != 2 || !strings.Contains(errOut, tt.want) {
			t.Errorf("%v: %d %q, want %q", tt.args, code, errOut, tt.want)
		}
	}
}

// TestTrainNprocPerNode launches two local ranks (this test binary as gtl)
// and checks that they train data-parallel with rank 0 writing; then a
// rank that fails at once stops the other with its error.
func TestTrainNprocPerNode(t *testing.T) {
	if os.Getenv("GTL_TEST_MAIN") == "1" {
		os.Exit(run(append([]string{"gtl"}, strings.Fields(os.Getenv("GTL_TEST_ARGS"))...), os.Stdout, os.Stderr))
	}
	failRank := -1
	orig := workerCommand
	defer func() { workerCommand = orig }()
	workerCommand = func(rank int, args []string) (*exec.Cmd, error) {
		if rank == failRank {
			return exec.Command("sh", "-c", "echo cannot read the data >&2; exit 3"), nil
		}
		cmd := exec.Command(os.Args[0], "-test.run=^TestTrainNprocPerNode$")
		cmd.Env = append(os.Environ(), "GTL_TEST_MAIN=1", "GTL_TEST_ARGS="+strings.Join(args, " "))
		return cmd, nil
	}
	out := filepath.Join(t.TempDir(), "ddp")
	args := []string{"--threads", "1", "train", "--data", "fashion-mnist", "-q", "--model", "resnet18", "--classes", "0-2", "--shots", "16", "--val", "30",
		"--epochs", "1", "--batch", "8", "--image-size", "32", "--out", out, "--nproc-per-node", "2", "--dist-timeout", "60s"}
	stdout, errOut, code := gtl(args...)
	if code != 0 {
		t.Fatalf("2 ranks: %d\n%s\n%s", code, stdout, errOut)
	}
	for _, want := range []string{"data-parallel: 2 ranks (c10d gloo, rendezvous 127.0.0.1:", "8 images per rank and step, global batch 16",
		"of 3 steps", "final model on the validation images"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	if strings.Count(stdout, "final model on the validation images") != 1 {
		t.Errorf("more than one rank reported:\n%s", stdout)
	}
	var cfg map[string]any
	if b, err := os.ReadFile(filepath.Join(out, "config.json")); err != nil || json.Unmarshal(b, &cfg) != nil || cfg["world_size"] != 2.0 || cfg["global_batch"] != 16.0 {
		t.Errorf("config.json: %v %v", cfg, err)
	}
	if m, err := os.ReadFile(filepath.Join(out, "metrics.jsonl")); err != nil || strings.Count(string(m), "\n") != 1 {
		t.Errorf("metrics.jsonl: %q %v", m, err)
	}
	// --resume: one epoch, then continued to two, equals two in one go.
	two, resumed := filepath.Join(t.TempDir(), "two"), filepath.Join(t.TempDir(), "resumed")
	base := args[: len(args)-6 : len(args)-6]
	for _, run := range [][]string{
		append(base, "--out", two, "--epochs", "2", "--nproc-per-node", "2"),
		append(base, "--out", resumed, "--nproc-per-node", "2"),
		append(base, "--out", resumed, "--epochs", "2", "--resume", "--nproc-per-node", "2"),
	} {
		if stdout, errOut, code := gtl(run...); code != 0 {
			t.Fatalf("%v: %d\n%s\n%s", run, code, stdout, errOut)
		}
	}
	a, _ := os.ReadFile(filepath.Join(two, "last.safetensors"))
	b, _ := os.ReadFile(filepath.Join(resumed, "last.safetensors"))
	if len(a) == 0 || !bytes.Equal(a, b) {
		t.Error("2 ranks: weights after 1 epoch + resume to 2 differ from 2 epochs in one go")
	}
	failRank = 1
	start := time.Now()
	_, errOut, code = gtl(append(args[:len(args)-6:len(args)-6], "--out", filepath.Join(t.TempDir(), "x"), "--nproc-per-node", "2", "--dist-timeout", "60s")...)
	if code != 3 || !strings.Contains(errOut, "[rank 1] cannot read the data") || !strings.Contains(errOut, "rank 1 of 2 failed") {
		t.Errorf("a failing rank: %d %s", code, errOut)
	}
	if d := time.Since(start); d > 50*time.Second {
		t.Errorf("rank 0 was not stopped: the launcher took %s", d)
	}
}
