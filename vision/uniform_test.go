package vision

import (
	"bufio"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/nn"

	"github.com/gtl-dev/gtl/vision/torch"
)

// TestUniformInitSameNumbers: uniformInit draws exactly what gotch's
// nn.NewUniformInit draws from the same seed (it only frees the handle
// gotch leaks).
func TestUniformInitSameNumbers(t *testing.T) {
	for _, b := range []float64{0.5, 1e-3} {
		var got, want []float32
		err := torch.Do(func() error {
			draw := func(init nn.Init) []float32 {
				if err := torch.ManualSeed(7); err != nil {
					t.Fatal(err)
				}
				x := init.InitTensor([]int64{3, 50}, gotch.CPU)
				defer x.MustDrop()
				return x.Vals().([]float32)
			}
			got, want = draw(uniformInit{-b, b}), draw(nn.NewUniformInit(-b, b))
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 150 || len(got) != len(want) {
			t.Fatalf("bound %g: %d and %d values", b, len(got), len(want))
		}
		for i := range got {
			if got[i] != want[i] || got[i] < float32(-b) || got[i] > float32(b) {
				t.Fatalf("bound %g: value %d is %g, gotch's %g", b, i, got[i], want[i])
			}
		}
	}
}

// TestNewCloseFreesWeights: building and closing a model 25 times does not
// keep its weights (squeezenet1_1: 2.9 MB; with gotch's uniform init every
// model stayed resident: +70 MB).
func TestNewCloseFreesWeights(t *testing.T) {
	build := func(n int) {
		err := torch.Do(func() error {
			for i := 0; i < n; i++ {
				m, err := New("squeezenet1_1", 5, gotch.CPU)
				if err != nil {
					return err
				}
				m.Close()
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		runtime.GC() // the Go side of dropped tensors goes through finalizers
		runtime.GC()
	}
	build(5) // warm up libtorch's allocator
	before := rssKiB(t)
	build(25)
	after := rssKiB(t)
	t.Logf("RSS %d → %d KiB over 25 models", before, after)
	if after-before > 25<<10 {
		t.Errorf("RSS grew %d KiB over 25 built and closed models, want under 25 MiB", after-before)
	}
}

func rssKiB(t *testing.T) int {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Skip("no /proc/self/status")
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			n, _ := strconv.Atoi(strings.Fields(v)[0])
			return n
		}
	}
	t.Fatal("no VmRSS")
	return 0
}
