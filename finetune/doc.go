// Package finetune trains gtl's models: a small training loop with named
// hooks (start, step, epoch end) through which callers attach progress,
// logging and early stopping; the loop itself never prints.
//
//	tr := finetune.Trainer{
//		Config: finetune.Config{Epochs: 3, Seed: 1},
//		Hooks:  finetune.Hooks{OnEpochEnd: func(e finetune.Epoch) error { fmt.Println(e.ValAccuracy); return nil }},
//	}
//	res, err := tr.Fit(model, vs, train, val)
//
// All torch work runs on the trainer's worker (package vision/torch), so
// Fit may be called from any goroutine. finetune sits on vision; package
// strategies builds training plans on top of it.
package finetune
