package weights

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gtl-dev/gtl/internal/torchtest"
)

// pickleFixtures makes .pth files with Debian's python3-torch: real state
// dicts and checkpoints that must load, and pickles naming dangerous
// globals that must be refused. Each dangerous one would create the file
// "marker" if it ran.
const pickleFixtures = `
import collections, os, pickle, subprocess, sys, torch
d = sys.argv[1]
marker = os.path.join(d, "marker")
torch.manual_seed(0)
m = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.Flatten(), torch.nn.Linear(4, 2))
sd = m.state_dict()
torch.save(sd, os.path.join(d, "zip.pth"))
torch.save(sd, os.path.join(d, "legacy.pth"), _use_new_zipfile_serialization=False)
torch.save({"w": torch.nn.Parameter(torch.ones(2, 3)), "b": torch.zeros(3, dtype=torch.float64)}, os.path.join(d, "params.pth"))
opt = torch.optim.Adam(m.parameters(), lr=0.01)
m(torch.randn(2, 3, 3, 3)).sum().backward()
opt.step()
torch.save({"epoch": 3, "global_step": 120, "pytorch-lightning_version": "1.9.0",
	"state_dict": collections.OrderedDict(("model." + k, v) for k, v in sd.items()),
	"optimizer_states": [opt.state_dict()], "lr_schedulers": [], "callbacks": {},
	"hparams_name": "kwargs",
	"hyper_parameters": {"lr": 0.01, "layers": (1, 2), "tags": {"a", "b"}, "frozen": frozenset([1]),
		"blob": b"\x00\x01", "buf": bytearray(b"xy"), "none": None, "big": 2**70, "f": 1.5}},
	os.path.join(d, "lightning.pth"))
class Evil:
	def __init__(self, fn, args): self.fn, self.args = fn, args
	def __reduce__(self): return (self.fn, self.args)
evil = {
	"os_system": Evil(os.system, ("touch " + marker,)),
	"builtins_eval": Evil(eval, ("__import__('os').system('touch %s')" % marker,)),
	"subprocess_popen": Evil(subprocess.Popen, (["touch", marker],)),
}
for name, e in evil.items():
	torch.save({"x": torch.ones(1), "y": e}, os.path.join(d, name + ".pth"))
	with open(os.path.join(d, name + "_p4.pth"), "wb") as f:
		pickle.dump({"y": e}, f, protocol=4)
`

func TestPickleAllowlist(t *testing.T) {
	if err := exec.Command("/usr/bin/python3", "-c", "import torch").Run(); err != nil {
		t.Skipf("python3-torch not installed (scripts/parity/setup.sh): %v", err)
	}
	dir := t.TempDir()
	if out, err := exec.Command("/usr/bin/python3", "-c", pickleFixtures, dir).CombinedOutput(); err != nil {
		t.Fatalf("making fixtures: %v\n%s", err, out)
	}
	for _, c := range []struct {
		file  string
		want  string // error substring; "" loads
		count int    // tensors when it loads
	}{
		{"zip.pth", "", 9},
		{"legacy.pth", "", 9},
		{"params.pth", "", 2},
		{"lightning.pth", "", 9},
		{"os_system.pth", "refusing to load: the pickle names posix.system", 0},
		{"os_system_p4.pth", "refusing to load: the pickle names posix.system", 0},
		{"builtins_eval.pth", "refusing to load: the pickle names __builtin__.eval", 0},
		{"builtins_eval_p4.pth", "refusing to load: the pickle names builtins.eval", 0},
		{"subprocess_popen.pth", "refusing to load: the pickle names commands.Popen", 0}, // protocol 2 writes Python 2's name,
		{"subprocess_popen_p4.pth", "refusing to load: the pickle names subprocess.Popen", 0},
	} {
		t.Run(c.file, func(t *testing.T) {
			p := filepath.Join(dir, c.file)
			torchtest.Do(t, func() error {
				m, err := ReadPth(p)
				defer DropAll(m)
				if c.want == "" {
					if err != nil {
						t.Errorf("ReadPth: %v", err)
					} else if len(m) != c.count {
						t.Errorf("%d tensors, want %d", len(m), c.count)
					}
					return nil
				}
				if err := checkErr(err, p, c.want); err != nil {
					t.Error(err)
				}
				var refused *PickleRefusedError
				if !errors.As(err, &refused) {
					t.Errorf("error %v is not a PickleRefusedError", err)
				}
				return nil
			})
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "marker")); err == nil {
		t.Fatal("a refused pickle ran")
	}
}

// TestScanPickleBytes: hand-written pickles, each one opcode away from a
// valid one.
func TestScanPickleBytes(t *testing.T) {
	for _, c := range []struct {
		name, data, want string
	}{
		{"empty dict", "\x80\x02}q\x00.", ""},
		{"global ok", "\x80\x02ccollections\nOrderedDict\nq\x00)Rq\x01.", ""},
		{"global refused", "\x80\x02cos\nsystem\nq\x00X\x02\x00\x00\x00lsq\x01\x85q\x02Rq\x03.", "names os.system"},
		{"stack global refused", "\x80\x04\x95\x00\x00\x00\x00\x00\x00\x00\x00\x8c\x08builtins\x94\x8c\x04eval\x94\x93\x94.", "names builtins.eval"},
		{"stack global via memo", "\x80\x04\x8c\x08builtins\x94\x8c\x04exec\x94h\x00h\x01\x93.", "names builtins.exec"},
		{"inst refused", "(cos\nsystem\nS'ls'\ni.", "names os.system"},
		{"inst form", "(S'ls'\nios\nsystem\n.", "names os.system"},
		{"ext code", "\x80\x02\x82\x01.", "extension registry"},
		{"truncated", "\x80\x02X\xff\x00\x00\x00ab", "truncated"},
		{"huge bytes8", "\x80\x04\x8e\xff\xff\xff\xff\xff\xff\x00\x00.", "truncated"},
		{"no stop", "\x80\x02}", "truncated"},
		{"underflow", "\x80\x02s.", "stack underflow"},
		{"unknown op", "\x80\x02\x00.", "unknown opcode"},
		{"lying frame", "\x80\x04\x95\xff\xff\x00\x00\x00\x00\x00\x00}.", "frame"},
		{"memo miss", "\x80\x02h\x05.", "never stored"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := scanPickle(bufio.NewReader(strings.NewReader(c.data)))
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("error %v", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Fatalf("error %v, want %q", err, c.want)
			}
		})
	}
	_ = bytes.MinRead
}
