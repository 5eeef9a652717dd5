// Package strategies turns a transfer-learning strategy (scratch, linear
// probe, freeze-N, full fine-tuning, gradual unfreezing) into a concrete
// training configuration for package finetune, and compares strategies on
// the user's data.
//
// It is the layer between the command line (cmd/gtl) and the training
// engine (finetune); the strategies themselves arrive with `gtl compare` and
// `gtl recommend`.
package strategies
