package vision_test

import (
	"runtime"
	"testing"

	"github.com/sugarme/gotch"

	"github.com/gtl-dev/gtl/internal/torchtest"
	"github.com/gtl-dev/gtl/torch"
	"github.com/gtl-dev/gtl/vision"
)

// TestNewCloseFreesWeights: building and closing a model 25 times does not
// keep its weights (squeezenet1_1: 2.9 MB; with gotch's uniform init every
// model stayed resident: +70 MB).
func TestNewCloseFreesWeights(t *testing.T) {
	build := func(n int) {
		err := torch.Do(func() error {
			for i := 0; i < n; i++ {
				m, err := vision.New("squeezenet1_1", 5, gotch.CPU)
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
	before := torchtest.RSSKiB(t)
	build(25)
	after := torchtest.RSSKiB(t)
	t.Logf("RSS %d → %d KiB over 25 models", before, after)
	if after-before > 25<<10 {
		t.Errorf("RSS grew %d KiB over 25 built and closed models, want under 25 MiB", after-before)
	}
}
