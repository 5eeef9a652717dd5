package torch

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sugarme/gotch/ts"
)

// distHelperEnv makes the test binary act as one rank of a group (see
// TestMain's caller, distHelper) instead of running the tests.
const distHelperEnv = "TORCH_DIST_TEST_HELPER"

func init() {
	if mode := os.Getenv(distHelperEnv); mode != "" {
		if err := distHelper(mode); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(3)
		}
		os.Exit(0)
	}
}

// FreePort returns a loopback TCP port that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// distHelper is one rank: it runs the collectives of mode and prints what it
// got, one value per line, for the parent test to check.
func distHelper(mode string) error {
	cfg, ok, err := DistFromEnv()
	if err != nil || !ok {
		return fmt.Errorf("helper: env: %v %v", ok, err)
	}
	cfg.Timeout = 20 * time.Second
	if mode == "timeout" {
		cfg.Timeout = 2 * time.Second
	}
	g, err := NewGroup(cfg)
	if err != nil {
		return err
	}
	defer g.Close()
	r := float64(cfg.Rank)
	switch mode {
	case "collectives":
		var out []float64
		err := Do(func() error {
			// Mixed dtypes and sizes, more than one bucket.
			a, _ := ts.OfSlice([]float32{1 + float32(r), 2, 3})
			b, _ := ts.OfSlice([]int64{10 * int64(cfg.Rank+1)})
			c, _ := ts.OfSlice([]float32{float32(r), float32(r)})
			if err := g.AllReduce([]*ts.Tensor{a, b}, ReduceSum, 8); err != nil {
				return err
			}
			if err := g.AllReduce([]*ts.Tensor{c}, ReduceAvg, 0); err != nil {
				return err
			}
			w, _ := ts.OfSlice([]float32{5 * float32(r+1), 6 * float32(r+1)})
			if err := g.Broadcast([]*ts.Tensor{w}, 1); err != nil {
				return err
			}
			for _, t := range []*ts.Tensor{a, c, w} {
				out = append(out, t.Float64Values()...)
			}
			out = append(out, float64(b.Int64Values()[0]))
			return nil
		})
		if err != nil {
			return err
		}
		vals := []float64{r + 1, r}
		if err := g.AllReduceFloat64(vals, ReduceMax); err != nil {
			return err
		}
		out = append(out, vals...)
		if err := g.Barrier(); err != nil {
			return err
		}
		for _, v := range out {
			fmt.Println(v)
		}
	case "die":
		if err := g.Barrier(); err != nil {
			return err
		}
		if cfg.Rank == 1 {
			os.Exit(7) // gone without leaving the group
		}
		time.Sleep(500 * time.Millisecond)
		return g.AllReduceFloat64([]float64{1}, ReduceSum)
	}
	return nil
}

type rankRun struct {
	cmd    *exec.Cmd
	stdout strings.Builder
	stderr strings.Builder
}

func startRanks(t *testing.T, mode string, port, world int, ranks ...int) []*rankRun {
	t.Helper()
	var runs []*rankRun
	for _, rank := range ranks {
		r := &rankRun{cmd: exec.Command(os.Args[0], "-test.run=^$")}
		r.cmd.Env = append(os.Environ(), distHelperEnv+"="+mode, "MASTER_ADDR=127.0.0.1",
			"MASTER_PORT="+strconv.Itoa(port), "WORLD_SIZE="+strconv.Itoa(world), "RANK="+strconv.Itoa(rank))
		r.cmd.Stdout, r.cmd.Stderr = &r.stdout, &r.stderr
		if err := r.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		runs = append(runs, r)
	}
	return runs
}

// wait waits for a rank with a deadline, so a hang fails the test.
func (r *rankRun) wait(t *testing.T, d time.Duration) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- r.cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(d):
		_ = r.cmd.Process.Kill()
		t.Fatalf("rank did not finish within %s; stderr: %s", d, r.stderr.String())
		return nil
	}
}

func requireGloo(t *testing.T) {
	t.Helper()
	if len(DistBackends()) == 0 {
		t.Skip("wrapper built without c10d (install libgloo-dev, make setup)")
	}
}

func TestDistCollectives(t *testing.T) {
	requireGloo(t)
	runs := startRanks(t, "collectives", freePort(t), 2, 0, 1)
	// a=[1+r,2,3] summed: [3,4,6]; c=[r,r] averaged: [.5,.5]; w from rank 1:
	// [10,12]; b=10(r+1) summed: 30; max of [r+1, r]: [2, 1].
	want := "3\n4\n6\n0.5\n0.5\n10\n12\n30\n2\n1\n"
	for i, r := range runs {
		if err := r.wait(t, time.Minute); err != nil {
			t.Fatalf("rank %d: %v: %s", i, err, r.stderr.String())
		}
		if got := r.stdout.String(); got != want {
			t.Errorf("rank %d printed\n%s\nwant\n%s", i, got, want)
		}
	}
}

func TestDistErrors(t *testing.T) {
	requireGloo(t)
	t.Run("peer dies", func(t *testing.T) {
		runs := startRanks(t, "die", freePort(t), 2, 0, 1)
		err0 := runs[0].wait(t, time.Minute)
		_ = runs[1].wait(t, time.Minute)
		if err0 == nil {
			t.Fatalf("rank 0 succeeded after its peer died")
		}
		msg := runs[0].stderr.String()
		t.Logf("rank 0: %s", msg)
		for _, w := range []string{"rank 0 of 2", "master 127.0.0.1:", "peer rank 1"} {
			if !strings.Contains(msg, w) {
				t.Errorf("rank 0's error %q lacks %q", msg, w)
			}
		}
	})
	t.Run("peer never comes", func(t *testing.T) {
		runs := startRanks(t, "timeout", freePort(t), 2, 0)
		start := time.Now()
		if err := runs[0].wait(t, time.Minute); err == nil {
			t.Fatal("rank 0 alone in a world of 2 succeeded")
		}
		if d := time.Since(start); d > 30*time.Second {
			t.Errorf("took %s with a 2s timeout", d)
		}
		if msg := runs[0].stderr.String(); !strings.Contains(msg, "rank 0 of 2") {
			t.Errorf("error %q does not name the rank", msg)
		}
	})
	t.Run("port in use", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		port := l.Addr().(*net.TCPAddr).Port
		_, err = NewGroup(DistConfig{Addr: "127.0.0.1", Port: port, Rank: 0, World: 2, Timeout: 2 * time.Second})
		if err == nil {
			t.Fatal("NewGroup on a port in use succeeded")
		}
		if !strings.Contains(err.Error(), "rank 0 of 2") || !strings.Contains(err.Error(), strconv.Itoa(port)) {
			t.Errorf("error %q does not name the rank and port", err)
		}
	})
}

func TestDistFromEnv(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		ok   bool
		want DistConfig
		err  string
	}{
		{"unset", map[string]string{}, false, DistConfig{}, ""},
		{"torchrun", map[string]string{"WORLD_SIZE": "4", "RANK": "3", "LOCAL_RANK": "1", "MASTER_ADDR": "node0", "MASTER_PORT": "1234"},
			true, DistConfig{Addr: "node0", Port: 1234, Rank: 3, World: 4, LocalRank: 1}, ""},
		{"defaults", map[string]string{"WORLD_SIZE": "2", "RANK": "1"}, true, DistConfig{Addr: "127.0.0.1", Port: 29500, Rank: 1, World: 2, LocalRank: 1}, ""},
		{"bad rank", map[string]string{"WORLD_SIZE": "2", "RANK": "2"}, true, DistConfig{}, "rank 2 outside a world of 2"},
		{"no rank", map[string]string{"WORLD_SIZE": "2"}, false, DistConfig{}, "RANK is not"},
		{"junk", map[string]string{"WORLD_SIZE": "two", "RANK": "0"}, false, DistConfig{}, "WORLD_SIZE=\"two\""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, k := range []string{"WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT", "GLOO_SOCKET_IFNAME"} {
				t.Setenv(k, tc.env[k])
				if _, set := tc.env[k]; !set {
					os.Unsetenv(k)
				}
			}
			got, ok, err := DistFromEnv()
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || ok != tc.ok || got != tc.want {
				t.Errorf("got %+v %v %v, want %+v %v", got, ok, err, tc.want, tc.ok)
			}
		})
	}
}
