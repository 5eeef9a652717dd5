package npy

import (
	"os/exec"
	"path/filepath"
	"testing"
)

// TestNonFinite: NaN and ±Inf in arrays NumPy writes are counted and the
// first is located by its index, as NumPy's np.argwhere(~np.isfinite(a))[0]
// gives it.
func TestNonFinite(t *testing.T) {
	if err := exec.Command("/usr/bin/python3", "-c", "import numpy").Run(); err != nil {
		t.Skip("no /usr/bin/python3 with numpy")
	}
	dir := t.TempDir()
	script := `
import numpy as np, sys
d = sys.argv[1]
a = np.zeros((2, 3, 4, 5), np.float32); a[1, 2, 3, 4] = np.nan; a[0, 1, 0, 2] = -np.inf; a[1, 0, 0, 0] = np.nan
np.save(d + "/f32.npy", a)
b = np.ones((3, 2)); b[2, 1] = np.inf
np.save(d + "/f64.npy", b)
np.save(d + "/fine.npy", np.full((2, 2), 3.4e38, np.float32))
np.save(d + "/int.npy", np.arange(6, dtype=np.int64))
`
	if out, err := exec.Command("/usr/bin/python3", "-c", script, dir).CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, c := range []struct {
		file string
		want string // String(); "" all finite
	}{
		{"f32.npy", "2 NaN and 1 Inf, first at [0, 1, 0, 2]"},
		{"f64.npy", "1 Inf, first at [2, 1]"},
		{"fine.npy", ""},
		{"int.npy", ""},
	} {
		t.Run(c.file, func(t *testing.T) {
			a, err := Read(filepath.Join(dir, c.file))
			if err != nil {
				t.Fatal(err)
			}
			n := a.NonFinite()
			got := ""
			if n.Count() > 0 {
				got = n.String()
			}
			if got != c.want {
				t.Errorf("NonFinite %q, want %q", got, c.want)
			}
		})
	}
}
