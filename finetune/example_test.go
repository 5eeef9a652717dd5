package finetune_test

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"

	"github.com/gtl-dev/gtl/finetune"
)

// Fine-tune a resnet18 with its stem frozen, as `gtl train` does, on a
// small image folder (two classes of generated pictures). The source
// weights come from a first run from scratch on the same folder.
func ExampleRun() {
	dir, err := os.MkdirTemp("", "gtl-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	images := filepath.Join(dir, "images")
	writeFolder(images, map[string]uint8{"bright": 200, "dark": 40}, 8)

	ctx := context.Background()
	_, err = finetune.Run(ctx, finetune.RunSpec{
		Data:  finetune.DataSpec{Source: images, ImageSize: 32},
		Model: finetune.ModelSpec{Arch: "resnet18"},
		Train: finetune.TrainSpec{Epochs: 1, Batch: 4},
		Seed:  1,
		Out:   filepath.Join(dir, "source"), // config.json, metrics, best/last checkpoints, plots
	}, finetune.RunEnv{})
	if err != nil {
		panic(err)
	}
	res, err := finetune.Run(ctx, finetune.RunSpec{
		Data:  finetune.DataSpec{Source: images}, // the checkpoint's 32 px
		Model: finetune.ModelSpec{Weights: filepath.Join(dir, "source", "best.safetensors")},
		Train: finetune.TrainSpec{Freeze: "1", Epochs: 1, Batch: 4}, // the stem stays fixed
		Seed:  1,
	}, finetune.RunEnv{})
	if err != nil {
		panic(err)
	}
	c := res.Config // what config.json records: the resolved spec and what the run found
	fmt.Printf("%s: %d classes, %d training images at %d px, frozen %s, augment %s\n", c.Spec.Model.Arch, len(c.Classes), c.TrainImages, c.Spec.Data.ImageSize, c.Spec.Train.Freeze, c.Spec.Train.Augment)
	fmt.Println("accuracy in [0, 1]:", res.Report.Top1 >= 0 && res.Report.Top1 <= 1)
	// Output:
	// resnet18: 2 classes, 12 training images at 32 px, frozen 1, augment none
	// accuracy in [0, 1]: true
}

// writeFolder writes n PNG pictures per class under root/<class>/, each
// of the class's brightness with a pattern.
func writeFolder(root string, classes map[string]uint8, n int) {
	for c, base := range classes {
		if err := os.MkdirAll(filepath.Join(root, c), 0o755); err != nil {
			panic(err)
		}
		for i := 0; i < n; i++ {
			m := image.NewRGBA(image.Rect(0, 0, 40, 30))
			for y := 0; y < 30; y++ {
				for x := 0; x < 40; x++ {
					v := base + uint8((i*7+x*13+y*5)%40)
					m.Set(x, y, color.RGBA{v, v, v, 255})
				}
			}
			f, err := os.Create(filepath.Join(root, c, fmt.Sprintf("%02d.png", i)))
			if err != nil {
				panic(err)
			}
			if err := png.Encode(f, m); err != nil {
				panic(err)
			}
			f.Close()
		}
	}
}
