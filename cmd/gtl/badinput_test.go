package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"image"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// badCorpus writes the bad-input corpus of issue 13 under dir and returns
// its paths by name: weights that are empty, text, truncated, of the wrong
// dtype or shape, of another architecture or a pickled program; images
// that are empty, text, truncated, corrupt or a decompression bomb; .npy
// and IDX files whose headers lie; image folders holding one bad image.
func badCorpus(t *testing.T, dir string) map[string]string {
	t.Helper()
	p := map[string]string{}
	path := func(name string) string { p[name] = filepath.Join(dir, name); return p[name] }
	write := func(name string, data []byte) {
		if err := os.WriteFile(path(name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Weights: a good squeezenet1_1 checkpoint and one of mobilenet_v3_small.
	for _, m := range []struct{ name, arch, format string }{
		{"good.safetensors", "squeezenet1_1", "safetensors"}, {"other.safetensors", "mobilenet_v3_small", "safetensors"},
		{"other.pth", "mobilenet_v3_small", "pth"},
	} {
		if _, e, code := gtl("export", "-q", "--model", m.arch, "--num-classes", "3", "--format", m.format, "--out", path(m.name)); code != 0 {
			t.Fatalf("export %s: %s", m.name, e)
		}
	}
	good, err := os.ReadFile(p["good.safetensors"])
	if err != nil {
		t.Fatal(err)
	}
	write("empty.pth", nil)
	write("text.safetensors", []byte("these are not weights\n"))
	write("trunc.safetensors", good[:len(good)/2])
	n := binary.LittleEndian.Uint64(good[:8])
	var hdr map[string]json.RawMessage
	if err := json.Unmarshal(good[8:8+n], &hdr); err != nil {
		t.Fatal(err)
	}
	rewrite := func(name string, edit func(key string, e map[string]any) bool) {
		// The first tensor in name order that edit changes, never the
		// head's: training for other classes replaces a head whose shape
		// differs, which is right and no bad input.
		out := map[string]any{}
		keys := make([]string, 0, len(hdr))
		for k := range hdr {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		done := false
		for _, k := range keys {
			var e map[string]any
			json.Unmarshal(hdr[k], &e)
			if !done && k != "__metadata__" && !strings.HasPrefix(k, "classifier.") && edit(k, e) {
				done = true
			}
			out[k] = e
		}
		h, _ := json.Marshal(out)
		var b bytes.Buffer
		binary.Write(&b, binary.LittleEndian, uint64(len(h)))
		b.Write(h)
		b.Write(good[8+n:])
		write(name, b.Bytes())
	}
	rewrite("wrongdtype.safetensors", func(k string, e map[string]any) bool {
		if e["dtype"] == "F32" {
			e["dtype"] = "I32"
			return true
		}
		return false
	})
	rewrite("wrongshape.safetensors", func(k string, e map[string]any) bool {
		s, _ := e["shape"].([]any)
		if len(s) == 4 && s[0] != s[1] {
			e["shape"] = []any{s[1], s[0], s[2], s[3]}
			return true
		}
		return false
	})
	// A pickle that would run os.system, in a legacy-format file.
	write("evil.pth", []byte("\x80\x02cos\nsystem\nq\x00X\x05\x00\x00\x00touchq\x01\x85q\x02Rq\x03."))
	// A checkpoint description with an absurd crop size beside good weights.
	write("lying.safetensors", good)
	write("lying.json", []byte(`{"arch":"squeezenet1_1","num_classes":3,"preprocess":{"crop_size":100000000,"resize_size":256,"mean":[0.5,0.5,0.5],"std":[0.5,0.5,0.5]}}`))

	// Images.
	img := image.NewRGBA(image.Rect(0, 0, 40, 30))
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 13)
	}
	var jb, pb bytes.Buffer
	jpeg.Encode(&jb, img, nil)
	png.Encode(&pb, img)
	write("good.png", pb.Bytes())
	write("zero.jpg", nil)
	write("text.jpg", []byte("<html>not an image</html>\n"))
	write("trunc.jpg", jb.Bytes()[:jb.Len()/2])
	corrupt := append([]byte(nil), pb.Bytes()...)
	for i := len(corrupt) / 2; i < len(corrupt)/2+40; i++ {
		corrupt[i] ^= 0x5a
	}
	write("corrupt.png", corrupt)
	bomb := append([]byte(nil), pb.Bytes()...)
	copy(bomb[16:24], []byte{0, 0, 0xff, 0xff, 0, 0, 0xff, 0xff})
	write("bomb.png", bomb)
	// .npy batches.
	npyHdr := func(descr, shape string, data int) []byte {
		h := "{'descr': '" + descr + "', 'fortran_order': False, 'shape': (" + shape + "), }"
		h += strings.Repeat(" ", 63-(10+len(h))%64) + "\n"
		b := append([]byte("\x93NUMPY\x01\x00"), byte(len(h)), byte(len(h)>>8))
		return append(append(b, h...), make([]byte, data)...)
	}
	write("lie.npy", npyHdr("<f4", "100000, 100000, 100000", 64))
	write("wrongshape.npy", npyHdr("<f4", "2, 3", 24))
	write("wrongdtype.npy", npyHdr("<i4", "1, 3, 8, 8", 768))
	// Image folders with one bad image among good ones.
	for _, bad := range []string{"text.jpg", "trunc.jpg"} {
		root := path("folder-" + strings.TrimSuffix(bad, ".jpg"))
		for _, cls := range []string{"a", "b"} {
			os.MkdirAll(filepath.Join(root, cls), 0o755)
			for i := range 4 {
				os.WriteFile(filepath.Join(root, cls, string(rune('0'+i))+".png"), pb.Bytes(), 0o644)
			}
		}
		data, _ := os.ReadFile(p[bad])
		os.WriteFile(filepath.Join(root, "b", "bad-"+bad), data, 0o644)
	}
	// Fashion-MNIST IDX files whose headers claim far more than they hold.
	fm := path("fm-lie")
	os.MkdirAll(fm, 0o755)
	for _, split := range []string{"train", "t10k"} {
		var im, lb bytes.Buffer
		binary.Write(&im, binary.BigEndian, [4]uint32{0x803, 60000, 28, 28})
		im.Write(make([]byte, 100))
		binary.Write(&lb, binary.BigEndian, [2]uint32{0x801, 1 << 29})
		lb.Write(make([]byte, 10))
		os.WriteFile(filepath.Join(fm, split+"-images-idx3-ubyte"), im.Bytes(), 0o644)
		os.WriteFile(filepath.Join(fm, split+"-labels-idx1-ubyte"), lb.Bytes(), 0o644)
	}
	return p
}

// TestBadInputs runs gtl's commands on the bad-input corpus: each exits
// non-zero with exactly one stderr line naming the file or flag, no Go
// panic trace, and no output file (not even a temporary one) left behind.
func TestBadInputs(t *testing.T) {
	dir := t.TempDir()
	p := badCorpus(t, dir)
	outDir := filepath.Join(dir, "out")
	os.MkdirAll(outDir, 0o755)
	out := func(name string) string { return filepath.Join(outDir, name) }
	type tc struct {
		name string
		args []string
		env  map[string]string
		want string // in the stderr line: the file or flag at fault
		out  string // must not exist afterwards
	}
	var cases []tc
	// Every command that reads weights, on every bad weights file.
	weights := map[string]string{
		"empty.pth": "empty.pth", "text.safetensors": "text.safetensors", "trunc.safetensors": "trunc.safetensors",
		"wrongdtype.safetensors": "wrongdtype.safetensors", "wrongshape.safetensors": "wrongshape.safetensors",
		"other.safetensors": "other.safetensors", "other.pth": "other.pth", "evil.pth": "evil.pth", "lying.safetensors": "lying.json",
	}
	for file, want := range weights {
		w := p[file]
		cases = append(cases,
			tc{"predict/" + file, []string{"predict", "-q", "--model", "squeezenet1_1", "--weights", w, "--logits", out("l.npy"), p["good.png"]}, nil, want, out("l.npy")},
			tc{"export/" + file, []string{"export", "-q", "--model", "squeezenet1_1", "--weights", w, "--out", out("e.pth")}, nil, want, out("e.pth")},
			tc{"embed/" + file, []string{"embed", "-q", "--model", "squeezenet1_1", "--weights", w, "--data", p["folder-text"], "--out", out("emb.npy")}, nil, want, out("emb.npy")},
			tc{"train/" + file, []string{"train", "-q", "--model", "squeezenet1_1", "--weights", w, "--data", p["folder-text"], "--epochs", "1", "--image-size", "32", "--out", out("train")}, nil, want, out("train/last.safetensors")},
		)
	}
	// Images and batches for predict.
	for _, f := range []string{"zero.jpg", "text.jpg", "trunc.jpg", "corrupt.png", "bomb.png", "lie.npy", "wrongshape.npy", "wrongdtype.npy"} {
		cases = append(cases, tc{"predict/" + f, []string{"predict", "-q", "--weights", p["good.safetensors"], "--logits", out("l.npy"), p[f]}, nil, f, out("l.npy")})
	}
	// Folders holding a bad image.
	for _, f := range []string{"folder-text", "folder-trunc"} {
		bad := "bad-" + strings.TrimPrefix(f, "folder-") + ".jpg"
		cases = append(cases,
			tc{"embed/" + f, []string{"embed", "-q", "--weights", p["good.safetensors"], "--data", p[f], "--out", out("emb.npy")}, nil, bad, out("emb.npy")},
			tc{"eval/" + f, []string{"eval", "-q", "--weights", p["good.safetensors"], "--num-classes", "2", "--data", p[f], "--tta", "--out", out("ev")}, nil, bad, out("ev/report.json")},
			tc{"train/" + f, []string{"train", "-q", "--model", "squeezenet1_1", "--data", p[f], "--epochs", "1", "--image-size", "32", "--out", out("train")}, nil, bad, out("train/last.safetensors")},
		)
	}
	// IDX files with lying headers.
	fm := map[string]string{"GTL_FASHION_MNIST_DIR": p["fm-lie"]}
	cases = append(cases,
		tc{"eval/idx", []string{"eval", "-q", "--weights", p["good.safetensors"], "--out", out("cm.csv")}, fm, "t10k-images-idx3-ubyte", out("cm.csv")},
		tc{"train/idx", []string{"train", "--data", "fashion-mnist", "-q", "--model", "squeezenet1_1", "--epochs", "1", "--out", out("train")}, fm, "train-images-idx3-ubyte", out("train/last.safetensors")},
		tc{"embed/idx", []string{"embed", "-q", "--weights", p["good.safetensors"], "--data", "fashion-mnist", "--out", out("emb.npy")}, fm, "t10k-images-idx3-ubyte", out("emb.npy")},
		tc{"compare/idx", []string{"compare", "--data", "fashion-mnist", "-q", "--weights", p["good.safetensors"], "--classes", "0-2", "--out", out("cmp")}, fm, "idx", out("cmp/results.json")},
		tc{"recommend/idx", []string{"recommend", "--weights", p["good.safetensors"], "--data", "fashion-mnist", "--classes", "0-2"}, fm, "idx", ""},
	)
	// Unknown flags and bad values.
	for _, c := range []string{"predict", "embed", "export", "train", "eval", "compare", "recommend"} {
		cases = append(cases, tc{c + "/unknown-flag", []string{c, "--no-such-flag"}, nil, "no-such-flag", ""})
	}
	cases = append(cases,
		tc{"train/classes", []string{"train", "--data", "fashion-mnist", "-q", "--model", "squeezenet1_1", "--classes", "9-5", "--out", out("train")}, nil, "9-5", out("train/last.safetensors")},
		tc{"train/unfreeze-at", []string{"train", "--data", "fashion-mnist", "-q", "--model", "squeezenet1_1", "--unfreeze-at", "x", "--out", out("train")}, nil, "--unfreeze-at", out("train/last.safetensors")},
		tc{"train/freeze", []string{"train", "--data", "fashion-mnist", "-q", "--model", "squeezenet1_1", "--weights", p["good.safetensors"], "--freeze", "lots", "--out", out("train")}, nil, "--freeze", out("train/last.safetensors")},
		tc{"train/save-every", []string{"train", "--data", "fashion-mnist", "-q", "--model", "squeezenet1_1", "--save-every", "-2", "--out", out("train")}, nil, "--save-every -2: want a number of epochs", out("train/config.json")},
		tc{"train/checkpoint-every", []string{"train", "--data", "fashion-mnist", "-q", "--model", "squeezenet1_1", "--checkpoint-every", "-1", "--out", out("train")}, nil, "--checkpoint-every -1: want a number of steps", out("train/config.json")},
		tc{"compare/shots", []string{"compare", "--data", "fashion-mnist", "-q", "--weights", p["good.safetensors"], "--shots", "5,-1", "--out", out("cmp")}, nil, "-1", out("cmp/results.json")},
		tc{"compare/strategies", []string{"compare", "--data", "fashion-mnist", "-q", "--weights", p["good.safetensors"], "--strategies", "linear,bogus", "--out", out("cmp")}, nil, "bogus", out("cmp/results.json")},
		tc{"predict/top-k", []string{"predict", "-q", "--weights", p["good.safetensors"], "--top-k", "-3", p["wrongdtype.npy"]}, nil, "--top-k", ""},
		tc{"export/format", []string{"export", "-q", "--weights", p["good.safetensors"], "--format", "tflite", "--out", out("e.tflite")}, nil, "tflite", out("e.tflite")},
		tc{"eval/class-count", []string{"eval", "-q", "--weights", p["good.safetensors"], "--data", p["folder-text"], "--out", out("ev")}, nil, "folder-text has 2 classes", out("ev/report.json")},
		tc{"eval/split", []string{"eval", "-q", "--weights", p["good.safetensors"], "--data", p["folder-text"], "--split", "val"}, nil, "--split val", ""},
		tc{"eval/image-size", []string{"eval", "-q", "--weights", p["good.safetensors"], "--num-classes", "2", "--data", p["folder-text"], "--image-size", "-4"}, nil, "--image-size -4", ""},
		tc{"predict/tta-logits", []string{"predict", "-q", "--weights", p["good.safetensors"], "--tta", "--logits", out("l.npy"), p["good.png"]}, nil, "--logits", out("l.npy")},
		tc{"predict/missing", []string{"predict", "-q", "--weights", p["good.safetensors"], filepath.Join(dir, "missing.jpg")}, nil, "missing.jpg", ""},
	)
	if testing.Short() {
		// The weights × command matrix is the slow part: keep predict's
		// and one training command's rows.
		var keep []tc
		for _, c := range cases {
			if !strings.HasPrefix(c.name, "embed/") && !strings.HasPrefix(c.name, "export/") || !strings.Contains(c.name, ".") {
				keep = append(keep, c)
			}
		}
		cases = keep
	}
	t.Logf("%d bad-input cases", len(cases))
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			stdout, stderr, code := gtl(c.args...)
			lines := strings.Split(strings.TrimRight(stderr, "\n"), "\n")
			switch {
			case code == 0:
				t.Fatalf("exit 0, want an error\nstdout: %s\nstderr: %s", stdout, stderr)
			case strings.Contains(stderr, "goroutine") || strings.Contains(stderr, "panic"):
				t.Fatalf("a panic reached the user:\n%s", stderr)
			case len(lines) != 1:
				t.Errorf("stderr has %d lines, want one:\n%s", len(lines), stderr)
			case !strings.Contains(stderr, c.want):
				t.Errorf("exit %d: stderr does not name %q:\n%s\nstdout: %s", code, c.want, stderr, stdout)
			}
			if c.out != "" {
				if _, err := os.Stat(c.out); err == nil {
					t.Errorf("%s was written", c.out)
				}
			}
			filepath.Walk(outDir, func(f string, info os.FileInfo, err error) error {
				if err == nil && strings.Contains(filepath.Base(f), ".tmp") {
					t.Errorf("temporary file %s left behind", f)
				}
				return nil
			})
			os.RemoveAll(outDir)
			os.MkdirAll(outDir, 0o755)
		})
	}
}
