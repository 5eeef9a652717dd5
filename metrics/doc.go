// Package metrics scores a classifier from its predicted probabilities:
// top-1 and top-5 accuracy, the confusion matrix, per-class precision,
// recall and F1, balanced accuracy, macro F1, the mean cross-entropy and
// the top losses. It is plain arithmetic on Go slices (no tensors), so it
// builds and tests without libtorch; finetune fills it from a model's
// outputs and cmd/gtl prints and plots it.
//
// The definitions follow scikit-learn's: a class nothing was predicted as
// has precision 0, a class without images has recall 0 and is left out of
// the balanced accuracy, and macro F1 averages the classes that have
// images or predictions.
//
//	r, err := metrics.Score(probs, labels, classes)
//	fmt.Printf("top-1 %.1f%%, macro F1 %.3f\n", 100*r.Top1, r.MacroF1)
//	worst := metrics.TopLosses(probs, labels, 8)
//
// ScoreMultiLabel scores a multi-label classifier (sigmoid probabilities,
// any number of true classes per image) at per-class thresholds: average
// precision per class and its mean (mAP), micro, macro and sample F1, and
// per-class precision and recall, as scikit-learn computes them (tested
// against it). TuneThresholds picks each class's threshold that maximises
// its F1 on validation images.
//
// It imports nothing of gtl's: finetune (Evaluate) and cmd/gtl (gtl eval)
// use it.
package metrics
