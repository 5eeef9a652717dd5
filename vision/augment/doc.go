// Package augment is gtl's seeded, per-image data augmentation in plain Go.
//
// Every op draws its randomness from an injected *rand.Rand (math/rand/v2),
// one decision per image, so a run is reproducible from its seed. gotch's
// vision/aug is not used: it compares a normal draw with p, decides once
// per batch, ignores Compose's order and seeds from the clock.
//
//	p, err := augment.Preset("light", 224) // or "none", "strong"
//	r := rand.New(rand.NewPCG(seed, uint64(epoch)))
//	out := p.Apply(img, r) // img is never written to
//	chw := out.CHW(transforms.ImageNetMean, transforms.ImageNetStd)
//
// Per-image ops work on transforms.RGB and reuse package transforms'
// PIL-exact resampling: RandomResizedCrop, HorizontalFlip, Rotation,
// ColorJitter, TrivialAugmentWide, RandAugment and Eval. Batch ops work on
// normalised float32 CHW data and are for the data loader: RandomErasing
// (EraseCHW, per image) and Mixup, CutMix and MixCutMix (per batch, with
// soft targets).
//
// Sources, whose behaviour is followed and, where stated, matched:
//   - torchvision 0.14 transforms on PIL images (Pillow 9): the window
//     draws of RandomResizedCrop.get_params and RandomErasing.get_params,
//     RandomRotation, ColorJitter's random order, and the op lists and
//     magnitude tables of RandAugment (Cubuk et al. 2020) and
//     TrivialAugmentWide (Müller & Hutter 2021). With the same parameters
//     the pixel operations (flip, crop+resize, rotate, shear, translate,
//     brightness, saturation, contrast, sharpness, hue, posterize, solarize,
//     autocontrast, equalize) are byte-identical to torchvision's; the
//     parity tests check this when /usr/bin/python3 has torchvision. The
//     random draws come from r, not torch's generator, so a seeded run does
//     not reproduce a PyTorch run image for image.
//   - timm's Mixup (timm/data/mixup.py, "batch" mode): each image mixed with
//     its mirror in the batch, lam ~ Beta(alpha, alpha), CutMix's box from
//     rand_bbox with lam corrected to the uncovered area, targets from
//     mixup_target with label smoothing; the Beta sampler is Marsaglia &
//     Tsang's Gamma method.
//   - the "light" preset crops less than ImageNet training from scratch
//     (scale [0.35, 1] instead of [0.08, 1]), as fastai's fine-tuning
//     recipes do (fastbook: RandomResizedCrop min_scale 0.3,
//     aug_transforms min_scale 0.75).
//
// It imports no libtorch and never prints; vision builds tensors from its
// results.
package augment
