// Package augment is gtl's seeded, per-image data augmentation in plain Go.
//
// Every op draws its randomness from an injected *rand.Rand (math/rand/v2),
// one decision per image, so a run is reproducible from its seed; gotch's
// vision/aug is not used (it decides once per batch and seeds from the
// clock). Images are transforms.RGB; resampling reuses the PIL-exact
// filters of package transforms.
//
//	p, err := augment.Preset("light", 224)
//	r := rand.New(rand.NewPCG(seed, uint64(epoch)))
//	out := p.Apply(img, r)
//	chw := out.CHW(transforms.ImageNetMean, transforms.ImageNetStd)
//
// Sources: RandomResizedCrop, HorizontalFlip follow torchvision.transforms
// (v0.14) on PIL images.
//
// It imports no libtorch; the data loader calls it before building tensors.
package augment
