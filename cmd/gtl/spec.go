package main

import (
	"errors"

	"github.com/urfave/cli/v2"

	"github.com/gtl-dev/gtl/finetune"
	"github.com/gtl-dev/gtl/vision"
)

// specFlags names the flag of each finetune.RunSpec field, for errors.
var specFlags = map[string]string{
	"Data.Source": "data", "Data.Classes": "classes", "Data.Shots": "shots", "Data.Val": "val", "Data.ValSplit": "val-split",
	"Data.ImageSize": "image-size", "Data.OnBadImage": "on-bad-image", "Data.Workers": "workers",
	"Model.Arch": "model", "Model.Weights": "weights", "Model.Pretrained": "pretrained", "Model.PretrainedName": "pretrained", "Model.WeightsKey": "weights-key", "Model.NumClasses": "num-classes",
	"Model.WeightsPrefix": "weights-prefix", "Model.AllowNonFinite": "allow-nonfinite",
	"Train.Strategy": "strategy", "Train.Freeze": "freeze", "Train.BNPolicy": "bn-policy", "Train.UnfreezeAt": "unfreeze-at",
	"Train.NoCache": "no-cache", "Train.LR": "lr", "Train.LRDecay": "lr-decay", "Train.WeightDecay": "weight-decay",
	"Train.Optimizer": "optimizer", "Train.Schedule": "schedule", "Train.Warmup": "warmup", "Train.LabelSmoothing": "label-smoothing",
	"Train.ClipGrad": "clip-grad", "Train.EMA": "ema", "Train.Epochs": "epochs", "Train.Batch": "batch", "Train.EvalEvery": "eval-every",
	"Train.Augment": "augment", "Train.Mixup": "mixup", "Train.CutMix": "cutmix", "Train.Erase": "erase",
	"Train.AMP": "amp", "Train.ChannelsLast": "channels-last", "Train.CuDNNBenchmark": "cudnn-benchmark", "Train.TF32": "tf32",
	"Train.LRFind": "lr", "Train.LRFind.Start": "start-lr", "Train.LRFind.End": "end-lr", "Train.LRFind.Iters": "num-it", "Train.LRFind.Suggest": "suggest", "Train.Patience": "patience", "Train.Monitor": "monitor", "Train.MinDelta": "min-delta", "TensorBoard": "tensorboard",
	"Train.ClassWeights": "class-weights", "Train.Sampler": "sampler", "Train.Threshold": "threshold",
	"Data.Labels": "labels", "Data.FnCol": "fn-col", "Data.LabelCol": "label-col", "Data.ValidCol": "valid-col",
	"Data.MultiLabel": "multi-label", "Data.LabelDelim": "label-delim", "Data.CSVDelimiter": "csv-delimiter", "Data.Suffix": "suffix",
	"Device": "device", "Seed": "seed", "Out": "out", "Resume": "resume", "Overwrite": "overwrite",
	"SaveEvery": "save-every", "CheckpointEvery": "checkpoint-every",
}

// visionFlags names the flag of each vision.OpenOptions field, for errors.
var visionFlags = map[string]string{"Arch": "model", "Weights": "weights", "Pretrained": "pretrained", "PretrainedName": "pretrained",
	"WeightsPrefix": "weights-prefix", "AllowNonFinite": "allow-nonfinite"}

// specError turns a spec error (finetune.FieldError: exit status 2;
// vision.OptionError, about a weights file: 1) into one line naming the
// flags; other errors pass unchanged.
func specError(err error) error {
	var fe *finetune.FieldError
	var oe *vision.OptionError
	switch {
	case errors.As(err, &fe):
		return cli.Exit(fe.Render(func(field string) string {
			if f, ok := specFlags[field]; ok {
				return "--" + f
			}
			return field
		}), 2)
	case errors.As(err, &oe): // about the weights more than the flags: exit 1, as other errors of the file
		return cli.Exit(oe.Render(func(option string) string {
			if f, ok := visionFlags[option]; ok {
				return "--" + f
			}
			return option
		}), 1)
	}
	return err
}
