package weights_test

import (
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"runtime"
	"slices"
	"testing"

	"github.com/gtl-dev/gtl/internal/torchtest"
	"github.com/gtl-dev/gtl/vision"
	_ "github.com/gtl-dev/gtl/vision/models"
	"github.com/gtl-dev/gtl/weights"
	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"
)

// TestPthTorchvision: a resnet18 made in Go, written with WritePth, loads
// strictly into torchvision's resnet18 (same tensor sums), and reads back
// strictly into a Go resnet18 through ReadWeights.
func TestPthTorchvision(t *testing.T) {
	path := filepath.Join(t.TempDir(), "resnet18.pth")
	type stat struct {
		dtype   string
		shape   []int64
		sum, sq float64
	}
	want := map[string]stat{}
	torchtest.Do(t, func() error {
		m, err := vision.New("resnet18", 10, gotch.CPU)
		if err != nil {
			return err
		}
		named := map[string]*ts.Tensor{}
		for k, v := range m.VS.Variables() {
			named[k] = &v
		}
		for k, v := range named {
			vals, err := weights.Float64s(v)
			if err != nil {
				return err
			}
			var s stat
			st, err := weights.SafetensorsDType(v.DType())
			if err != nil {
				return err
			}
			s.dtype, s.shape = st, v.MustSize()
			for _, x := range vals {
				s.sum += x
				s.sq += x * x
			}
			want[k] = s
		}
		err = weights.WritePth(path, named)
		runtime.KeepAlive(m) // named holds copies of m's tensors, freed with m
		if err != nil {
			return err
		}
		back, err := weights.ReadWeights(path)
		if err != nil {
			return err
		}
		defer weights.DropAll(back)
		m2, err := vision.New("resnet18", 10, gotch.CPU)
		if err != nil {
			return err
		}
		rep, err := m2.LoadTensors(back, vision.LoadOptions{})
		if err != nil {
			return err
		}
		if len(rep.Loaded) != len(named) {
			return fmt.Errorf("Go reload: %d of %d tensors loaded", len(rep.Loaded), len(named))
		}
		return nil
	})
	var py map[string][4]json.RawMessage
	if err := json.Unmarshal(weights.WeightsPy(t, "torchvision", path, "resnet18", "10"), &py); err != nil {
		t.Fatal(err)
	}
	if len(py) != len(want) {
		t.Errorf("torchvision has %d tensors, Go %d", len(py), len(want))
	}
	for name, w := range want {
		p, ok := py[name]
		if !ok {
			t.Errorf("%s: not in torchvision's state dict", name)
			continue
		}
		var g stat
		for i, dst := range []any{&g.dtype, &g.shape, &g.sum, &g.sq} {
			if err := json.Unmarshal(p[i], dst); err != nil {
				t.Fatal(err)
			}
		}
		near := func(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }
		if g.dtype != w.dtype || !slices.Equal(g.shape, w.shape) || !near(g.sum, w.sum) || !near(g.sq, w.sq) {
			t.Errorf("%s: torchvision %v, Go %v", name, g, w)
		}
	}
}
