package finetune

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
)

// TensorBoardHook writes a run's scalars as a TensorBoard event file
// (RunSpec.TensorBoard): one Event per epoch, at step = the epoch, with
// the tags
//
//	train_loss, val_loss, val_accuracy   as metrics.jsonl (val_* only on validated epochs)
//	images_per_sec                       training images of the epoch / its seconds
//	lr/<stage>                           the rate of each trainable stage at the epoch's last step
//
// The file is TensorFlow's record format (uint64 length, uint32 masked
// CRC-32C of the length, the data, uint32 masked CRC-32C of the data, all
// little-endian; mask ((c>>15)|(c<<17)) + 0xa282ead8) holding Event
// messages of tensorflow/core/util/event.proto (wall_time 1, step 2,
// file_version 3 = "brain.Event:2" in the first record, summary 5 with
// Summary.Value{tag 1, simple_value 2}), named as PyTorch's SummaryWriter
// names it: events.out.tfevents.<unix seconds>.<host>.<pid>.<n>.
type TensorBoardHook struct {
	f      *os.File
	path   string
	groups []Group
	head   float64 // the head group's base rate
	lr     float64 // the head's rate at the last step
	images int     // training images of the epoch so far
	err    error   // the first write error, returned by Close
}

var tbFiles atomic.Int64

// NewTensorBoardHook creates dir (when missing) and a new event file in it.
func NewTensorBoardHook(dir string) (*TensorBoardHook, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, FieldErrorf("TensorBoard", "{TensorBoard} %s: %w", dir, err)
	}
	host, _ := os.Hostname()
	if host == "" {
		host = "localhost"
	}
	name := fmt.Sprintf("events.out.tfevents.%010d.%s.%d.%d", time.Now().Unix(), host, os.Getpid(), tbFiles.Add(1)-1)
	path := filepath.Join(dir, name)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, FieldErrorf("TensorBoard", "{TensorBoard} %s: %w", dir, err)
	}
	h := &TensorBoardHook{f: f, path: path}
	var ev []byte
	ev = appendWallTime(ev, time.Now())
	ev = protowire.AppendTag(ev, 3, protowire.BytesType)
	ev = protowire.AppendString(ev, "brain.Event:2")
	if err := h.write(ev); err != nil {
		f.Close()
		return nil, err
	}
	return h, nil
}

// Path returns the event file's path.
func (h *TensorBoardHook) Path() string { return h.path }

// Hooks returns inner with the writer's calls before its own: OnStart
// learns the parameter groups, OnStep counts images and the rate,
// OnEpochEnd writes the epoch's scalars.
func (h *TensorBoardHook) Hooks(inner Hooks) Hooks {
	out := inner
	out.OnStart = func(p Plan) {
		h.groups = p.Groups
		if n := len(p.Groups); n > 0 {
			h.head = p.Groups[n-1].LR
		}
		if inner.OnStart != nil {
			inner.OnStart(p)
		}
	}
	out.OnStep = func(s Step) {
		h.images += s.Images
		h.lr = s.LR
		if inner.OnStep != nil {
			inner.OnStep(s)
		}
	}
	out.OnEpochEnd = func(e Epoch) error {
		if err := h.Epoch(e); err != nil {
			return err
		}
		if inner.OnEpochEnd != nil {
			return inner.OnEpochEnd(e)
		}
		return nil
	}
	return out
}

// Epoch writes e's scalars (see TensorBoardHook).
func (h *TensorBoardHook) Epoch(e Epoch) error {
	var sum []byte
	add := func(tag string, v float64) {
		if math.IsNaN(v) {
			return
		}
		var val []byte
		val = protowire.AppendTag(val, 1, protowire.BytesType)
		val = protowire.AppendString(val, tag)
		val = protowire.AppendTag(val, 2, protowire.Fixed32Type)
		val = protowire.AppendFixed32(val, math.Float32bits(float32(v)))
		sum = protowire.AppendTag(sum, 1, protowire.BytesType)
		sum = protowire.AppendBytes(sum, val)
	}
	add("train_loss", e.TrainLoss)
	add("val_loss", e.ValLoss)
	add("val_accuracy", e.ValAccuracy)
	if s := e.Duration.Seconds(); s > 0 && h.images > 0 {
		add("images_per_sec", float64(h.images)/s)
	}
	if h.head > 0 {
		seen := map[string]bool{} // a stage's groups (with and without weight decay) share its rate
		for _, g := range h.groups {
			if g.Trainable && !seen[g.Stage] {
				seen[g.Stage] = true
				add("lr/"+g.Stage, g.LR/h.head*h.lr)
			}
		}
	}
	h.images = 0
	var ev []byte
	ev = appendWallTime(ev, time.Now())
	ev = protowire.AppendTag(ev, 2, protowire.VarintType)
	ev = protowire.AppendVarint(ev, uint64(e.Epoch))
	ev = protowire.AppendTag(ev, 5, protowire.BytesType)
	ev = protowire.AppendBytes(ev, sum)
	return h.write(ev)
}

// Close closes the event file and returns the first error writing it.
func (h *TensorBoardHook) Close() error {
	if err := h.f.Close(); err != nil && h.err == nil {
		h.err = err
	}
	return h.err
}

func appendWallTime(b []byte, t time.Time) []byte {
	b = protowire.AppendTag(b, 1, protowire.Fixed64Type)
	return protowire.AppendFixed64(b, math.Float64bits(float64(t.UnixNano())/1e9))
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// maskedCRC is TensorFlow's masked CRC-32C (tensorflow/core/lib/hash/crc32c.h).
func maskedCRC(b []byte) uint32 {
	c := crc32.Checksum(b, castagnoli)
	return ((c >> 15) | (c << 17)) + 0xa282ead8
}

// write appends one record holding data.
func (h *TensorBoardHook) write(data []byte) error {
	rec := make([]byte, 0, len(data)+16)
	rec = binary.LittleEndian.AppendUint64(rec, uint64(len(data)))
	rec = binary.LittleEndian.AppendUint32(rec, maskedCRC(rec[:8]))
	rec = append(rec, data...)
	rec = binary.LittleEndian.AppendUint32(rec, maskedCRC(data))
	if _, err := h.f.Write(rec); err != nil {
		err = fmt.Errorf("finetune: tensorboard %s: %w", h.path, err)
		if h.err == nil {
			h.err = err
		}
		return err
	}
	return nil
}
