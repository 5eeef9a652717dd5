package models

import (
	"strings"
	"testing"

	"github.com/sugarme/gotch"

	"github.com/gtl-dev/gtl/torch"
	"github.com/gtl-dev/gtl/vision"
)

func TestPretrainedTableCoversRegistry(t *testing.T) {
	for _, arch := range vision.Architectures() {
		ws, err := vision.PretrainedWeights(arch)
		if err != nil {
			t.Errorf("%s: %v", arch, err)
			continue
		}
		defaults := 0
		for _, p := range ws {
			if p.Default {
				defaults++
			}
			if !strings.HasSuffix(p.FileName(), "-"+p.SHA256Prefix+".pth") || p.CropSize == 0 || p.Name == "" {
				t.Errorf("%s: bad entry %+v", arch, p)
			}
		}
		if defaults != 1 {
			t.Errorf("%s: %d DEFAULT weights", arch, defaults)
		}
	}
}

// TestPublishedParamCounts: with 1000 classes every architecture has exactly
// the parameter count torchvision publishes for its ImageNet weights.
func TestPublishedParamCounts(t *testing.T) {
	for _, arch := range vision.Architectures() {
		if testing.Short() && !lightArchs[arch] {
			continue
		}
		t.Run(arch, func(t *testing.T) {
			p, err := vision.PretrainedFor(arch)
			if err != nil {
				t.Fatal(err)
			}
			err = torch.Do(func() error {
				m, err := vision.New(arch, 1000, gotch.CPU)
				if err != nil {
					return err
				}
				defer m.VS.Destroy()
				if n := m.NumParams(); n != p.Params {
					t.Errorf("%d parameters, torchvision publishes %d", n, p.Params)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}
