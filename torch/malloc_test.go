package torch

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"
)

// TestAllocCache checks csrc/gtl_infer.cpp's allocator cache in a fresh
// process (it is installed as the library loads): steps that make a chain
// of tensors (each freed once the next exists, as a forward's activations)
// reuse the blocks of the first step (few minor page faults, resident
// memory flat), while libtorch's own allocator (GTL_MALLOC=system) has
// glibc map and fault them in anew every step (5 tensors × 16384 pages of
// 4 KiB for 64 MiB). 16 MiB blocks lie under glibc's mmap ceiling: there
// the cache must keep resident memory flat too.
func TestAllocCache(t *testing.T) {
	if os.Getenv("GTL_ALLOC_CHILD") != "" {
		allocChild()
		return
	}
	for _, tc := range []struct {
		name, env  string
		mib        int
		installed  bool
		minFaults  int64 // over the last 6 steps
		maxFaults  int64
		maxRSSGrow int64 // pages over the last 6 steps
	}{
		{"cache 64MiB", "", 64, true, 0, 2000, 2000},
		{"cache 16MiB", "", 16, true, 0, 2000, 2000},
		{"system 64MiB", "GTL_MALLOC=system", 64, false, 6 * 5 * 16384 * 9 / 10, 1 << 40, 1 << 40},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestAllocCache$", "-test.count=1")
			cmd.Env = append(os.Environ(), "GTL_ALLOC_CHILD="+strconv.Itoa(tc.mib), "GTL_MALLOC=")
			if tc.env != "" {
				cmd.Env = append(cmd.Env, tc.env)
			}
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("child: %v\n%s", err, out)
			}
			var installed bool
			var faults, grow, hits int64
			n := 0
			for _, l := range strings.Split(string(out), "\n") {
				if strings.HasPrefix(l, "alloc ") {
					n, _ = fmt.Sscanf(l, "alloc %t %d %d %d", &installed, &faults, &grow, &hits)
				}
			}
			if n != 4 {
				t.Fatalf("child printed no result:\n%s", out)
			}
			if installed != tc.installed {
				t.Errorf("AllocCache().Installed = %v, want %v", installed, tc.installed)
			}
			if tc.installed && hits < 6*5 {
				t.Errorf("cache hits %d, want ≥ 30 (every tensor of the last 6 steps)", hits)
			}
			if faults < tc.minFaults || faults > tc.maxFaults {
				t.Errorf("last 6 steps: %d minor faults, want %d..%d", faults, tc.minFaults, tc.maxFaults)
			}
			if grow > tc.maxRSSGrow {
				t.Errorf("last 6 steps: resident memory grew %d pages, want ≤ %d", grow, tc.maxRSSGrow)
			}
		})
	}
}

func residentPages() int64 {
	b, _ := os.ReadFile("/proc/self/statm")
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return -1
	}
	n, _ := strconv.ParseInt(f[1], 10, 64)
	return n
}

// allocChild runs 12 steps of a chain of five tensors of GTL_ALLOC_CHILD
// MiB and prints whether the cache is installed, the minor page faults and
// the growth of resident memory (pages) over the last 6 steps, and the
// cache's hits.
func allocChild() {
	mib, _ := strconv.Atoi(os.Getenv("GTL_ALLOC_CHILD"))
	var faults, grow int64
	err := Do(func() error {
		shape := []int64{int64(mib) << 18}
		var a, b syscall.Rusage
		var rss0 int64
		for i := 0; i < 12; i++ {
			if i == 6 {
				_ = syscall.Getrusage(syscall.RUSAGE_SELF, &a)
				rss0 = residentPages()
			}
			x, err := ts.Ones(shape, gotch.Float, gotch.CPU)
			if err != nil {
				return err
			}
			for j := 0; j < 4; j++ {
				y, err := x.MulScalar(ts.FloatScalar(2), false)
				if err != nil {
					return err
				}
				if err := x.Drop(); err != nil {
					return err
				}
				x = y
			}
			if err := x.Drop(); err != nil {
				return err
			}
		}
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &b)
		faults, grow = b.Minflt-a.Minflt, residentPages()-rss0
		return nil
	})
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	s := AllocCache()
	fmt.Printf("alloc %t %d %d %d\n", s.Installed, faults, grow, s.Hits)
}

// TestAllocCacheFlush checks the cache's cap: blocks of sizes that no
// longer repeat (a grid's next run, another model) fill it, and the block
// that would take it past 1 GiB first empties it, so the cache keeps the
// newest sizes and stays under the cap. The blocks are never touched
// (ts.Empty), so no memory is faulted in.
func TestAllocCacheFlush(t *testing.T) {
	if !AllocCache().Installed {
		t.Skip("allocator cache not installed (GTL_MALLOC=system)")
	}
	before := AllocCache()
	sizes := []int64{300, 301, 302, 303, 304} // MiB: 1,510 in all, past the 1 GiB cap
	err := Do(func() error {
		for _, mib := range sizes {
			x, err := ts.Empty([]int64{mib << 18}, gotch.Float, gotch.CPU)
			if err != nil {
				return err
			}
			if err := x.Drop(); err != nil {
				return err
			}
			if c := AllocCache().Cached; c > 1<<30 {
				return fmt.Errorf("after freeing %d MiB: %d bytes cached, want ≤ 1 GiB", mib, c)
			}
		}
		// The newest size is still cached: asking for it again is a hit.
		hits := AllocCache().Hits
		x, err := ts.Empty([]int64{sizes[len(sizes)-1] << 18}, gotch.Float, gotch.CPU)
		if err != nil {
			return err
		}
		if got := AllocCache().Hits - hits; got != 1 {
			return fmt.Errorf("the newest size again: %d hits, want 1", got)
		}
		return x.Drop()
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := AllocCache().Flushes - before.Flushes; got < 1 {
		t.Errorf("%d flushes after %v MiB of distinct sizes, want ≥ 1", got, sizes)
	}
}
