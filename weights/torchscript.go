package weights

import (
	"archive/zip"
	"fmt"
	"io"
	"path"
	"regexp"
	"strings"

	"github.com/sugarme/gotch/pickle"
	"github.com/sugarme/gotch/ts"
)

// readTorchScript reads the parameters and buffers of a TorchScript archive
// (torch.jit.save; also tch's and gotch's .ot files, which are TorchScript
// modules whose attributes are tensors named with "|" for "."), named as the
// module's state_dict() names them: submodule attributes joined by ".". It
// returns the class of the top module ("__torch__.torchvision.models.resnet.ResNet").
// The caller owns the returned tensors.
func readTorchScript(name string) (out map[string]*ts.Tensor, class string, err error) {
	defer func() {
		if r := recover(); r != nil {
			DropAll(out)
			out, err = nil, fmt.Errorf("weights: read %s: corrupt TorchScript archive: %v", name, r)
		}
	}()
	zr, err := zip.OpenReader(name)
	if err != nil {
		return nil, "", fmt.Errorf("weights: read %s: truncated or corrupt zip archive: %v", name, err)
	}
	defer zr.Close()
	files := map[string]*zip.File{}
	var dataPkl string
	for _, f := range zr.File {
		files[f.Name] = f
		if dir, base := path.Split(f.Name); base == "data.pkl" && strings.Count(dir, "/") <= 1 {
			dataPkl = f.Name
		}
	}
	if dataPkl == "" {
		return nil, "", fmt.Errorf("weights: read %s: a TorchScript archive without data.pkl", name)
	}
	prefix := strings.TrimSuffix(dataPkl, "data.pkl")
	df, err := files[dataPkl].Open()
	if err != nil {
		return nil, "", fmt.Errorf("weights: read %s: %v", name, err)
	}
	defer df.Close()
	set := newStorageSet()
	defer set.drop() // the tensors keep the memory they use
	set.read = func(st *pthStorage, b []byte) error {
		f, ok := files[prefix+"data/"+st.key]
		if !ok {
			return fmt.Errorf("storage %q missing from the archive", st.key)
		}
		r, err := f.Open()
		if err != nil {
			return err
		}
		defer r.Close()
		_, err = io.ReadFull(r, b)
		return err
	}
	u := pickle.NewUnpickler(&protoReader{r: df})
	u.FindClass = func(module, cls string) (any, error) {
		if g := torchGlobal(module, cls); g != nil {
			return g, nil
		}
		return &pyClass{module: module, name: cls}, nil
	}
	u.PersistentLoad = set.persistentLoad
	obj, err := u.Load()
	if err != nil {
		return nil, "", fmt.Errorf("weights: read %s: TorchScript archive: %v", name, err)
	}
	top, ok := obj.(*pyObject)
	if !ok {
		return nil, "", fmt.Errorf("weights: read %s: TorchScript archive holds %s, not a module", name, pyTypeName(obj))
	}
	class = scriptMangle.ReplaceAllString(top.class, "")
	var entries []entry
	if err := walkScriptModule(top, "", &entries, 0); err != nil {
		return nil, class, fmt.Errorf("weights: read %s: %v", name, err)
	}
	if len(entries) == 0 {
		return nil, class, fmt.Errorf("weights: read %s: TorchScript module %s has no tensors", name, class)
	}
	out = make(map[string]*ts.Tensor, len(entries))
	for _, e := range entries {
		t, err := set.tensor(e.value)
		if err != nil {
			DropAll(out)
			return nil, class, fmt.Errorf("weights: read %s: tensor %q: %v", name, e.key, oneLine(err))
		}
		out[strings.ReplaceAll(e.key, "|", ".")] = t
	}
	return out, class, nil
}

// scriptMangle matches what TorchScript adds to the names of classes it
// compiled more than once ("container.___torch_mangle_82.Sequential").
var scriptMangle = regexp.MustCompile(`___torch_mangle_\d+\.`)

// walkScriptModule collects the tensor attributes of a TorchScript module
// and its submodules, depth first, named by their attribute path.
func walkScriptModule(m *pyObject, prefix string, out *[]entry, depth int) error {
	if depth > 200 {
		return fmt.Errorf("TorchScript modules nested more than 200 deep")
	}
	entries, isDict, err := dictEntries(m.state)
	if err != nil || !isDict {
		return err // a module without attributes has no state
	}
	for _, e := range entries {
		switch v := e.value.(type) {
		case *pickle.StorageTensor:
			*out = append(*out, entry{prefix + e.key, v})
		case *pyObject:
			if strings.HasPrefix(v.class, "__torch__.") {
				if err := walkScriptModule(v, prefix+e.key+".", out, depth+1); err != nil {
					return err
				}
			}
		}
	}
	return nil
}
