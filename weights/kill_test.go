package weights

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/gtl-dev/gtl/internal/torchtest"
	"github.com/gtl-dev/gtl/torch"
)

// TestWeightsSurviveSIGKILL kills a process that keeps rewriting a 64 MB
// weights file (safetensors, then .pth), at several moments, and checks
// after each kill that the file reads back whole: a kill in the middle of
// a write leaves the previous file, never a torn one.
func TestWeightsSurviveSIGKILL(t *testing.T) {
	if p := os.Getenv("GTL_TEST_REWRITE"); p != "" {
		err := torch.Do(func() error {
			w, err := ts.Ones([]int64{4096, 4096}, gotch.Float, gotch.CPU)
			if err != nil {
				return err
			}
			m := map[string]*ts.Tensor{"w": w}
			for i := 0; ; i++ {
				if strings.HasSuffix(p, ".pth") {
					err = WritePth(p, m)
				} else {
					err = WriteSafetensors(p, m, map[string]string{"i": "x"})
				}
				if err != nil {
					return err
				}
			}
		})
		t.Fatal(err)
	}
	if testing.Short() {
		t.Skip("kills a writer several times (seconds)")
	}
	for _, name := range []string{"w.safetensors", "w.pth"} {
		p := filepath.Join(t.TempDir(), name)
		for _, delay := range []time.Duration{30 * time.Millisecond, 170 * time.Millisecond, 410 * time.Millisecond} {
			cmd := exec.Command(os.Args[0], "-test.run=^TestWeightsSurviveSIGKILL$")
			cmd.Env = append(os.Environ(), "GTL_TEST_REWRITE="+p)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			for start := time.Now(); ; time.Sleep(10 * time.Millisecond) {
				if _, err := os.Stat(p); err == nil {
					break
				}
				if time.Since(start) > time.Minute {
					t.Fatal("the writer wrote nothing in a minute")
				}
			}
			time.Sleep(delay)
			cmd.Process.Kill()
			cmd.Wait()
			torchtest.Do(t, func() error {
				m, err := ReadWeights(p)
				defer DropAll(m)
				if err != nil || len(m) != 1 || m["w"].MustSize()[0] != 4096 {
					t.Errorf("%s after a SIGKILL %v into the rewrites: %v", name, delay, err)
				}
				return nil
			})
		}
	}
}
