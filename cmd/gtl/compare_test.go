package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/gtl-dev/gtl/strategies"
)

// TestCompareAndRecommend runs a small grid end to end from a small source
// model, resumes it, refuses the bad inputs, and asks the advisor.
func TestCompareAndRecommend(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "source")
	if _, errOut, code := gtl("--threads", "1", "train", "--data", "fashion-mnist", "-q", "--model", "resnet18", "--classes", "0-4", "--shots", "40", "--epochs", "1", "--val", "100", "--out", src); code != 0 {
		t.Fatalf("source: %s", errOut)
	}
	weights := filepath.Join(src, "best.safetensors")
	out := filepath.Join(dir, "cmp")
	args := []string{"--threads", "1", "compare", "--data", "fashion-mnist", "-q", "--weights", weights, "--classes", "5-9", "--val", "100",
		"--strategies", "scratch,linear,freeze-2", "--shots", "5", "--seeds", "1", "--out", out}
	stdout, errOut, code := gtl(args...)
	if code != 0 {
		t.Fatalf("compare: %d %s", code, errOut)
	}
	for _, re := range []string{`3 strategies × 1 size × 1 seed = 3 runs \(3 to do\), evaluated on 100 images`,
		`(?m)^linear +\d+\.\d% \(1 seed\)$`, `(?m)^best at 5 per class: `, `report: .*report\.md`} {
		if !regexp.MustCompile(re).MatchString(stdout) {
			t.Errorf("compare output does not match %q:\n%s", re, stdout)
		}
	}
	var res struct {
		Runs []struct {
			Strategy string `json:"strategy"`
			Config   struct {
				Epochs int `json:"epochs"`
			} `json:"config"`
			Curve         []json.RawMessage `json:"curve"`
			FinalAccuracy float64           `json:"final_accuracy"`
		} `json:"runs"`
	}
	b, err := os.ReadFile(filepath.Join(out, "results.json"))
	if err != nil || json.Unmarshal(b, &res) != nil || len(res.Runs) != 3 {
		t.Fatalf("results.json: %v %s", err, b)
	}
	for _, r := range res.Runs {
		if len(r.Curve) != r.Config.Epochs || r.FinalAccuracy <= 0 {
			t.Errorf("%s: %d curve points for %d epochs, accuracy %g", r.Strategy, len(r.Curve), r.Config.Epochs, r.FinalAccuracy)
		}
	}
	for _, f := range []string{"results.csv", "report.md", "report.html", "accuracy-vs-labels.png", "time-to-95.png", "curves-5.png"} {
		if st, err := os.Stat(filepath.Join(out, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	// Again: refused without --resume; with it, nothing is rerun.
	if _, errOut, code := gtl(args...); code != 2 || !strings.Contains(errOut, "already holds 3 finished runs") {
		t.Errorf("rerun without --resume: %d %q", code, errOut)
	}
	if stdout, errOut, code := gtl(append(args, "--resume")...); code != 0 || !strings.Contains(stdout, "(0 to do)") {
		t.Errorf("--resume: %d %s %s", code, stdout, errOut)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--strategies", "linear,magic"}, `unknown strategy "magic"`},
		// 6000 a class, 20 of each held out for validation (--val 100 over 5 classes)
		{[]string{"--shots", "7000"}, "--shots 7000: class Sandal has only 5980 training images"},
		{[]string{"--model", "resnet34"}, "a resnet18 checkpoint, not resnet34"},
		{[]string{"--classes", "0-4"}, "holds results of a different comparison"},
		{[]string{"--strategies", "freeze-6"}, "resnet18 has 6 stages"},
	} {
		a := append(append([]string{}, args...), tc.args...)
		if _, errOut, code := gtl(a...); code != 2 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d %q, want 2 and %q", tc.args, code, errOut, tc.want)
		}
	}
	stdout, errOut, code = gtl("--threads", "1", "recommend", "--weights", weights, "--data", "fashion-mnist", "--classes", "5-9", "--shots", "20", "--probe-images", "20", "--json")
	var rec recommendation
	if code != 0 || json.Unmarshal([]byte(stdout), &rec) != nil {
		t.Fatalf("recommend: %d %s %s", code, stdout, errOut)
	}
	if rec.PerClass != 20 || rec.Large || rec.Strategy == "" || !strings.Contains(rec.Command, "--strategy "+rec.Strategy) {
		t.Errorf("recommendation %+v", rec)
	}
	if stdout, errOut, code = gtl("--threads", "1", "train", "--data", "fashion-mnist", "--weights", weights, "--classes", "5-9", "--shots", "10", "--val", "100",
		"--strategy", "auto", "--out", filepath.Join(dir, "auto")); code != 0 || !strings.Contains(stdout, "strategy auto: ") {
		t.Errorf("train --strategy auto: %d %s %s", code, stdout, errOut)
	}
}

// TestCompareShards runs a grid whole and as shards 1/2 and 2/2 (the
// second through --shard auto, as a Slurm array task), merges the shards
// and checks that the merged results equal the whole grid's.
func TestCompareShards(t *testing.T) {
	dir := t.TempDir()
	// A small source model, so that the grid can use linear probes (head
	// steps on cached features: cheap).
	src := filepath.Join(dir, "source")
	if _, errOut, code := gtl("--threads", "1", "train", "--data", "fashion-mnist", "-q", "--model", "resnet18", "--classes", "0-2", "--shots", "4", "--epochs", "1",
		"--val", "10", "--image-size", "32", "--out", src); code != 0 {
		t.Fatalf("source: %s", errOut)
	}
	args := func(out string, extra ...string) []string {
		return append([]string{"--threads", "1", "compare", "--data", "fashion-mnist", "-q", "--weights", filepath.Join(src, "best.safetensors"), "--strategies", "linear",
			"--shots", "3", "--seeds", "3", "--classes", "5-6", "--val", "10", "--out", filepath.Join(dir, out)}, extra...)
	}
	if _, errOut, code := gtl(args("whole")...); code != 0 {
		t.Fatalf("whole grid: %s", errOut)
	}
	stdout, errOut, code := gtl(args("s1", "--shard", "1/2")...)
	if code != 0 || !strings.Contains(stdout, "shard 1/2: 2 of the 3 runs") {
		t.Fatalf("shard 1/2: %d %s %s", code, stdout, errOut)
	}
	t.Setenv("SLURM_ARRAY_TASK_ID", "1")
	t.Setenv("SLURM_ARRAY_TASK_MIN", "0")
	t.Setenv("SLURM_ARRAY_TASK_COUNT", "2")
	if stdout, errOut, code := gtl(args("s2", "--shard", "auto")...); code != 0 || !strings.Contains(stdout, "shard 2/2: 1 of the 3 runs") {
		t.Fatalf("shard auto (2/2): %d %s %s", code, stdout, errOut)
	}
	if _, errOut, code := gtl("compare", "--out", filepath.Join(dir, "merged"), "--merge", filepath.Join(dir, "s2"), filepath.Join(dir, "s1")); code != 0 {
		t.Fatalf("merge: %s", errOut)
	}
	// Everything but the timings must agree.
	strip := func(name string) string {
		b, err := os.ReadFile(filepath.Join(dir, name, "results.csv"))
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			f := strings.Split(line, ",")
			out = append(out, strings.Join(append(f[:9:9], f[9]), ","))
		}
		return strings.Join(out, "\n")
	}
	if whole, merged := strip("whole"), strip("merged"); whole != merged || strings.Count(merged, "\n") != 3 {
		t.Errorf("merged results differ from the whole grid's:\n%s\nwant\n%s", merged, whole)
	}
	for _, f := range []string{"report.md", "report.html", "accuracy-vs-labels.png"} {
		if _, err := os.Stat(filepath.Join(dir, "merged", f)); err != nil {
			t.Error(err)
		}
	}
	for _, tc := range []struct {
		dirs []string
		want string
	}{
		{[]string{"s1"}, "shard 2/2 is missing"},
		{[]string{"s1", "s1"}, "are both shard 1/2"},
		{[]string{"s1", "whole"}, "is not a shard"},
	} {
		a := []string{"compare", "--out", filepath.Join(dir, "bad")}
		for _, d := range tc.dirs {
			a = append(a, "--merge", filepath.Join(dir, d))
		}
		if _, errOut, code := gtl(a...); code != 2 || !strings.Contains(errOut, tc.want) {
			t.Errorf("merge %v: %d %q, want 2 and %q", tc.dirs, code, errOut, tc.want)
		}
	}
}

// TestPlanGridAugment: with --augment each strategy gets gtl train's
// augmentation for it (light with the backbone in the loop, none from
// scratch and for linear's cached features); without it, none.
func TestPlanGridAugment(t *testing.T) {
	sts, err := strategies.ParseList("scratch,linear,freeze-2,full,gradual")
	if err != nil {
		t.Fatal(err)
	}
	for _, augment := range []bool{false, true} {
		g := strategies.Grid{Strategies: []string{"scratch", "linear", "freeze-2", "full", "gradual"}, Shots: []int{5}, Seeds: 1, Augment: augment}
		plans, total, err := planGrid(g, sts, 100, 5, 6)
		if err != nil || len(plans) != 5 || total <= 0 {
			t.Fatalf("augment %v: %d plans, %d steps, %v", augment, len(plans), total, err)
		}
		for cell, p := range plans {
			want := "none"
			if augment && cell.Strategy != "scratch" && cell.Strategy != "linear" {
				want = "light"
			}
			if p.Augment != want {
				t.Errorf("augment %v: %s: %q, want %q", augment, cell.Strategy, p.Augment, want)
			}
			job := strategies.Job{Arch: "resnet18", Weights: "w.pth", Plan: p}
			if s, _ := job.Spec(); s.Train.Augment != want {
				t.Errorf("augment %v: %s: the run's augmentation %q, want %q", augment, cell.Strategy, s.Train.Augment, want)
			}
		}
	}
}
