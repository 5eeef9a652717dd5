// Package chart draws the PNG charts of gtl's reports: accuracy curves with
// error bars ([Lines]), stacked panels such as a run's loss and accuracy
// ([Panels]), grouped bars with error bars such as time-to-accuracy per
// strategy ([Bars]) and confusion matrices ([Confusion]).
//
// Each function takes plain Go values, writes one PNG atomically (a
// temporary file renamed into place) and is deterministic: the same input
// gives the same bytes. Charts are 640×480 pixels unless asked otherwise,
// with gonum/plot's built-in fonts, so nothing depends on the machine's
// fonts.
//
//	err := chart.Lines("accuracy.png", chart.LineChart{
//		Title: "Accuracy vs labels per class", XLabel: "labels per class", YLabel: "val accuracy",
//		LogX:  true,
//		Series: []chart.Series{
//			{Name: "linear probe", X: []float64{5, 20, 100}, Y: []float64{0.61, 0.74, 0.80}, Err: []float64{0.03, 0.02, 0.01}},
//			{Name: "full fine-tune", X: []float64{5, 20, 100}, Y: []float64{0.55, 0.78, 0.88}},
//		},
//	})
//
// Legends are drawn in a column beside the plots, never over the data;
// [Panels] stacks plots that share an x axis (a run's losses above its
// accuracy in gtl train's curves.png), with whole-number ticks for epochs
// and log axes labelled with plain values.
//
// It is pure Go (gonum.org/v1/plot) and imports no libtorch; gtl train's
// curves and confusion matrix and gtl compare's report use it.
package chart
