// Package bench measures the throughput of a model on synthetic data, for
// gtl bench and the side-by-side scripts in scripts/bench: in train mode it
// times exactly the step `gtl train` takes (finetune.NewStepper: the
// optimiser over the model's stages, mixed precision, channels-last), in
// infer mode a no-grad evaluation forward. Its JSON keys are the ones
// scripts/bench/pytorch_ref.py prints for PyTorch.
//
//	res, err := bench.Bench(torch.Default(), bench.Config{Arch: "resnet18",
//		Train: finetune.TrainSpec{Batch: 16, AMP: "bf16"}})
//
// It sits above finetune (cmd/gtl → bench → finetune → vision) and never
// prints.
package bench
