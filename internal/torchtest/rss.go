package torchtest

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"testing"
)

// RSSKiB returns this process's resident set size in KiB (VmRSS of
// /proc/self/status); it skips the test where /proc is missing.
func RSSKiB(t testing.TB) int {
	t.Helper()
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Skip("no /proc/self/status")
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			n, _ := strconv.Atoi(strings.Fields(v)[0])
			return n
		}
	}
	t.Fatal("no VmRSS in /proc/self/status")
	return 0
}
