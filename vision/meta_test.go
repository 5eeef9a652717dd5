package vision

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sugarme/gotch/ts"

	"github.com/gtl-dev/gtl/torch"
	"github.com/gtl-dev/gtl/weights"
)

// TestReadMetaSources: the description beside a weights file wins; a
// .safetensors without one has it in its __metadata__; bad descriptions
// there are errors naming the file and the entry.
func TestReadMetaSources(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, md map[string]string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		err := torch.Do(func() error {
			x, err := torch.FromSlice([]float32{1, 2}, []int64{2})
			if err != nil {
				return err
			}
			defer x.MustDrop()
			return weights.WriteSafetensors(p, map[string]*ts.Tensor{"w": x}, md)
		})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := `{"arch":"resnet18","num_classes":2,"classes":["a","b"],"preprocess":{"crop_size":32,"resize_size":32,"interpolation":"bilinear","mean":[0.5,0.5,0.5],"std":[0.2,0.2,0.2]}}`
	beside := write("beside.safetensors", map[string]string{MetaKey: strings.Replace(good, `"a"`, `"inside"`, 1)})
	if err := os.WriteFile(filepath.Join(dir, "beside.json"), []byte(good), 0o644); err != nil {
		t.Fatal(err)
	}
	pth := filepath.Join(dir, "plain.pth")
	if err := os.WriteFile(pth, []byte("not read"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		path    string
		classes []string // nil: no description
		err     string
	}{
		{"inside", write("inside.safetensors", map[string]string{MetaKey: good, "format": "pt"}), []string{"a", "b"}, ""},
		{"beside wins", beside, []string{"a", "b"}, ""},
		{"none", write("none.safetensors", map[string]string{"format": "pt"}), nil, ""},
		{"no metadata", write("nomd.safetensors", nil), nil, ""},
		{"pth without json", pth, nil, ""},
		{"bad inside", write("bad.safetensors", map[string]string{MetaKey: strings.Replace(good, `"crop_size":32`, `"crop_size":-1`, 1)}), nil,
			"bad.safetensors (__metadata__ gtl_meta): preprocess crop_size -1"},
		{"not json inside", write("text.safetensors", map[string]string{MetaKey: "{"}), nil,
			"text.safetensors (__metadata__ gtl_meta): not a gtl checkpoint description"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := ReadMeta(tc.path)
			switch {
			case tc.err != "":
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Errorf("got %v, want an error with %q", err, tc.err)
				}
			case err != nil:
				t.Fatal(err)
			case tc.classes == nil && m != nil:
				t.Errorf("got %+v, want none", m)
			case tc.classes != nil && (m == nil || strings.Join(m.Classes, ",") != strings.Join(tc.classes, ",") || m.Preprocess.CropSize != 32):
				t.Errorf("got %+v, want classes %v at 32 px", m, tc.classes)
			}
		})
	}
}
