package vision_test

import (
	"math/rand"
	"testing"

	"github.com/gtl-dev/gtl/torch"
)

// TestStepsFreeActivations runs forward steps (evaluation under inference
// mode, and training forward + backward) and checks with the allocator
// cache's counters (csrc/gtl_infer.cpp) that once warm no step maps a new
// large block: every activation of a step is freed and its block serves
// the next step. It failed while residual blocks added the shortcut with
// gotch's generated Add_, which leaks the old handle and so the whole
// activation (resnet50 at 224 px, batch 16: +345 MB a step).
func TestStepsFreeActivations(t *testing.T) {
	if !torch.AllocCache().Installed {
		t.Skip("GTL_MALLOC=system: no allocator cache to count with")
	}
	for _, tc := range []struct {
		arch  string
		train bool
	}{
		{"resnet18", false},
		{"resnet50", false},
		{"mobilenet_v2", false},
		{"resnet18", true},
		{"resnet50", true},
	} {
		name := tc.arch + " eval"
		if tc.train {
			name = tc.arch + " train"
		}
		t.Run(name, func(t *testing.T) {
			if testing.Short() && tc.arch == "resnet50" && tc.train {
				t.Skip("short: resnet50 backward")
			}
			err := torch.Do(func() error {
				m, x, err := randomModel(tc.arch, 3, rand.New(rand.NewSource(3)), 112)
				if err != nil {
					return err
				}
				defer m.Close()
				defer x.MustDrop()
				step := func() error {
					if !tc.train {
						return torch.Inference(func() error {
							y, err := m.Forward(x, false)
							if err != nil {
								return err
							}
							return y.Drop()
						})
					}
					y, err := m.Forward(x, true)
					if err != nil {
						return err
					}
					s, err := y.Sum(y.DType(), true)
					if err != nil {
						return err
					}
					defer s.MustDrop()
					return s.Backward()
				}
				var misses [4]int64
				for i := range misses {
					if err := step(); err != nil {
						return err
					}
					misses[i] = torch.AllocCache().Misses
				}
				// Steps 3 and 4 must map nothing new (training's gradients
				// are made in step 1 and accumulate in place after).
				if d := misses[3] - misses[1]; d != 0 {
					t.Errorf("steps 3-4 mapped %d new large blocks, want 0 (misses after each step %v)", d, misses)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}

}
