// Package chart draws the PNG charts of gtl's reports: accuracy curves with
// error bars ([Lines]), grouped bars such as time-to-accuracy per strategy
// ([Bars]) and confusion matrices ([Confusion]).
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
// It is pure Go (gonum.org/v1/plot) and imports no libtorch; it is meant for
// the reports of gtl train and gtl compare (not wired into them yet).
package chart
