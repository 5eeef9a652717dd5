// Package finetune trains gtl's models.
//
// A run is described by one settings type, RunSpec: the data (Fashion-MNIST
// classes or an image folder, shots, validation split, resolution), the
// model (architecture, source weights, classes), the training settings
// (TrainSpec: freezing, rates, schedule, optimiser, augmentation, EMA,
// epochs, batch, mixed precision, channels-last), the device, the seed and
// an optional output folder (checkpoints, metrics, config.json, plots).
// Its defaults are one table (TrainSpec.withDefaults, each field's comment
// states its default); what config.json, the checkpoints and gtl compare's
// results.json record is that type, resolved. What travels beside it
// without changing its numbers — hooks, a data-parallel process group,
// data already in memory, download progress, a strategy's planner — is
// RunEnv's.
//
// Run is the one orchestrator: it resolves the spec once, lists the data
// without decoding an image, opens the model (bad weights are reported
// first), reads the data, asks RunEnv.Plan for a strategy's settings
// (package strategies), and trains with Fit. It is what `gtl train` runs,
// and what every cell of `gtl compare` and the probes of `gtl recommend`
// run:
//
//	res, err := finetune.Run(ctx, finetune.RunSpec{
//		Data:  finetune.DataSpec{Source: "images/", Shots: 20},
//		Model: finetune.ModelSpec{Arch: "resnet18", Pretrained: true},
//		Train: finetune.TrainSpec{Freeze: "2", Epochs: 3, AMP: "bf16"},
//	}, finetune.RunEnv{})
//
// Fit trains an open model on a data source and picks inside how the
// images are served: the head on features computed once (Freeze "all"), the
// rest of the network on a frozen prefix's activations computed once
// (Freeze N, see PlanPrefixCache), images decoded and augmented by the
// loader's workers, or in memory; it records the choice
// (RunConfig.CachedFeatures, RunConfig.FrozenCache). Every path runs the
// same training loop (Trainer, with named hooks for start, step, epoch
// end) and the same step (Stepper: forward under autocast, loss, backward
// with loss scaling for fp16, gradient sync, clipping, update), which gtl
// bench also times. The loop never prints:
//
//	tr := finetune.Trainer{
//		Train: finetune.TrainSpec{Epochs: 3}, Seed: 1,
//		Hooks: finetune.Hooks{OnEpochEnd: func(e finetune.Epoch) error { fmt.Println(e.ValAccuracy); return nil }},
//	}
//	res, err := tr.Fit(model, vs, train, val) // any Model, e.g. gtl smoke's small CNN
//
// Evaluate scores a model on a labelled set of images without a Trainer
// (what `gtl eval` runs): the class probabilities of every image under the
// weights' evaluation transform, and with TTA averaged over TTAViews;
// package metrics turns them into a Report (accuracy, confusion matrix,
// per-class precision, recall and F1, top losses):
//
//	p, err := finetune.Evaluate(model, finetune.FilesSet(paths, labels), finetune.EvalOptions{Prep: opened.Prep, TTA: true})
//	r, err := metrics.Score(p.Probs, p.Labels, classes)
//
// All torch work runs on the trainer's worker (package torch), so
// Fit and Run may be called from any goroutine. finetune sits on vision;
// package strategies builds training plans on top of it, and package bench
// measures its step.
package finetune
