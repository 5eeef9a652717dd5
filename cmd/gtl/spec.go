package main

import (
	"errors"

	"github.com/urfave/cli/v2"

	"github.com/gtl-dev/gtl/finetune"
)

// specFlags names the flag of each finetune.RunSpec field, for errors.
var specFlags = map[string]string{
	"Data.Source": "data", "Data.Classes": "classes", "Data.Shots": "shots", "Data.Val": "val", "Data.ValSplit": "val-split",
	"Data.ImageSize": "image-size", "Data.OnBadImage": "on-bad-image", "Data.Workers": "workers",
	"Model.Arch": "model", "Model.Weights": "weights", "Model.Pretrained": "pretrained", "Model.NumClasses": "num-classes",
	"Train.Strategy": "strategy", "Train.Freeze": "freeze", "Train.BNPolicy": "bn-policy", "Train.UnfreezeAt": "unfreeze-at",
	"Train.NoCache": "no-cache", "Train.LR": "lr", "Train.LRDecay": "lr-decay", "Train.WeightDecay": "weight-decay",
	"Train.Optimizer": "optimizer", "Train.Schedule": "schedule", "Train.Warmup": "warmup", "Train.LabelSmoothing": "label-smoothing",
	"Train.ClipGrad": "clip-grad", "Train.EMA": "ema", "Train.Epochs": "epochs", "Train.Batch": "batch", "Train.EvalEvery": "eval-every",
	"Train.Augment": "augment", "Train.Mixup": "mixup", "Train.CutMix": "cutmix", "Train.Erase": "erase",
	"Device": "device", "Seed": "seed", "Out": "out", "Resume": "resume", "Overwrite": "overwrite",
}

// specError turns a spec error into one line naming the flags (exit
// status 2); other errors pass unchanged.
func specError(err error) error {
	var fe *finetune.FieldError
	if !errors.As(err, &fe) {
		return err
	}
	return cli.Exit(fe.Render(func(field string) string {
		if f, ok := specFlags[field]; ok {
			return "--" + f
		}
		return field
	}), 2)
}
