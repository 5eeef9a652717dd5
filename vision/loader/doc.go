// Package loader feeds training and evaluation with batches prepared by Go
// worker goroutines: each worker decodes, augments and normalises the
// images of one batch into a float32 CHW buffer ahead of time, so the torch
// goroutine only turns finished buffers into tensors.
//
//	items, classes, err := datasets.ListImageFolder("data/train")
//	l, err := loader.New(loader.FromFiles(items), loader.Config{
//		BatchSize: 64, Size: 224, Classes: len(classes), Transform: train, Seed: 1})
//	it := l.Epoch(order, epoch)
//	defer it.Close()
//	for {
//		b, err := it.Next()
//		if err == io.EOF {
//			break
//		}
//		... // b.X is [b.N,3,224,224], b.Labels [b.N]
//		l.Release(b)
//	}
//
// Batches come in order, and their contents depend only on Config.Seed,
// the epoch, the order and the source: every image's augmentation draws
// from a generator seeded by (Seed, epoch, image index; and for an image
// listed more than once, which listing it is), every batch's mix
// from one seeded by (Seed, epoch, batch index). The worker count changes
// speed, never pixels, and a resumed run sees the same batches.
//
// A random crop's window can be picked before decoding (Config.Crop): file
// sources then decode only the JPEG blocks under it, giving the same
// pixels as a full decode for roughly half the decoding work.
//
// It imports no libtorch; package vision (or the trainer) makes tensors of
// the buffers. Transforms come from package transforms and package augment.
package loader
