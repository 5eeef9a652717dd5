package finetune

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/gtl-dev/gtl/torch"
	"github.com/gtl-dev/gtl/vision"
	"github.com/gtl-dev/gtl/weights"
)

// TestEarlyStopping runs with patience and checks the stop epoch and the
// best epoch against the rule (Keras' EarlyStopping) applied to the run's
// own validation curve, that the final model holds the best epoch's
// tensors (weights and batch-norm statistics; also best.safetensors), that
// the final report is that model's, and config.json's record.
func TestEarlyStopping(t *testing.T) {
	for _, tc := range []struct {
		name     string
		train    TrainSpec
		stop     int // the epoch training stops after; 0: none
		best     int
		epochs   int
		checkAcc bool
	}{
		// No later epoch beats the first by 10: stop after 1 + patience.
		{"val_loss, large min-delta", TrainSpec{Epochs: 4, Patience: 1, MinDelta: 10}, 2, 1, 2, false},
		// Patience beyond the epochs: every epoch runs, and the final model
		// is the first epoch of the highest accuracy.
		{"val_acc, all epochs", TrainSpec{Epochs: 3, Patience: 9, Monitor: "val_acc"}, 0, -1, 3, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if testing.Short() && tc.stop == 0 {
				t.Skip("one case under -short")
			}
			train, val := randomImages(8, 16, 8), randomImages(9, 16, 9)
			dir := ""
			if tc.stop > 0 { // (the files cost time: written in one case)
				dir = t.TempDir()
			}
			spec := RunSpec{Model: ModelSpec{Arch: "resnet18"}, Data: DataSpec{ImageSize: 16}, Train: tc.train, Seed: 2, Out: dir}
			spec.Train.Batch, spec.Train.LR = 8, 0.1
			var m *vision.Model
			var at []map[string][]float64 // each epoch's tensors
			env := RunEnv{Data: NewData(train, val, 16), KeepModel: true, Hooks: RunHooks{
				OnStart:    func(s RunStart) { m = s.Model },
				OnEpochEnd: func(Epoch) error { at = append(at, snapshot(m)); return nil }}}
			res, err := Run(context.Background(), spec, env)
			if err != nil {
				t.Fatal(err)
			}
			defer torch.Do(func() error { res.Model.Close(); return nil })
			es := res.Config.EarlyStop
			if es == nil || res.Stopped || len(res.Result.Epochs) != tc.epochs || es.StoppedEpoch != tc.stop {
				t.Fatalf("early stop %+v, stopped %v, %d epochs; want stop %d after %d epochs", es, res.Stopped, len(res.Result.Epochs), tc.stop, tc.epochs)
			}
			best := tc.best
			if tc.checkAcc { // the first epoch of the highest accuracy
				best = 1
				for _, e := range res.Result.Epochs {
					if e.ValAccuracy > res.Result.Epochs[best-1].ValAccuracy {
						best = e.Epoch
					}
				}
			}
			if es.BestEpoch != best {
				t.Errorf("best epoch %d, want %d (curve %+v)", es.BestEpoch, best, res.Result.Epochs)
			}
			var final map[string][]float64
			_ = torch.Do(func() error { final = snapshot(res.Model); return nil })
			for k, v := range at[best-1] {
				if !slices.Equal(v, final[k]) {
					t.Fatalf("final model's %s is not epoch %d's", k, best)
				}
			}
			e := res.Result.Epochs[best-1]
			if res.Report == nil || math.Abs(res.Report.Loss-e.ValLoss) > 1e-6 || res.Report.Top1 != e.ValAccuracy {
				t.Errorf("final report loss %v acc %v, want epoch %d's %v %v", res.Report.Loss, res.Report.Top1, best, e.ValLoss, e.ValAccuracy)
			}
			if dir == "" {
				return
			}
			named, err := weights.ReadWeights(filepath.Join(dir, "best.safetensors"))
			if err != nil {
				t.Fatal(err)
			}
			defer weights.DropAll(named)
			for k, v := range named {
				if k == "num_batches_tracked" || final[k] == nil {
					continue
				}
				if !slices.Equal(v.Float64Values(), final[k]) {
					t.Fatalf("best.safetensors %s is not the final model's", k)
				}
			}
			var conf struct {
				Patience int        `json:"patience"`
				Monitor  string     `json:"monitor"`
				ES       *EarlyStop `json:"early_stopping"`
			}
			b, _ := os.ReadFile(filepath.Join(dir, "config.json"))
			if err := json.Unmarshal(b, &conf); err != nil || conf.ES == nil || *conf.ES != *es || conf.Patience != tc.train.Patience || conf.Monitor == "" {
				t.Errorf("config.json: %s", b)
			}
		})
	}
}

// TestEarlyStopSpec: bad values are refused naming the field.
func TestEarlyStopSpec(t *testing.T) {
	for _, tc := range []struct {
		train TrainSpec
		field string
	}{
		{TrainSpec{Patience: -1}, "Train.Patience"},
		{TrainSpec{Patience: 2, Monitor: "loss"}, "Train.Monitor"},
		{TrainSpec{Patience: 2, MinDelta: -0.1}, "Train.MinDelta"},
		{TrainSpec{Monitor: "val_acc"}, "Train.Monitor"}, // without Patience: nothing monitors
		{TrainSpec{MinDelta: 0.01}, "Train.MinDelta"},
		{TrainSpec{LRFind: &LRFindSpec{Start: 1, End: 0.1}}, "Train.LRFind"},
		{TrainSpec{LRFind: &LRFindSpec{Iters: 3}}, "Train.LRFind"},
		{TrainSpec{LRFind: &LRFindSpec{Suggest: "slide"}}, "Train.LRFind"},
	} {
		_, err := tc.train.withDefaults(true)
		fe, ok := err.(*FieldError)
		if !ok || fe.Field != tc.field {
			t.Errorf("%+v: %v, want an error on %s", tc.train, err, tc.field)
		}
	}
	if tr, err := (TrainSpec{Patience: 3}).withDefaults(true); err != nil || tr.Monitor != "val_loss" {
		t.Errorf("default monitor %q, %v", tr.Monitor, err)
	}
}
