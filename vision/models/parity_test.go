package models

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/gtl-dev/gtl/internal/torchtest"
	"github.com/gtl-dev/gtl/torch"
	"github.com/gtl-dev/gtl/vision"
	"github.com/gtl-dev/gtl/weights"
)

// lightArchs run in `go test -short` (make test); the rest in make test-all.
var lightArchs = map[string]bool{"resnet18": true, "mobilenet_v2": true, "squeezenet1_1": true, "shufflenet_v2_x0_5": true}

func parityArchs(t *testing.T) []string {
	// As make_fixtures.py: one intra-op thread, the same summation order.
	orig := torch.NumThreads()
	if err := torch.SetNumThreads(1); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { torch.SetNumThreads(max(orig, 1)) })
	var archs []string
	for _, a := range vision.Architectures() {
		if lightArchs[a] || !testing.Short() {
			archs = append(archs, a)
		}
	}
	return archs
}

// TestTorchvisionParity loads torchvision's state dict of each architecture
// into gtl's model (strictly: same names, same shapes, nothing extra) and
// compares the logits in eval mode and in training mode (batch statistics,
// dropout off) with torchvision's.
func TestTorchvisionParity(t *testing.T) {
	for _, arch := range parityArchs(t) {
		t.Run(arch, func(t *testing.T) {
			dir := torchtest.Fixture(t, arch)
			err := torch.Do(func() error {
				m, err := vision.New(arch, 10, gotch.CPU)
				if err != nil {
					return err
				}
				defer m.Close()
				named, err := weights.ReadPth(filepath.Join(dir, arch+".pth"))
				if err != nil {
					return err
				}
				defer weights.DropAll(named)
				rep, err := m.LoadTensors(named, vision.LoadOptions{})
				if err != nil {
					return err
				}
				if len(rep.Loaded) != len(named) {
					return fmt.Errorf("loaded %d of %d tensors", len(rep.Loaded), len(named))
				}
				m.NoDropout = true
				for _, mode := range []string{"eval", "train"} {
					maxD, tol, err := torchtest.CompareLogits(m, filepath.Join(dir, arch+".input.npy"), filepath.Join(dir, arch+"."+mode+".npy"), mode == "train")
					if err != nil {
						return fmt.Errorf("%s mode: %w", mode, err)
					}
					if maxD > tol {
						t.Errorf("%s mode: max |Δ| %.3g > %.3g", mode, maxD, tol)
					} else {
						t.Logf("%s mode: max |Δ| %.3g (tolerance %.3g)", mode, maxD, tol)
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestScratchInit checks that a fresh model matches torchvision's
// initialisation: the same parameter count, each weight tensor's standard
// deviation within 10% of torchvision's, an initial cross-entropy on random
// inputs within 10% of ln(classes), and stages that cover every parameter once.
func TestScratchInit(t *testing.T) {
	for _, arch := range parityArchs(t) {
		t.Run(arch, func(t *testing.T) {
			dir := torchtest.Fixture(t, arch)
			raw, err := os.ReadFile(filepath.Join(dir, arch+".init.json"))
			if err != nil {
				t.Fatal(err)
			}
			var ref struct {
				Params     int64              `json:"params"`
				Std        map[string]float64 `json:"std"`
				InitLosses []float64          `json:"init_losses"`
			}
			if err := json.Unmarshal(raw, &ref); err != nil {
				t.Fatal(err)
			}
			err = torch.Do(func() error {
				if err := torch.ManualSeed(1); err != nil {
					return err
				}
				m, err := vision.New(arch, 10, gotch.CPU)
				if err != nil {
					return err
				}
				defer m.Close()
				if n := m.NumParams(); n != ref.Params {
					t.Errorf("%d parameters, torchvision has %d", n, ref.Params)
				}
				vars := m.VS.Variables()
				for name, want := range ref.Std {
					v, ok := vars[name]
					if !ok {
						t.Errorf("no tensor %q", name)
						continue
					}
					// Both sides are sample estimates (each off by about 1/√(2n)):
					// below ~1000 values sampling noise alone can exceed 10%.
					if v.Numel() < 1024 || want == 0 {
						continue
					}
					std, err := v.Std(true, false)
					if err != nil {
						return err
					}
					got := std.Float64Values(true)[0]
					if math.Abs(got-want) > 0.1*want {
						t.Errorf("%s: std %.4g, torchvision %.4g", name, got, want)
					}
				}
				counts, uncovered := m.StageParams()
				if len(uncovered) > 0 {
					t.Errorf("tensors in no stage: %v", uncovered)
				}
				for i, s := range m.Stages {
					if counts[i] == 0 {
						t.Errorf("stage %s is empty", s.Name)
					}
					for j := i + 1; j < len(m.Stages); j++ {
						for _, p := range s.Prefixes {
							for name := range vars {
								if strings.HasPrefix(name, p) && m.Stages[j].Covers(name) {
									t.Errorf("%s in stages %s and %s", name, s.Name, m.Stages[j].Name)
								}
							}
						}
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			// The initial training loss, as the fixture measures it for torchvision:
			// three fresh models' cross-entropy on random images. The means must
			// agree within 15%, or within twice the seed-to-seed spread where
			// that is larger (EfficientNet's initial loss varies a lot by seed).
			losses, err := initLosses(arch)
			if err != nil {
				t.Fatal(err)
			}
			ours, theirs := meanStd(losses), meanStd(ref.InitLosses)
			tol := math.Max(0.15*theirs.mean, 2*math.Hypot(ours.std, theirs.std))
			if strings.HasPrefix(arch, "mnasnet") {
				// MNASNet's head is U(±√(3/classes)): initial logits are large and
				// their loss swings by seed (torchvision, mnasnet0_75, seeds 1-8 on
				// one batch: 5.9 to 10.4), more than three seeds' spread shows.
				tol = math.Max(tol, 0.4*theirs.mean)
			}
			if len(ref.InitLosses) == 0 || math.Abs(ours.mean-theirs.mean) > tol {
				t.Errorf("initial loss %.3f ± %.3f, torchvision %.3f ± %.3f (tolerance %.3f; ln 10 = %.3f)", ours.mean, ours.std, theirs.mean, theirs.std, tol, math.Log(10))
			} else {
				t.Logf("initial loss %.3f ± %.3f, torchvision %.3f ± %.3f (ln 10 = %.3f)", ours.mean, ours.std, theirs.mean, theirs.std, math.Log(10))
			}
		})
	}
}

func fixtureSize(arch string) int64 {
	switch {
	case arch == "inception_v3":
		return 299
	case strings.HasPrefix(arch, "vit_"):
		return 224
	}
	return 64
}

// heavyArchs are make_fixtures.py's HEAVY: the largest models, checked on
// fewer images so that fixture and test fit in minutes and a few GB.
var heavyArchs = map[string]bool{"vit_l_16": true, "vit_l_32": true, "regnet_y_128gf": true, "regnet_y_32gf": true,
	"regnet_x_32gf": true, "convnext_large": true, "swin_b": true, "efficientnet_v2_l": true}

// initBatch is make_fixtures.py's init_batch: fewer images for the slow ViT
// and the heavy models.
func initBatch(arch string) int64 {
	switch {
	case heavyArchs[arch]:
		return 2
	case strings.HasPrefix(arch, "vit_"):
		return 4
	}
	return 16
}

type stats struct{ mean, std float64 }

func meanStd(v []float64) stats {
	var s stats
	for _, x := range v {
		s.mean += x / float64(len(v))
	}
	for _, x := range v {
		s.std += (x - s.mean) * (x - s.mean) / float64(max(len(v)-1, 1))
	}
	s.std = math.Sqrt(s.std)
	return s
}

func initLosses(arch string) ([]float64, error) {
	var losses []float64
	err := torch.Do(func() error {
		s, n := fixtureSize(arch), initBatch(arch)
		x, err := ts.Randn([]int64{n, 3, s, s}, gotch.Float, gotch.CPU)
		if err != nil {
			return err
		}
		defer x.MustDrop()
		y, err := ts.Randint(10, []int64{n}, gotch.Int64, gotch.CPU)
		if err != nil {
			return err
		}
		defer y.MustDrop()
		for seed := int64(1); seed <= 3; seed++ {
			if err := torch.ManualSeed(seed); err != nil {
				return err
			}
			m, err := vision.New(arch, 10, gotch.CPU)
			if err != nil {
				return err
			}
			m.NoDropout = true
			err = torch.WithoutGrad(func() error {
				logits, err := m.Forward(x, true)
				if err != nil {
					return err
				}
				loss, err := logits.CrossEntropyLoss(y, ts.NewTensor(), 1, -100, 0, true)
				if err != nil {
					return err
				}
				losses = append(losses, loss.Float64Values(true)[0])
				return nil
			})
			m.Close()
			if err != nil {
				return err
			}
		}
		return nil
	})
	return losses, err
}
