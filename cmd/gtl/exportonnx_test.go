package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// onnxInfo reads an ONNX file with Debian's python3-onnx (after its checker):
// IR version, opsets, the input's dimensions and the metadata_props.
func onnxInfo(t *testing.T, path string) (info struct {
	IR       int64             `json:"ir"`
	Opset    []int64           `json:"opset"`
	Input    []string          `json:"input"`
	Metadata map[string]string `json:"metadata"`
}) {
	t.Helper()
	script := `import json, sys, onnx
m = onnx.load(sys.argv[1])
onnx.checker.check_model(m, full_check=True)
d = [x.dim_param or str(x.dim_value) for x in m.graph.input[0].type.tensor_type.shape.dim]
print(json.dumps({"ir": m.ir_version, "opset": [o.version for o in m.opset_import], "input": d,
    "metadata": {p.key: p.value for p in m.metadata_props}}))`
	out, err := exec.Command("/usr/bin/python3", "-c", script, path).CombinedOutput()
	if err != nil {
		if _, e := exec.Command("/usr/bin/python3", "-c", "import onnx").CombinedOutput(); e != nil {
			t.Fatalf("python3-onnx missing (run scripts/onnx/setup.sh): %v", e)
		}
		t.Fatalf("onnx: %v\n%s", err, out)
	}
	if err := json.Unmarshal(out, &info); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	return info
}

// TestExportONNX: gtl export --format onnx of a 32-px checkpoint with class
// names writes a file the ONNX checker accepts, with the checkpoint's
// classes and preprocessing in metadata_props (read back by python3-onnx),
// the asked opset, and a dynamic batch (and size with --dynamic-size).
func TestExportONNX(t *testing.T) {
	dir := t.TempDir()
	ck := filepath.Join(dir, "ck.safetensors")
	if _, stderr, code := gtl("export", "-q", "--model", "squeezenet1_1", "--num-classes", "3", "--seed", "3", "--format", "safetensors", "--out", ck); code != 0 {
		t.Fatal(stderr)
	}
	meta := `{"arch":"squeezenet1_1","num_classes":3,"classes":["cat","dog","fox"],"preprocess":{"crop_size":32,"resize_size":36,` +
		`"interpolation":"bicubic","mean":[0.5,0.4,0.3],"std":[0.2,0.25,0.3]}}`
	if err := os.WriteFile(filepath.Join(dir, "ck.json"), []byte(meta), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		args  []string
		opset int64
		input []string
	}{
		{"default: the crop size the weights carry", nil, 17, []string{"batch", "3", "32", "32"}},
		{"--size", []string{"--size", "224"}, 17, []string{"batch", "3", "224", "224"}},
		{"opset 14, 32 px", []string{"--opset", "14", "--size", "32"}, 14, []string{"batch", "3", "32", "32"}},
		{"dynamic size", []string{"--dynamic-size"}, 17, []string{"batch", "3", "height", "width"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			out := filepath.Join(dir, strings.NewReplacer(" ", "_", ":", "", "-", "").Replace(c.name)+".onnx")
			stdout, stderr, code := gtl(append([]string{"export", "-q", "--weights", ck, "--format", "onnx", "--out", out}, c.args...)...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			if !strings.Contains(stdout, "metadata_props: 3 classes; resize 36, crop 32, bicubic") {
				t.Errorf("report: %s", stdout)
			}
			info := onnxInfo(t, out)
			if info.IR != 8 || len(info.Opset) != 1 || info.Opset[0] != c.opset {
				t.Errorf("IR %d, opsets %v; want IR 8, opset %d", info.IR, info.Opset, c.opset)
			}
			if strings.Join(info.Input, ",") != strings.Join(c.input, ",") {
				t.Errorf("input dims %v, want %v", info.Input, c.input)
			}
			want := map[string]string{"arch": "squeezenet1_1", "num_classes": "3", "classes": `["cat","dog","fox"]`,
				"crop_size": "32", "resize_size": "36", "interpolation": "bicubic", "mean": "[0.5,0.4,0.3]", "std": "[0.2,0.25,0.3]"}
			for k, v := range want {
				if info.Metadata[k] != v {
					t.Errorf("metadata_props[%q] = %q, want %q", k, info.Metadata[k], v)
				}
			}
			var whole struct {
				Classes []string `json:"classes"`
			}
			if err := json.Unmarshal([]byte(info.Metadata["gtl_meta"]), &whole); err != nil || strings.Join(whole.Classes, ",") != "cat,dog,fox" {
				t.Errorf("gtl_meta %q: %v", info.Metadata["gtl_meta"], err)
			}
		})
	}
}

// TestExportONNXBadInput: one line naming the flag or the architecture, a
// non-zero exit, and no file.
func TestExportONNXBadInput(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"opset too new", []string{"--model", "resnet18", "--format", "onnx", "--opset", "18", "--out", "m.onnx"}, "--opset 18: want 14 to 17"},
		{"wrong extension", []string{"--model", "resnet18", "--format", "onnx", "--out", "m.pth"}, "does not fit --format onnx (want a .onnx file)"},
		{"wrong format", []string{"--model", "resnet18", "--format", "pth", "--out", "m.onnx"}, "does not fit --format pth (want --format onnx)"},
		{"swin with a dynamic size", []string{"--model", "swin_t", "--num-classes", "2", "--format", "onnx", "--dynamic-size", "--out", "m.onnx"},
			"want a static [N, H, W, C] (no dynamic size)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			args := append([]string{"export", "-q"}, c.args...)
			for i, a := range args {
				if strings.HasSuffix(a, ".onnx") || strings.HasSuffix(a, ".pth") {
					args[i] = filepath.Join(dir, a)
				}
			}
			_, stderr, code := gtl(args...)
			line := strings.TrimSpace(stderr)
			if code == 0 || strings.Count(line, "\n") != 0 || !strings.Contains(line, c.want) {
				t.Errorf("exit %d, stderr %q; want one line with %q", code, stderr, c.want)
			}
			if _, err := os.Stat(filepath.Join(dir, "m.onnx")); err == nil {
				t.Error("m.onnx written")
			}
		})
	}
}
