// Package weights reads and writes the files that carry model weights,
// without knowing the models: safetensors (ReadSafetensors,
// WriteSafetensors), PyTorch's torch.save files (ReadPth: the zip and the
// legacy format; WritePth: the zip format torch.load reads), TorchScript
// archives (their tensors by name), libtorch archives (.ot: ReadOt,
// WriteOt), and ReadWeights/ReadWeightsWith, which detect the container
// from the bytes and normalise it to a torchvision-style state dict
// (wrapper dicts such as Lightning's or timm's, "module."/"_orig_mod."
// prefixes; the source is reported as a WeightsSource).
//
// Every pickle is vetted before gotch unpickles it: each opcode walked,
// storage sizes checked against the file, and globals limited to
// PickleAllowed (any other is a *PickleRefusedError naming it), so a .pth
// file from elsewhere cannot run code.
//
// Writers are atomic (WriteAtomic: temporary file, sync, rename). Functions
// that make tensors run on a torch worker thread (see package torch); the
// caller owns the returned tensors (DropAll frees a map of them).
//
// Imports: weights sits on gotch alone; package vision (Open,
// checkpoints) uses it.
package weights
