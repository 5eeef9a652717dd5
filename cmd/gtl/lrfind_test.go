package main

import (
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestLRFindFlags: bad values of the LR finder's, early stopping's and
// TensorBoard's flags are one line naming the flag, exit status 2, before
// any data is read.
func TestLRFindFlags(t *testing.T) {
	base := []string{"train", "--data", "fashion-mnist", "--model", "resnet18", "--device", "cpu", "--out", "/nonexistent/run"}
	for _, tc := range []struct {
		args []string
		re   string
	}{
		{[]string{"--lr", "fast"}, `^gtl: --lr fast: want a positive rate, or find\n$`},
		{[]string{"--lr", "-1"}, `^gtl: --lr -1: want a positive rate, or find\n$`},
		{[]string{"--lr", "find", "--num-it", "3"}, `^gtl: --num-it 3: want at least 6 steps`},
		{[]string{"--lr", "find", "--start-lr", "1", "--end-lr", "0.5"}, `^gtl: --start-lr 1, --end-lr 0\.5: want 0 < start < end\n$`},
		{[]string{"--lr", "find", "--suggest", "slide"}, `^gtl: --suggest slide: want valley, steep or minimum\n$`},
		{[]string{"--patience", "-1"}, `^gtl: --patience -1: want 0 \(off\) or a number of epochs\n$`},
		{[]string{"--patience", "2", "--monitor", "loss"}, `^gtl: --monitor loss: want val_loss or val_acc\n$`},
		{[]string{"--patience", "2", "--min-delta", "-0.5"}, `^gtl: --min-delta -0\.5: want 0 or more\n$`},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			_, errOut, code := gtl(append(append([]string{}, base...), tc.args...)...)
			if code != 2 || !regexp.MustCompile(tc.re).MatchString(errOut) {
				t.Errorf("exit %d, stderr %q, want 2 and %s", code, errOut, tc.re)
			}
		})
	}
	// The sweep runs in one process: refused before any worker starts.
	if out, errOut, code := gtl(append(append([]string{}, base...), "--lr", "find", "--nproc-per-node", "2")...); code != 2 || out != "" ||
		errOut != "gtl: --lr find runs in one process, not with --nproc-per-node 2: find the rate with gtl lr-find, then give it with --lr\n" {
		t.Errorf("--lr find --nproc-per-node 2: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	// lr-find reads the images as gtl train does: it takes the image flags.
	if _, errOut, code := gtl("lr-find", "--data", "fashion-mnist", "--model", "resnet18", "--max-pixels", "-1"); code != 2 || errOut != "gtl: --max-pixels -1: want at least 1, or 0 for no limit\n" {
		t.Errorf("lr-find --max-pixels -1: %d %q", code, errOut)
	}
	if _, errOut, code := gtl("lr-find", "--data", "fashion-mnist", "--model", "resnet18", "--num-it", "2"); code != 2 || errOut != "gtl: --num-it 2: want at least 6 steps (fastai's minimum)\n" {
		t.Errorf("lr-find --num-it 2: %d %q", code, errOut)
	}
	if _, errOut, code := gtl("compare", "--data", "fashion-mnist", "--weights", "w.pth", "--lr", "slow", "--out", "/nonexistent/cmp"); code != 2 || !strings.HasPrefix(errOut, "gtl: --lr slow: want a positive rate, or find") {
		t.Errorf("compare --lr slow: %d %q", code, errOut)
	}
}

// TestTrainLRFindPatienceTensorBoard runs gtl lr-find, then gtl train with
// --lr find, --patience and --tensorboard on a small folder: the
// suggestions printed, the rate trained at (config.json), the plot and
// curve, the early-stopping record and the event file.
func TestTrainLRFindPatienceTensorBoard(t *testing.T) {
	root := t.TempDir()
	for c, base := range map[string]uint8{"bright": 200, "dark": 40} {
		os.MkdirAll(filepath.Join(root, c), 0o755)
		for i := 0; i < 8; i++ {
			m := image.NewRGBA(image.Rect(0, 0, 20, 20))
			for j := range m.Pix {
				m.Pix[j] = base + uint8((i*7+j*13)%40)
			}
			f, _ := os.Create(filepath.Join(root, c, fmt.Sprintf("%02d.png", i)))
			png.Encode(f, m)
			f.Close()
		}
	}
	common := []string{"-q", "--model", "resnet18", "--data", root, "--val-split", "0.25", "--image-size", "16", "--batch", "4", "--num-it", "10", "--seed", "3"}
	find := filepath.Join(t.TempDir(), "find")
	out, errOut, code := gtl(append([]string{"--threads", "1", "lr-find", "--out", find}, common...)...)
	if code != 0 {
		t.Fatalf("lr-find: %d %s", code, errOut)
	}
	m := regexp.MustCompile(`(?m)^  valley +(\S+)  <- suggested$`).FindStringSubmatch(out)
	if m == nil || !strings.Contains(out, "lr finder: ") || !strings.Contains(out, "  steep ") || !strings.Contains(out, "  minimum ") {
		t.Fatalf("lr-find output:\n%s", out)
	}
	// Ten steps: too few for a reliable suggestion, one warning line on
	// stderr naming the flag.
	if !strings.Contains(errOut, "gtl: warning: lr finder: --num-it 10: too few steps for a reliable suggestion; give 20 or more (fastai's default: 100)\n") {
		t.Errorf("lr-find stderr %q: want the too-few-steps warning", errOut)
	}
	csv, _ := os.ReadFile(filepath.Join(find, "lr-find.csv"))
	if lines := strings.Split(strings.TrimSpace(string(csv)), "\n"); lines[0] != "lr,loss,smoothed_loss" || len(lines) < 8 || len(lines) > 11 {
		t.Errorf("lr-find.csv:\n%s", csv)
	}
	if _, err := os.Stat(filepath.Join(find, "lr-find.png")); err != nil {
		t.Error(err)
	}

	run, tb := filepath.Join(t.TempDir(), "run"), filepath.Join(t.TempDir(), "tb")
	out, errOut, code = gtl(append([]string{"--threads", "1", "train", "--lr", "find", "--epochs", "3", "--patience", "1", "--min-delta", "100", "--tensorboard", tb, "--out", run}, common...)...)
	if code != 0 {
		t.Fatalf("train: %d %s", code, errOut)
	}
	var conf struct {
		LR     float64 `json:"lr"`
		Result struct {
			LR float64 `json:"lr"`
		} `json:"lr_find_result"`
		ES struct {
			Best    int `json:"best_epoch"`
			Stopped int `json:"stopped_epoch"`
		} `json:"early_stopping"`
	}
	b, _ := os.ReadFile(filepath.Join(run, "config.json"))
	if err := json.Unmarshal(b, &conf); err != nil {
		t.Fatal(err)
	}
	// The same data, model and seed: the same sweep as gtl lr-find's.
	if fmt.Sprint(conf.LR) != m[1] || conf.Result.LR != conf.LR {
		t.Errorf("config.json lr %v, lr_find_result %v; gtl lr-find suggested %s", conf.LR, conf.Result.LR, m[1])
	}
	// The finder's block comes as soon as the sweep is done: before the
	// stage table and the epoch table.
	if i, j := strings.Index(out, "lr finder: 10 steps from 1e-07 to 10"), strings.Index(out, "#   stage"); i < 0 || j < i || !strings.Contains(out[i:j], "  valley ") ||
		!strings.Contains(out[i:j], "plot: "+filepath.Join(run, "lr-find.png")+"\n") || !strings.Contains(errOut, "--num-it 10: too few steps") {
		t.Errorf("train: the lr finder's block is not before the stage table:\n%s\nstderr:\n%s", out, errOut)
	}
	// Nothing beats the first epoch by 100: stopped after epoch 2.
	if !regexp.MustCompile(`(?m)^stopped early after epoch 2 \(no val_loss improvement > 100 for 1 epoch\); the final model is epoch 1's \(val_loss \d\.\d+\)$`).MatchString(out) ||
		!strings.Contains(out, "  valley ") || conf.ES.Best != 1 || conf.ES.Stopped != 2 {
		t.Errorf("train output:\n%s\nconfig.json %s", out, b)
	}
	if lines, _ := os.ReadFile(filepath.Join(run, "metrics.jsonl")); strings.Count(string(lines), "\n") != 2 ||
		!regexp.MustCompile(`(?s)^\{"epoch":1,[^\n]*\}\n\{"early_stopping":\{"monitor":"val_loss","patience":1,"min_delta":100,"best_epoch":1,"best":[0-9.e-]+,"stopped_epoch":2\},"epoch":2,`).Match(lines) {
		t.Errorf("metrics.jsonl:\n%s", lines)
	}
	if files, _ := filepath.Glob(filepath.Join(tb, "events.out.tfevents.*")); len(files) != 1 {
		t.Errorf("event files %v", files)
	}
	for _, f := range []string{"lr-find.csv", "lr-find.png", "best.safetensors", "confusion.png"} {
		if _, err := os.Stat(filepath.Join(run, f)); err != nil {
			t.Error(err)
		}
	}
}

// TestCompareLRFind: gtl compare --lr find records the rate each run
// trained at, the finder's, as results.csv's lr and results.json's
// config.lr, the finder's rate in the last column, lr_found, and says on
// stderr, naming the run, that ten steps are too few.
func TestCompareLRFind(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "cmp")
	stdout, errOut, code := gtl("--threads", "1", "compare", "--data", "fashion-mnist", "-q", "--weights", tinySource(t, dir), "--strategies", "linear",
		"--shots", "10", "--seeds", "1", "--classes", "5-6", "--val", "10", "--lr", "find", "--num-it", "10", "--out", out)
	if code != 0 {
		t.Fatalf("compare: %d %s", code, errOut)
	}
	if first, _, _ := strings.Cut(errOut, "\n"); first != "gtl: warning: linear, 10 shots, seed 1: lr finder: --num-it 10: too few steps for a reliable suggestion; give 20 or more (fastai's default: 100)" {
		t.Errorf("compare stderr %q", errOut)
	}
	var res struct {
		Runs []struct {
			LRFound float64 `json:"lr_found"`
			Config  struct {
				LR        float64 `json:"lr"`
				Optimizer string  `json:"optimizer"`
				Momentum  float64 `json:"momentum"`
			} `json:"config"`
		} `json:"runs"`
	}
	b, _ := os.ReadFile(filepath.Join(out, "results.json"))
	if err := json.Unmarshal(b, &res); err != nil || len(res.Runs) != 1 {
		t.Fatalf("results.json: %v %s", err, b)
	}
	// The run's settings as it resolved them, not the strategy's unset fields.
	if c := res.Runs[0].Config; c.Optimizer != "sgd" || c.Momentum != 0.9 {
		t.Errorf("results.json config: optimizer %q, momentum %g; want sgd, 0.9", c.Optimizer, c.Momentum)
	}
	found := res.Runs[0].LRFound
	if !(found > 0) || res.Runs[0].Config.LR != found || !strings.Contains(stdout, fmt.Sprintf(", lr found %.3g", found)) {
		t.Errorf("results.json lr_found %g, config.lr %g; output:\n%s", found, res.Runs[0].Config.LR, stdout)
	}
	csv, _ := os.ReadFile(filepath.Join(out, "results.csv"))
	rows := strings.Split(strings.TrimSpace(string(csv)), "\n")
	h, row := strings.Split(rows[0], ","), strings.Split(rows[len(rows)-1], ",")
	want := strconv.FormatFloat(found, 'g', -1, 64)
	if len(rows) != 2 || h[6] != "lr" || h[len(h)-1] != "lr_found" || len(row) != len(h) || row[6] != want || row[len(row)-1] != want {
		t.Errorf("results.csv, want lr and lr_found %s:\n%s", want, csv)
	}
}
