package weights

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sugarme/gotch/ts"

	"github.com/gtl-dev/gtl/internal/fuzzcount"
	"github.com/gtl-dev/gtl/torch"
)

// FuzzSafetensorsHeader: no header panics, and an accepted one describes
// tensors inside the file.
func FuzzSafetensorsHeader(f *testing.F) {
	st := func(hdr string, data int) []byte {
		var b bytes.Buffer
		binary.Write(&b, binary.LittleEndian, uint64(len(hdr)))
		b.WriteString(hdr)
		b.Write(make([]byte, data))
		return b.Bytes()
	}
	f.Add(st(`{"a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]}}`, 24))
	f.Add(st(`{"__metadata__":{"format":"pt"},"b":{"dtype":"BF16","shape":[],"data_offsets":[0,2]},"a":{"dtype":"U8","shape":[0],"data_offsets":[2,2]}}`, 2))
	f.Add(st(`{"a":{"dtype":"F32","shape":[100000,100000,100000],"data_offsets":[0,24]}}`, 24))
	f.Add(st(`{"a":{"dtype":"F64","shape":[1],"data_offsets":[0,8]},"b":{"dtype":"F64","shape":[1],"data_offsets":[4,12]}}`, 12))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, '{', '}'})
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzcount.Hit("FuzzSafetensorsHeader")
		h, err := parseSafetensorsHeader("f.safetensors", bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return
		}
		for _, tn := range h.Tensors {
			if tn.Begin < 0 || tn.End < tn.Begin || h.DataStart+tn.End > int64(len(data)) {
				t.Fatalf("tensor %q: [%d, %d] outside %d bytes", tn.Name, tn.Begin, tn.End, len(data))
			}
		}
	})
}

// FuzzScanPickle: the pickle vetting never panics or hangs, and what it
// passes names only allowed globals.
func FuzzScanPickle(f *testing.F) {
	for _, s := range []string{
		"\x80\x02ccollections\nOrderedDict\nq\x00)Rq\x01.",
		"\x80\x02cos\nsystem\nq\x00X\x02\x00\x00\x00lsq\x01\x85q\x02Rq\x03.",
		"\x80\x04\x95\x10\x00\x00\x00\x00\x00\x00\x00\x8c\x08builtins\x94\x8c\x04eval\x94\x93\x94.",
		"(S'ls'\nios\nsystem\n.",
		"\x80\x02}q\x00(X\x01\x00\x00\x00aq\x01ctorch._utils\n_rebuild_tensor_v2\nq\x02((X\x07\x00\x00\x00storageq\x03ctorch\nFloatStorage\nq\x04X\x01\x00\x00\x000q\x05X\x03\x00\x00\x00cpuq\x06K\x04tq\x07QK\x00K\x04\x85q\x08K\x01\x85q\x09\x89ccollections\nOrderedDict\nq\x0a)Rq\x0btq\x0cRq\x0du.",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzcount.Hit("FuzzScanPickle")
		res, err := scanPickle(bufio.NewReader(bytes.NewReader(data)))
		if err != nil {
			return
		}
		for _, g := range res.globals {
			if !PickleAllowed[g] {
				t.Fatalf("passed global %s", g)
			}
		}
	})
}

// FuzzReadPth: a .pth file (zip or legacy) never panics, hangs or makes gtl
// allocate a storage larger than the file holds.
func FuzzReadPth(f *testing.F) {
	dir := f.TempDir()
	if err := torch.Do(func() error {
		tensors, err := goFixture()
		if err != nil {
			return err
		}
		defer DropAll(tensors)
		p := filepath.Join(dir, "seed.pth")
		if err := WritePth(p, tensors); err != nil {
			return err
		}
		b, err := os.ReadFile(p)
		f.Add(b)
		return err
	}); err != nil {
		f.Fatal(err)
	}
	f.Add([]byte("\x80\x02\x8a\x0al\xfc\x9cF\xf9 j\xa8P\x19.\x80\x02M\xe9\x03.\x80\x02}q\x00.\x80\x02}q\x00.\x80\x02]q\x00."))
	f.Add([]byte{0x80, 0x02, ']', '.'})
	p := filepath.Join(dir, "f.pth")
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzcount.Hit("FuzzReadPth")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		var err error
		if terr := torch.Do(func() error {
			var m map[string]*ts.Tensor
			m, err = ReadPth(p)
			DropAll(m)
			return nil
		}); terr != nil {
			t.Fatal(terr)
		}
		if err != nil && (strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), p)) {
			t.Fatalf("error %q: want one line naming the file", err)
		}
	})
}
