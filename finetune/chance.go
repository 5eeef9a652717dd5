package finetune

import (
	"fmt"
	"math"
)

// ChanceEpochs is how many first epochs at chance make ChanceWatch warn.
const ChanceEpochs = 2

// ChanceWatch watches a run's first epochs for a model that learns
// nothing: a training loss at ln(classes) (uniform predictions) and a
// validation accuracy no better than chance. Feed it every epoch; it
// returns one warning, once, when the first ChanceEpochs epochs were all
// at chance. The zero value is off (Classes < 2).
type ChanceWatch struct {
	Classes   int // classes of the data
	ValImages int // validation images (0: accuracy unknown, loss alone decides)
	// Epochs overrides ChanceEpochs when positive.
	Epochs int

	seen   int  // epochs observed
	stuck  bool // every epoch so far at chance
	warned bool
}

// AtChance reports whether an epoch looks like a model that has learnt
// nothing on classes classes: its training loss within 10% of ln(classes)
// (uniform predictions), or its validation images all predicted as one
// class (a balanced accuracy of exactly 1/classes: a collapsed model,
// whatever its loss); and its validation accuracy (when measured) within
// three standard errors of chance on valImages images (or two points, when
// that is more).
func AtChance(e Epoch, classes, valImages int) bool {
	if classes < 2 {
		return false
	}
	uniform := math.Log(float64(classes))
	collapsed := valImages > 0 && math.Abs(e.ValBalancedAccuracy-1/float64(classes)) < 1e-9
	if !collapsed && (math.IsNaN(e.TrainLoss) || math.Abs(e.TrainLoss-uniform) > 0.1*uniform) {
		return false
	}
	if math.IsNaN(e.ValAccuracy) || valImages <= 0 {
		return true
	}
	p := 1 / float64(classes)
	return e.ValAccuracy <= p+max(0.02, 3*math.Sqrt(p*(1-p)/float64(valImages)))
}

// Observe takes the next epoch and returns a one-line warning (without a
// prefix) the first time the run's first epochs were all at chance, else "".
func (w *ChanceWatch) Observe(e Epoch) string {
	if w.Classes < 2 || w.warned {
		return ""
	}
	w.seen++
	w.stuck = (w.seen == 1 || w.stuck) && AtChance(e, w.Classes, w.ValImages)
	n := w.Epochs
	if n <= 0 {
		n = ChanceEpochs
	}
	if !w.stuck || w.seen != n {
		return ""
	}
	w.warned = true
	acc := ""
	if !math.IsNaN(e.ValAccuracy) {
		acc = fmt.Sprintf(", val accuracy %.1f%% (chance %.1f%%)", 100*e.ValAccuracy, 100/float64(w.Classes))
		if w.ValImages > 0 && math.Abs(e.ValBalancedAccuracy-1/float64(w.Classes)) < 1e-9 {
			acc += ", every validation image predicted as one class"
		}
	}
	return fmt.Sprintf("after %d epochs the model is still at chance (train loss %.3f, ln %d = %.3f%s); usual causes: "+
		"a learning rate too high or too low (--lr), labels that do not match the images, every stage frozen with too few steps for the new head, "+
		"or images prepared differently from the source model's (--image-size, normalisation)",
		n, e.TrainLoss, w.Classes, math.Log(float64(w.Classes)), acc)
}
