// Package vision holds what gtl's image models share: the Model type and
// its stages, the layers and initialisations the architectures are built
// from, the architecture registry (New, Open, Lookup, Architectures,
// Register), loading weights into a model (by file, by torchvision's weight
// names, from the Hugging Face Hub), checkpoints, and turning image sets
// into tensors.
//
// Subpackages:
//   - vision/models: the architectures, one file per family (resnet.go,
//     regnet.go, …). It registers them with vision from init; import it
//     (a blank import is enough) to build models by name.
//   - vision/transforms, vision/augment, vision/datasets, vision/loader:
//     images, augmentation, data sets and batching.
//
// Beside it, not part of it: package weights (weight-file formats:
// safetensors, PyTorch .pth with the pickle guard, TorchScript archives,
// libtorch .ot; it knows files and tensors, not models), package torch
// (the libtorch runtime: the pinned worker thread, the optimiser, autocast,
// c10d, and the few calls gotch lacks) and package npy (NumPy arrays).
//
// Imports go one way: vision/models → vision → weights → torch → gotch.
//
// Every function that touches libtorch returns an error instead of
// panicking, and must run on a torch worker thread (see package
// torch). Returned tensors belong to the caller, who drops them.
//
//	import _ "github.com/gtl-dev/gtl/vision/models"
//
//	err := torch.Do(func() error {
//		m, err := vision.New("resnet18", 10, gotch.CPU)
//		if err != nil { return err }
//		defer m.Close()
//		x, y, err := vision.Batch(images, []int{0, 1, 2}, vision.Normalize{})
//		if err != nil { return err }
//		defer x.MustDrop(); defer y.MustDrop()
//		logits, err := m.Forward(x, false)
//		...
//	})
//
// Package finetune trains vision's models; package onnx exports them: every
// module with an ONNX form implements Emitter (Emit writes its inference
// computation into a Graph, beside its Forward), and Symbolic pairs a
// parameter-free function with its Emit.
package vision
