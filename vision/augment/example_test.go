package augment_test

import (
	"fmt"
	"math/rand/v2"

	"github.com/gtl-dev/gtl/vision/augment"
	"github.com/gtl-dev/gtl/vision/transforms"
)

func ExamplePreset() {
	p, err := augment.Preset("light", 224)
	if err != nil {
		panic(err)
	}
	img := transforms.RGB{W: 500, H: 375, Pix: make([]uint8, 3*500*375)}
	r := rand.New(rand.NewPCG(42, 0)) // e.g. seeded from (run seed, epoch, image)
	out := p.Apply(img, r)
	fmt.Println(p)
	fmt.Println(out.W, out.H)
	// Output:
	// [RandomResizedCrop(size=224, scale=[0.35, 1], ratio=[0.75, 1.333], bilinear) HorizontalFlip(p=0.5)]
	// 224 224
}

func ExampleMixCutMix() {
	m := augment.MixCutMix{MixupAlpha: 0.8, CutMixAlpha: 1, Smoothing: 0.1}
	b := augment.Batch{X: make([]float32, 4*3*8*8), C: 3, H: 8, W: 8, Labels: []int{0, 1, 2, 1}, Classes: 3}
	targets, _, err := m.Apply(b, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		panic(err)
	}
	var sum float32
	for _, v := range targets[:3] {
		sum += v
	}
	fmt.Printf("%d targets, first row sums to %.3f\n", len(targets), sum)
	// Output:
	// 12 targets, first row sums to 1.000
}
