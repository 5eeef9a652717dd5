package finetune

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"

	"github.com/gtl-dev/gtl/torch"
	"github.com/gtl-dev/gtl/vision"
	"github.com/gtl-dev/gtl/vision/datasets"
	"github.com/gtl-dev/gtl/vision/models"
)

// fashion returns n training images per class and the first 1000 test images.
func fashion(t *testing.T, n int) (train, test *datasets.Images) {
	t.Helper()
	all, err := datasets.LoadFashionMNIST("", datasets.Train)
	if err != nil {
		t.Fatalf("%v (scripts/setup.sh installs it)", err)
	}
	idx, err := all.FirstPerClass(n, 1)
	if err != nil {
		t.Fatal(err)
	}
	if train, err = all.Subset(idx); err != nil {
		t.Fatal(err)
	}
	tall, err := datasets.LoadFashionMNIST("", datasets.Test)
	if err != nil {
		t.Fatal(err)
	}
	first := make([]int, 1000)
	for i := range first {
		first[i] = i
	}
	if test, err = tall.Subset(first); err != nil {
		t.Fatal(err)
	}
	return train, test
}

func newCNN(t *testing.T, w *torch.Worker) (*models.SmallCNN, *nn.VarStore) {
	t.Helper()
	var m *models.SmallCNN
	vs := nn.NewVarStore(gotch.CPU)
	err := w.Do(func() error {
		if err := torch.ManualSeed(7); err != nil {
			return err
		}
		var err error
		m, err = models.NewSmallCNN(vs.Root(), 1, 10, 28)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return m, vs
}

// TestSmokeFashionMNIST: a small convnet on a few hundred real images
// lowers its loss and beats chance (10%) on held-out images.
func TestSmokeFashionMNIST(t *testing.T) {
	train, test := fashion(t, 30) // 300 images
	w := torch.NewWorker()
	defer w.Close()
	m, vs := newCNN(t, w)
	var steps, starts int
	tr := Trainer{
		Train: TrainSpec{Epochs: 4, Batch: 32, LR: 0.02}, Seed: 1, Normalize: vision.Normalize{Mean: []float64{0.286}, Std: []float64{0.353}},
		Hooks: Hooks{
			OnStart: func(p Plan) {
				starts++
				if p.StepsPerEpoch != 9 || p.TrainImages != 300 { // 300/32: the incomplete last batch is dropped
					t.Errorf("plan %+v", p)
				}
			},
			OnStep: func(Step) { steps++ },
		},
		Worker: w,
	}
	loss0, acc0, err := tr.Evaluate(m, test)
	if err != nil {
		t.Fatal(err)
	}
	res, err := tr.Fit(m, vs, train, test)
	if err != nil {
		t.Fatal(err)
	}
	if starts != 1 || steps != 36 || len(res.Epochs) != 4 {
		t.Errorf("hooks: %d starts, %d steps, %d epochs", starts, steps, len(res.Epochs))
	}
	first, last := res.Epochs[0], res.Epochs[len(res.Epochs)-1]
	if !(last.TrainLoss < 0.8*first.TrainLoss) {
		t.Errorf("train loss %.3f -> %.3f: did not fall by 20%%", first.TrainLoss, last.TrainLoss)
	}
	if !(last.ValLoss < loss0) {
		t.Errorf("held-out loss %.3f -> %.3f", loss0, last.ValLoss)
	}
	if last.ValAccuracy < 0.5 {
		t.Errorf("held-out accuracy %.3f (before training %.3f): want well above chance (0.10)", last.ValAccuracy, acc0)
	}
	t.Logf("loss %.3f -> %.3f, held-out accuracy %.3f -> %.3f", first.TrainLoss, last.TrainLoss, acc0, last.ValAccuracy)
}

func TestFitDeterministic(t *testing.T) {
	train, test := fashion(t, 5)
	run := func() float64 {
		w := torch.NewWorker()
		defer w.Close()
		m, vs := newCNN(t, w)
		tr := Trainer{Train: TrainSpec{Epochs: 2, Batch: 10}, Seed: 3, Worker: w}
		res, err := tr.Fit(m, vs, train, test)
		if err != nil {
			t.Fatal(err)
		}
		return res.Epochs[1].ValLoss
	}
	if a, b := run(), run(); a != b {
		t.Errorf("same seed, different results: %v vs %v", a, b)
	}
}

func TestFitErrors(t *testing.T) {
	train, _ := fashion(t, 2)
	w := torch.NewWorker()
	defer w.Close()
	m, vs := newCNN(t, w)
	tests := []struct {
		name  string
		cfg   Trainer
		model Model
		data  *datasets.Images
		want  string
	}{
		{"empty", Trainer{Train: TrainSpec{}}, m, &datasets.Images{}, "empty training set"},
		{"negative epochs", Trainer{Train: TrainSpec{Epochs: -1}}, m, train, "want positive"},
		{"infinite lr", Trainer{Train: TrainSpec{LR: math.Inf(1)}}, m, train, "want positive"},
		{"nan loss", Trainer{Train: TrainSpec{LR: 0.05}}, nanModel{m}, train, "diverged at epoch 1 step 1: loss is NaN at learning rate 0.05; lower the learning rate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := Trainer{Train: tt.cfg.Train, Seed: tt.cfg.Seed, Normalize: tt.cfg.Normalize, Augment: tt.cfg.Augment, Device: tt.cfg.Device, Worker: w}
			_, err := tr.Fit(tt.model, vs, tt.data, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
			var div *DivergedError
			if strings.HasPrefix(tt.name, "nan") && (!errors.As(err, &div) || div.Epoch != 1 || div.Step != 1 || div.LR != 0.05) {
				t.Fatalf("err = %#v, want a DivergedError at epoch 1 step 1, lr 0.05", err)
			}
		})
	}
	// ErrStop ends early without failing.
	tr := Trainer{Train: TrainSpec{Epochs: 5}, Worker: w, Hooks: Hooks{OnEpochEnd: func(Epoch) error { return ErrStop }}}
	res, err := tr.Fit(m, vs, train, nil)
	if err != nil || len(res.Epochs) != 1 || !math.IsNaN(res.Epochs[0].ValAccuracy) {
		t.Fatalf("stop: %v, %+v", err, res)
	}
}

// nanModel poisons its inner model's logits, as a diverged run would.
type nanModel struct{ inner Model }

func (n nanModel) Forward(x *ts.Tensor, train bool) (*ts.Tensor, error) {
	out, err := n.inner.Forward(x, train)
	if err != nil {
		return nil, err
	}
	return out.MulScalar(ts.FloatScalar(math.NaN()), true)
}

// TestReportAgreesWithEvaluate: the report's accuracy and loss are
// Evaluate's, the confusion matrix counts every image once, and per-class
// accuracy is its diagonal.
func TestReportAgreesWithEvaluate(t *testing.T) {
	train, test := fashion(t, 10)
	w := torch.NewWorker()
	defer w.Close()
	m, vs := newCNN(t, w)
	tr := Trainer{Train: TrainSpec{Epochs: 2, Batch: 20}, Seed: 1, Worker: w}
	if _, err := tr.Fit(m, vs, train, nil); err != nil {
		t.Fatal(err)
	}
	loss, acc, err := tr.Evaluate(m, test)
	if err != nil {
		t.Fatal(err)
	}
	r, err := tr.Report(m, test)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(r.Top1-acc) > 1e-12 || math.Abs(r.Loss-loss) > 1e-4 || r.Top5 < r.Top1 || r.Top5 > 1 {
		t.Errorf("report top1 %v top5 %v loss %v; Evaluate acc %v loss %v", r.Top1, r.Top5, r.Loss, acc, loss)
	}
	total := 0
	for c, row := range r.Confusion {
		n := 0
		for _, v := range row {
			n += v
		}
		total += n
		if n > 0 && math.Abs(r.PerClass[c]-float64(row[c])/float64(n)) > 1e-12 {
			t.Errorf("class %d: per-class %v, diagonal %d of %d", c, r.PerClass[c], row[c], n)
		}
	}
	if total != test.Len() {
		t.Errorf("confusion matrix counts %d images of %d", total, test.Len())
	}
}

// TestLastBatchOfOneIsDropped: 9 images in batches of 8 would leave a batch
// of one, whose zero variance turns libtorch's batch-norm running variance
// into NaN (PyTorch refuses such a batch); the incomplete batch is dropped
// and evaluation stays finite.
func TestLastBatchOfOneIsDropped(t *testing.T) {
	w := torch.NewWorker()
	defer w.Close()
	for _, tc := range []struct{ n, batch, steps int }{{9, 8, 1}, {16, 8, 2}, {5, 8, 1}, {25, 6, 4}} {
		if got := StepsPerEpoch(tc.n, tc.batch); got != tc.steps {
			t.Errorf("StepsPerEpoch(%d, %d) = %d, want %d", tc.n, tc.batch, got, tc.steps)
		}
	}
	data := randomImages(9, 32, 3)
	var m *vision.Model
	if err := w.Do(func() error {
		var err error
		m, err = vision.New("resnet18", 3, gotch.CPU)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer w.Do(func() error { m.Close(); return nil })
	res, err := (&Trainer{Train: TrainSpec{Epochs: 2, Batch: 8}, Seed: 1, Worker: w}).Fit(m, m.VS, data, data)
	if err != nil {
		t.Fatal(err)
	}
	if l := res.Epochs[1].ValLoss; math.IsNaN(l) || math.IsInf(l, 0) {
		t.Errorf("validation loss %v after training on 9 images in batches of 8", l)
	}
}
