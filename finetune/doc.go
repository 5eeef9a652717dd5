// Package finetune trains gtl's models.
//
// Run carries out a whole training run described by a RunSpec: the data
// (Fashion-MNIST classes or an image folder, shots, validation split,
// resolution), the model (architecture, source weights, classes), the
// training plan (freezing, rates, schedule, optimiser, augmentation, EMA,
// epochs, batch), the device, the seed and an optional output folder
// (checkpoints, metrics, config.json, plots). It is what `gtl train` runs,
// and what every cell of `gtl compare` runs (package strategies builds
// those specs):
//
//	res, err := finetune.Run(ctx, finetune.RunSpec{
//		Data:  finetune.DataSpec{Source: "images/", Shots: 20},
//		Model: finetune.ModelSpec{Arch: "resnet18", Pretrained: true},
//		Train: finetune.TrainSpec{Freeze: "2", Epochs: 3},
//	})
//
// Underneath is a small training loop with named hooks (start, step,
// epoch end) through which callers attach progress, logging and early
// stopping; the loop itself never prints:
//
//	tr := finetune.Trainer{
//		Config: finetune.Config{Epochs: 3, Seed: 1},
//		Hooks:  finetune.Hooks{OnEpochEnd: func(e finetune.Epoch) error { fmt.Println(e.ValAccuracy); return nil }},
//	}
//	res, err := tr.Fit(model, vs, train, val)
//
// Frozen parts of a model are computed once per image where nothing
// varies them between epochs: FitCached trains only the head on the
// backbone's features (Freeze "all"), FitPrefixCached trains the rest of
// the network on the frozen prefix's activations (Freeze N, see
// PlanPrefixCache for when it applies); Run picks the path and records it
// (RunConfig.CachedFeatures, RunConfig.FrozenCache).
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
// All torch work runs on the trainer's worker (package vision/torch), so
// Fit and Run may be called from any goroutine. finetune sits on vision;
// package strategies builds training plans on top of it.
package finetune
