package main

import "github.com/urfave/cli/v2"

// imbalanceFlags are the flags for unequal classes, shared by gtl train
// and gtl compare (finetune.TrainSpec's ClassWeights and Sampler).
func imbalanceFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "class-weights", Usage: "weight each class's term of the loss: auto (inverse frequency, N/(classes·n_c), as scikit-learn's \"balanced\"), or a CSV file of class,weight rows; default: none"},
		&cli.StringFlag{Name: "sampler", Value: "random", Usage: "random (every image once per epoch, shuffled) or balanced (draw with replacement, each class equally often; from --seed and the epoch)"},
	}
}
