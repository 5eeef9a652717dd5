package finetune

import "fmt"

// DivergedError stops a run whose training loss became NaN or infinite.
// The step's update was not applied: the weights and every checkpoint
// written before it are those of the last good step.
type DivergedError struct {
	Epoch, Step int     // 1-based
	LR          float64 // the step's learning rate (after warm-up and schedule)
	Loss        float64 // NaN or ±Inf
}

func (e *DivergedError) Error() string {
	return fmt.Sprintf("finetune: diverged at epoch %d step %d: loss is %v at learning rate %g; lower the learning rate", e.Epoch, e.Step, e.Loss, e.LR)
}
