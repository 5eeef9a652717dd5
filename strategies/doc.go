// Package strategies turns a transfer-learning strategy (scratch, linear
// probe, freeze-N, full fine-tuning, gradual unfreezing) into a concrete
// training configuration for package finetune, and compares strategies on
// the user's data.
//
// It is the layer between the command line (cmd/gtl) and the training
// engine (finetune): Apply fills a finetune.RunSpec from a strategy (or
// from the advisor's choice, Measure and Place), and every run of a
// comparison (Job) is a finetune.Run.
package strategies
