package finetune

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"hash/crc32"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// tbEvent is an Event message as the test's own reader decodes it.
type tbEvent struct {
	wall    float64
	step    int64
	version string
	scalars map[string]float32
}

// readEvents reads a TensorBoard event file with a decoder written here
// from the record format and event.proto (it shares no code with the
// writer): each record's length and data are checked against their masked
// CRC-32C.
func readEvents(t *testing.T, path string) []tbEvent {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	table := crc32.MakeTable(0x82f63b78) // Castagnoli, reversed
	masked := func(p []byte) uint32 {
		c := crc32.Checksum(p, table)
		return (c>>15 | c<<17) + 0xa282ead8
	}
	var out []tbEvent
	for len(b) > 0 {
		if len(b) < 12 {
			t.Fatalf("torn record header: %d bytes left", len(b))
		}
		n := binary.LittleEndian.Uint64(b)
		if masked(b[:8]) != binary.LittleEndian.Uint32(b[8:]) {
			t.Fatal("length CRC mismatch")
		}
		if uint64(len(b)) < 12+n+4 {
			t.Fatalf("record of %d bytes, %d left", n, len(b)-12)
		}
		data := b[12 : 12+n]
		if masked(data) != binary.LittleEndian.Uint32(b[12+n:]) {
			t.Fatal("data CRC mismatch")
		}
		out = append(out, decodeEvent(t, data))
		b = b[16+n:]
	}
	return out
}

// fields splits a protobuf message into (field number, wire type, value)
// triples: varints and fixed values as numbers, length-delimited as bytes.
func fields(t *testing.T, p []byte) (out []struct {
	num, typ int
	n        uint64
	b        []byte
}) {
	varint := func() uint64 {
		var v uint64
		for s := 0; ; s += 7 {
			if len(p) == 0 {
				t.Fatal("truncated varint")
			}
			c := p[0]
			p = p[1:]
			v |= uint64(c&0x7f) << s
			if c < 0x80 {
				return v
			}
		}
	}
	for len(p) > 0 {
		key := varint()
		f := struct {
			num, typ int
			n        uint64
			b        []byte
		}{num: int(key >> 3), typ: int(key & 7)}
		switch f.typ {
		case 0:
			f.n = varint()
		case 1:
			f.n, p = binary.LittleEndian.Uint64(p), p[8:]
		case 5:
			f.n, p = uint64(binary.LittleEndian.Uint32(p)), p[4:]
		case 2:
			l := varint()
			f.b, p = p[:l], p[l:]
		default:
			t.Fatalf("wire type %d", f.typ)
		}
		out = append(out, f)
	}
	return out
}

func decodeEvent(t *testing.T, p []byte) tbEvent {
	e := tbEvent{scalars: map[string]float32{}}
	for _, f := range fields(t, p) {
		switch f.num {
		case 1:
			e.wall = math.Float64frombits(f.n)
		case 2:
			e.step = int64(f.n)
		case 3:
			e.version = string(f.b)
		case 5: // Summary
			for _, v := range fields(t, f.b) {
				if v.num != 1 {
					continue
				}
				var tag string
				var val float32
				for _, vf := range fields(t, v.b) {
					switch vf.num {
					case 1:
						tag = string(vf.b)
					case 2:
						val = math.Float32frombits(uint32(vf.n))
					}
				}
				e.scalars[tag] = val
			}
		}
	}
	return e
}

// TestTensorBoard trains two epochs (validated every second) with a
// TensorBoard folder and reads the event file back: a version record,
// then one event per epoch whose scalars equal metrics.jsonl's (as
// float32), images/s from its seconds, and every group's rate at the
// epoch's last step (lower stages at their lr-decay ratio).
func TestTensorBoard(t *testing.T) {
	train, val := randomImages(16, 16, 3), randomImages(6, 16, 4)
	dir := t.TempDir()
	tb := filepath.Join(dir, "tb")
	spec := RunSpec{Model: ModelSpec{Arch: "resnet18"}, Data: DataSpec{ImageSize: 16}, Seed: 1, Out: filepath.Join(dir, "out"), TensorBoard: tb,
		Train: TrainSpec{Epochs: 2, Batch: 8, LR: 0.05, LRDecay: 0.5, Schedule: "cosine", EvalEvery: 2}}
	lastLR := map[int]float64{}
	env := RunEnv{Data: NewData(train, val, 16), Hooks: RunHooks{OnStep: func(s Step) { lastLR[s.Epoch] = s.LR }}}
	if _, err := Run(context.Background(), spec, env); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(tb, "events.out.tfevents.*"))
	if len(files) != 1 {
		t.Fatalf("event files %v", files)
	}
	host, _ := os.Hostname()
	if !strings.Contains(filepath.Base(files[0]), "."+host+".") {
		t.Errorf("file name %s lacks the host", files[0])
	}
	evs := readEvents(t, files[0])
	if len(evs) != 3 || evs[0].version != "brain.Event:2" || evs[0].wall < 1e9 {
		t.Fatalf("events %+v", evs)
	}
	f, err := os.Open(filepath.Join(spec.Out, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for i := 1; sc.Scan(); i++ {
		var m map[string]*float64
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatal(err)
		}
		ev := evs[i]
		if ev.step != int64(i) || ev.wall < evs[0].wall {
			t.Errorf("event %d: step %d", i, ev.step)
		}
		want := map[string]float32{"train_loss": float32(*m["train_loss"]), "images_per_sec": float32(16 / *m["seconds"])}
		for _, k := range []string{"val_loss", "val_accuracy"} {
			if m[k] != nil {
				want[k] = float32(*m[k])
			} else if _, ok := ev.scalars[k]; ok {
				t.Errorf("epoch %d: %s written without validation", i, k)
			}
		}
		if i == 1 && m["val_loss"] != nil {
			t.Errorf("epoch 1 validated (eval every 2)")
		}
		// resnet18's stages, head last: stage k below the head at 0.5^k.
		stages := []string{"stem", "layer1", "layer2", "layer3", "layer4", "head"}
		for k, st := range stages {
			want["lr/"+st] = float32(lastLR[i] * math.Pow(0.5, float64(len(stages)-1-k)))
		}
		if len(ev.scalars) != len(want) {
			t.Errorf("epoch %d: scalars %v, want the keys of %v", i, ev.scalars, want)
		}
		for k, v := range want {
			got, ok := ev.scalars[k]
			if !ok || math.Abs(float64(got-v)) > 1e-6*math.Abs(float64(v)) {
				t.Errorf("epoch %d %s: %v (present %v), want %v; scalars %v", i, k, got, ok, v, ev.scalars)
			}
		}
	}
}
