package vision

import (
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/gtl-dev/gtl/weights"
	"github.com/sugarme/gotch/ts"
)

// StateDict returns the model's tensors under their torchvision names. The
// tensors share the model's storage: keep the model alive (and do not
// Close it) while using them, and do not drop them.
func (m *Model) StateDict() map[string]*ts.Tensor {
	vars := m.VS.Variables()
	out := make(map[string]*ts.Tensor, len(vars))
	for name, v := range vars {
		v := v
		out[name] = &v
	}
	return out
}

// Formats lists the weight formats Save writes, by file extension.
var Formats = []string{"safetensors", "pth", "ot"}

// FormatOf returns the format a file name asks for ("safetensors", "pth"
// for .pth/.pt, "ot"), or an error.
func FormatOf(path string) (string, error) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".safetensors":
		return "safetensors", nil
	case ".pth", ".pt":
		return "pth", nil
	case ".ot":
		return "ot", nil
	}
	return "", fmt.Errorf("vision: %s: unknown weights format (want .safetensors, .pth, .pt or .ot)", path)
}

// SaveWeights writes the model's state dict to path in the format its
// extension names, atomically. A .pth loads with torch.load into
// torchvision's model class; a .safetensors with the safetensors package.
// It must run on a torch worker thread.
func (m *Model) SaveWeights(path string, metadata map[string]string) error {
	format, err := FormatOf(path)
	if err != nil {
		return err
	}
	sd := m.StateDict()
	defer runtime.KeepAlive(m) // the tensors are views of the model's variables
	switch format {
	case "safetensors":
		return weights.WriteSafetensors(path, sd, metadata)
	case "pth":
		return weights.WritePth(path, sd)
	default:
		return weights.WriteOt(path, sd)
	}
}

// SaveCheckpoint writes a gtl checkpoint: the weights as safetensors at path
// and meta as JSON beside it (MetaPath), both atomically. PyTorch users load
// the weights with safetensors.torch.load_file and torchvision's model class.
func (m *Model) SaveCheckpoint(path string, meta CheckpointMeta) error {
	if !strings.HasSuffix(path, ".safetensors") {
		return fmt.Errorf("vision: checkpoint %s: want a .safetensors file name", path)
	}
	meta.Arch, meta.NumClasses, meta.TransformInput = m.Arch, m.NumClasses, m.TransformInput
	if meta.Stages == nil {
		meta.Stages = m.Stages
	}
	b, err := json.MarshalIndent(meta, "", "  ")
	if err != nil {
		return fmt.Errorf("vision: checkpoint %s: %w", path, err)
	}
	// The description also travels inside the file (__metadata__), so that
	// the .safetensors alone keeps its classes and preprocessing.
	if err := m.SaveWeights(path, map[string]string{"format": "pt", "gtl_arch": m.Arch, "gtl_num_classes": fmt.Sprint(m.NumClasses),
		MetaKey: string(b)}); err != nil {
		return err
	}
	if err := weights.WriteAtomic(MetaPath(path), func(w io.Writer) error { _, err := w.Write(append(b, '\n')); return err }); err != nil {
		return fmt.Errorf("vision: checkpoint %s: %w", MetaPath(path), err)
	}
	return nil
}

// MetaKey is the safetensors __metadata__ entry that holds a gtl
// checkpoint's description (the JSON of CheckpointMeta).
const MetaKey = "gtl_meta"

// Export writes the model's weights to path in the format its extension
// names (see SaveWeights) with meta beside them: a .safetensors is a gtl
// checkpoint (SaveCheckpoint: the description in the file's __metadata__
// and in the JSON beside it); a .pth, .pt or .ot gets the JSON beside it
// (MetaPath), which ReadMeta and Open read back, so the file keeps its
// classes and preprocessing. It must run on a torch worker thread.
func (m *Model) Export(path string, meta CheckpointMeta) error {
	format, err := FormatOf(path)
	if err != nil {
		return err
	}
	if format == "safetensors" {
		return m.SaveCheckpoint(path, meta)
	}
	meta.Arch, meta.NumClasses, meta.TransformInput = m.Arch, m.NumClasses, m.TransformInput
	if meta.Stages == nil {
		meta.Stages = m.Stages
	}
	b, err := json.MarshalIndent(meta, "", "  ")
	if err != nil {
		return fmt.Errorf("vision: export %s: %w", path, err)
	}
	if err := m.SaveWeights(path, nil); err != nil {
		return err
	}
	if err := weights.WriteAtomic(MetaPath(path), func(w io.Writer) error { _, err := w.Write(append(b, '\n')); return err }); err != nil {
		return fmt.Errorf("vision: export %s: %w", MetaPath(path), err)
	}
	return nil
}
