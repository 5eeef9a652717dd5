package finetune

import (
	"fmt"

	"github.com/gtl-dev/gtl/weights"
)

// DivergedError stops a run whose training loss became NaN or infinite.
// The step's update was not applied: the weights and every checkpoint
// written before it are those of the last good step.
type DivergedError struct {
	Epoch, Step int     // 1-based
	LR          float64 // the step's learning rate (after warm-up and schedule)
	Loss        float64 // NaN or ±Inf
	// NonFinite is set when the loss stayed finite but the epoch left
	// weights or batch-norm statistics holding NaN or Inf: Step is then
	// the epoch's last, and the checkpoints are the previous epoch's.
	NonFinite []weights.NonFinite
}

func (e *DivergedError) Error() string {
	if len(e.NonFinite) > 0 {
		return fmt.Sprintf("finetune: diverged in epoch %d: %d tensor(s) of the model hold NaN or Inf: %s; lower the learning rate (last.safetensors is the last good epoch's)",
			e.Epoch, len(e.NonFinite), weights.NonFiniteList(e.NonFinite))
	}
	return fmt.Sprintf("finetune: diverged at epoch %d step %d: loss is %v at learning rate %g; lower the learning rate", e.Epoch, e.Step, e.Loss, e.LR)
}
