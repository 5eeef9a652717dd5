package finetune

import (
	"encoding/json"
	"fmt"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"

	"github.com/gtl-dev/gtl/torch"
	"github.com/gtl-dev/gtl/vision"
	"github.com/gtl-dev/gtl/vision/datasets"
	"github.com/gtl-dev/gtl/vision/models"
)

// ddpHelperEnv makes the test binary run as one rank of a data-parallel
// training (ddpHelper) instead of running the tests: its value is the
// mode, ddpOutEnv a file for the rank's results.
const (
	ddpHelperEnv = "FINETUNE_DDP_TEST_HELPER"
	ddpOutEnv    = "FINETUNE_DDP_TEST_OUT"
	ddpBatchEnv  = "FINETUNE_DDP_TEST_BATCH"
)

func init() {
	if mode := os.Getenv(ddpHelperEnv); mode != "" {
		if err := ddpHelper(mode); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(3)
		}
		os.Exit(0)
	}
}

// ddpResult is what a training writes for comparison: final weights by
// name, the per-epoch losses and the last validation.
type ddpResult struct {
	Weights   map[string][]float64
	TrainLoss []float64
	ValLoss   float64
	ValTop1   float64
	Confusion [][]int
}

// ddpData is a small real training set (FashionMNIST, 6 per class: 60
// images) and validation set (the first 50 test images, an odd count per
// rank split).
func ddpData() (train, val *datasets.Images, err error) {
	all, err := datasets.LoadFashionMNIST("", datasets.Train)
	if err != nil {
		return nil, nil, err
	}
	idx, err := all.FirstPerClass(6, 1)
	if err != nil {
		return nil, nil, err
	}
	if train, err = all.Subset(idx); err != nil {
		return nil, nil, err
	}
	tall, err := datasets.LoadFashionMNIST("", datasets.Test)
	if err != nil {
		return nil, nil, err
	}
	first := make([]int, 50)
	for i := range first {
		first[i] = i
	}
	val, err = tall.Subset(first)
	return train, val, err
}

// ddpTrain trains SmallCNN (no batch norm) for 2 epochs with SGD and
// momentum at the given per-rank batch, as one rank of g (nil: alone).
func ddpTrain(g *torch.Group, batch int, model func(Model) Model) (*ddpResult, error) {
	train, val, err := ddpData()
	if err != nil {
		return nil, err
	}
	vs := nn.NewVarStore(gotch.CPU)
	var m *models.SmallCNN
	// Each rank initialises differently: the broadcast from rank 0 must
	// make them equal.
	seed := int64(7)
	if g != nil {
		seed += int64(g.Rank())
	}
	err = torch.Do(func() error {
		if err := torch.ManualSeed(seed); err != nil {
			return err
		}
		var err error
		m, err = models.NewSmallCNN(vs.Root(), 1, 10, 28)
		return err
	})
	if err != nil {
		return nil, err
	}
	var mm Model = m
	if model != nil {
		mm = model(m)
	}
	tr := Trainer{Train: TrainSpec{Epochs: 2, Batch: batch, LR: 0.05}, Seed: 5, Normalize: vision.Normalize{Mean: []float64{0.286}, Std: []float64{0.353}}, Dist: g}
	res, err := tr.Fit(mm, vs, train, val)
	if err != nil {
		return nil, err
	}

	out := &ddpResult{Weights: map[string][]float64{}, ValLoss: res.Report.Loss, ValTop1: res.Report.Top1, Confusion: res.Report.Confusion}
	for _, e := range res.Epochs {
		out.TrainLoss = append(out.TrainLoss, e.TrainLoss)
	}
	err = torch.Do(func() error {
		for k, v := range vs.Variables() {
			out.Weights[k] = v.Float64Values()
		}
		// Variables returns copies that do not keep the VarStore's tensors
		// alive: their finalizers must not run before this point.
		runtime.KeepAlive(vs)
		return nil
	})
	return out, err
}

// dieAt makes rank 1's process exit at its nth forward pass in training.
type dieAt struct {
	Model
	n, calls int
}

func (d *dieAt) Forward(x *ts.Tensor, train bool) (*ts.Tensor, error) {
	if train {
		if d.calls++; d.calls == d.n {
			os.Exit(9)
		}
	}
	return d.Model.Forward(x, train)
}

func ddpHelper(mode string) error {
	cfg, ok, err := torch.DistFromEnv()
	if err != nil || !ok {
		return fmt.Errorf("helper: env: %v %v", ok, err)
	}
	cfg.Timeout = 30 * time.Second
	g, err := torch.NewGroup(cfg)
	if err != nil {
		return err
	}
	defer g.Close()
	batch, _ := strconv.Atoi(os.Getenv(ddpBatchEnv))
	var wrap func(Model) Model
	if mode == "die" && cfg.Rank == 1 {
		wrap = func(m Model) Model { return &dieAt{Model: m, n: 3} }
	}
	res, err := ddpTrain(g, batch, wrap)
	if err != nil {
		return err
	}
	b, err := json.Marshal(res)
	if err != nil {
		return err
	}
	return os.WriteFile(os.Getenv(ddpOutEnv), b, 0o644)
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

type rankProc struct {
	cmd    *exec.Cmd
	out    string
	stderr strings.Builder
	done   chan error
}

// startRanks runs world copies of the test binary as ranks of one group on
// loopback, each training with the per-rank batch.
func startRanks(t *testing.T, mode string, world, batch int) []*rankProc {
	t.Helper()
	port, dir := freePort(t), t.TempDir()
	var ps []*rankProc
	for r := 0; r < world; r++ {
		p := &rankProc{cmd: exec.Command(os.Args[0], "-test.run=^$"), out: filepath.Join(dir, fmt.Sprintf("rank%d.json", r)), done: make(chan error, 1)}
		p.cmd.Env = append(os.Environ(), ddpHelperEnv+"="+mode, ddpOutEnv+"="+p.out, ddpBatchEnv+"="+strconv.Itoa(batch),
			"MASTER_ADDR=127.0.0.1", "MASTER_PORT="+strconv.Itoa(port), "WORLD_SIZE="+strconv.Itoa(world),
			"RANK="+strconv.Itoa(r), "LOCAL_RANK="+strconv.Itoa(r), "OMP_NUM_THREADS=1")
		p.cmd.Stderr = &p.stderr
		if err := p.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { p.done <- p.cmd.Wait() }()
		ps = append(ps, p)
	}
	t.Cleanup(func() {
		for _, p := range ps {
			_ = p.cmd.Process.Kill()
		}
	})
	return ps
}

func (p *rankProc) wait(t *testing.T, d time.Duration) error {
	t.Helper()
	select {
	case err := <-p.done:
		return err
	case <-time.After(d):
		t.Fatalf("rank did not finish within %s (hang); stderr: %s", d, p.stderr.String())
		return nil
	}
}

func maxAbsDiff(a, b map[string][]float64) (float64, error) {
	if len(a) != len(b) {
		return 0, fmt.Errorf("%d tensors vs %d", len(a), len(b))
	}
	var d float64
	for k, va := range a {
		vb, ok := b[k]
		if !ok || len(va) != len(vb) {
			return 0, fmt.Errorf("tensor %s differs in presence or size", k)
		}
		for i := range va {
			d = max(d, math.Abs(va[i]-vb[i]))
		}
	}
	return d, nil
}

// TestDataParallelEqualsOneProcess: two ranks with batch 4 each end with
// the weights of one process with batch 8 (the same global batches, the
// gradients averaged), within float tolerance, and agree on validation.
func TestDataParallelEqualsOneProcess(t *testing.T) {
	if len(torch.DistBackends()) == 0 {
		t.Skip("wrapper built without c10d (install libgloo-dev, make setup)")
	}
	if _, _, err := ddpData(); err != nil {
		t.Fatalf("%v (scripts/setup.sh installs it)", err)
	}
	ps := startRanks(t, "train", 2, 4)
	one, err := ddpTrain(nil, 8, nil)
	if err != nil {
		t.Fatal(err)
	}
	var ranks []*ddpResult
	for r, p := range ps {
		if err := p.wait(t, 3*time.Minute); err != nil {
			t.Fatalf("rank %d: %v: %s", r, err, p.stderr.String())
		}
		b, err := os.ReadFile(p.out)
		if err != nil {
			t.Fatal(err)
		}
		var res ddpResult
		if err := json.Unmarshal(b, &res); err != nil {
			t.Fatal(err)
		}
		ranks = append(ranks, &res)
	}
	if d, err := maxAbsDiff(ranks[0].Weights, ranks[1].Weights); err != nil || d != 0 {
		t.Errorf("the two ranks' weights differ: max |Δw| %g (%v)", d, err)
	}
	d, err := maxAbsDiff(one.Weights, ranks[0].Weights)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("max |Δw| 2 ranks × batch 4 vs 1 rank × batch 8: %.3g", d)
	if d > 1e-5 {
		t.Errorf("max |Δw| %g between 2 ranks × 4 and 1 × 8, want ≤ 1e-5", d)
	}
	for r, res := range ranks {
		if !reflect.DeepEqual(res.Confusion, one.Confusion) || math.Abs(res.ValLoss-one.ValLoss) > 1e-5 {
			t.Errorf("rank %d validation: loss %v confusion %v, want %v %v", r, res.ValLoss, res.Confusion, one.ValLoss, one.Confusion)
		}
		for e := range one.TrainLoss {
			if math.Abs(res.TrainLoss[e]-one.TrainLoss[e]) > 1e-5 {
				t.Errorf("rank %d epoch %d train loss %v, want %v", r, e+1, res.TrainLoss[e], one.TrainLoss[e])
			}
		}
	}
}

// TestDataParallelPeerDies: rank 1 exits at its third step; rank 0 must
// fail with an error naming rank 1, within the timeout, not hang.
func TestDataParallelPeerDies(t *testing.T) {
	if len(torch.DistBackends()) == 0 {
		t.Skip("wrapper built without c10d (install libgloo-dev, make setup)")
	}
	ps := startRanks(t, "die", 2, 4)
	start := time.Now()
	err0 := ps[0].wait(t, 2*time.Minute)
	err1 := ps[1].wait(t, time.Minute)
	if err0 == nil {
		t.Fatal("rank 0 finished although rank 1 died")
	}
	if ee, ok := err1.(*exec.ExitError); !ok || ee.ExitCode() != 9 {
		t.Fatalf("rank 1 ended with %v, want exit status 9 (it should die at step 3): %s", err1, ps[1].stderr.String())
	}
	msg := ps[0].stderr.String()
	for _, w := range []string{"rank 0 of 2", "peer rank 1 is gone", "127.0.0.1:", "epoch 1 step"} {
		if !strings.Contains(msg, w) {
			t.Errorf("rank 0's error lacks %q: %s", w, msg)
		}
	}
	t.Logf("rank 0 failed after %s: %s", time.Since(start).Round(time.Millisecond), strings.TrimSpace(msg))
}

func TestShardOrder(t *testing.T) {
	order := []int{9, 8, 7, 6, 5, 4, 3}
	for _, tc := range []struct {
		rank, world int
		want        []int
	}{
		{0, 1, []int{9, 8, 7, 6, 5, 4, 3}},
		{0, 2, []int{9, 7, 5, 3}},
		{1, 2, []int{8, 6, 4, 9}}, // padded with the order's start
		{2, 3, []int{7, 4, 8}},
	} {
		t.Run(fmt.Sprintf("%d of %d", tc.rank, tc.world), func(t *testing.T) {
			got := shardOrder(order, tc.rank, tc.world)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
			if len(got) != shardLen(len(order), tc.world) {
				t.Errorf("len %d, shardLen %d", len(got), shardLen(len(order), tc.world))
			}
		})
	}
}

// The trainable set that averageGrads reduces follows freezing and
// unfreezing, and costs no allocation per step while it stays the same.
func TestDDPTrainableParams(t *testing.T) {
	err := torch.Do(func() error {
		vs := nn.NewVarStore(gotch.CPU)
		defer vs.Destroy()
		if _, err := models.NewSmallCNN(vs.Root(), 1, 10, 28); err != nil {
			return err
		}
		d := newDDP(nil, vs)
		if len(d.params) < 4 {
			return fmt.Errorf("SmallCNN has %d parameters, want at least 4", len(d.params))
		}
		want := func(what string, n int) {
			ps, err := d.trainableParams()
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			if len(ps) != n {
				t.Errorf("%s: %d trainable parameters, want %d", what, len(ps), n)
			}
			for _, p := range ps {
				if rg, _ := p.RequiresGrad(); !rg {
					t.Errorf("%s: a frozen parameter is in the trainable set", what)
				}
			}
		}
		all := len(d.params)
		want("fresh", all)
		if allocs := testing.AllocsPerRun(20, func() { _, _ = d.trainableParams() }); allocs != 0 {
			t.Errorf("steady state allocates %.0f times per step, want 0", allocs)
		}
		// Freeze the first two parameters, then unfreeze one.
		for _, p := range d.params[:2] {
			if err := torch.SetRequiresGrad(p, false); err != nil {
				return err
			}
		}
		want("two frozen", all-2)
		if err := torch.SetRequiresGrad(d.params[1], true); err != nil {
			return err
		}
		want("one unfrozen", all-1)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
