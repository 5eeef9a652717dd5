package finetune

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/gtl-dev/gtl/torch"
	"github.com/gtl-dev/gtl/vision/augment"
	"github.com/gtl-dev/gtl/vision/loader"
	"github.com/gtl-dev/gtl/vision/transforms"
)

// trainBatch is one training batch on the model's device; step frees it.
type trainBatch struct {
	x, y    *ts.Tensor // images [n,C,H,W], labels [n]
	soft    *ts.Tensor // mixed label weights [n,K] (Mixup/CutMix), or nil
	n       int
	skipped []string // images that did not load (OnBadImage "skip")
}

func (b *trainBatch) free() {
	for _, t := range []*ts.Tensor{b.x, b.y, b.soft} {
		if t != nil {
			t.MustDrop()
		}
	}
}

// epochBatches yields the training batches of one epoch: next returns nil
// after the last.
type epochBatches interface {
	next() (*trainBatch, error)
	close()
}

// trainSource starts an epoch over the images of order (already shuffled
// and cut to whole batches) at its batch first (0-based; > 0 when a run
// resumes mid-epoch): the batches are those of the whole epoch from that
// one on, augmentation included.
type trainSource func(order []int, epoch, first int) epochBatches

// fromBatcher serves batches of an in-memory set built on the torch thread
// (no augmentation: each step's images are converted as they are).
func fromBatcher(b batcher, size int) trainSource {
	return func(order []int, epoch, first int) epochBatches {
		return &sliceBatches{b: b, order: order, size: size, at: min(first*size, len(order))}
	}
}

type sliceBatches struct {
	b     batcher
	order []int
	size  int
	at    int
}

func (s *sliceBatches) next() (*trainBatch, error) {
	if s.at >= len(s.order) {
		return nil, nil
	}
	idx := s.order[s.at:min(s.at+s.size, len(s.order))]
	s.at += len(idx)
	x, y, err := s.b(idx)
	if err != nil {
		return nil, err
	}
	return &trainBatch{x: x, y: y, n: len(idx)}, nil
}

func (s *sliceBatches) close() {}

// fromLoader serves batches that the loader's Go workers decode, augment
// and normalise ahead of the torch thread, which only copies them into
// tensors.
func fromLoader(l *loader.Loader, dev gotch.Device) trainSource {
	return func(order []int, epoch, first int) epochBatches {
		return &loaderBatches{l: l, it: l.EpochFrom(context.Background(), order, epoch, first), dev: dev}
	}
}

type loaderBatches struct {
	l   *loader.Loader
	it  *loader.Iter
	dev gotch.Device
}

func (lb *loaderBatches) next() (*trainBatch, error) {
	b, err := lb.it.Next()
	if errors.Is(err, io.EOF) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer lb.l.Release(b)
	out := &trainBatch{n: b.N, skipped: b.Skipped}
	if b.N == 0 {
		return out, nil
	}
	s := int64(lb.l.Config().Size)
	if out.x, err = torch.FromSlice(b.X[:b.N*3*int(s*s)], []int64{int64(b.N), 3, s, s}); err != nil {
		return nil, fmt.Errorf("finetune: batch tensor: %w", err)
	}
	if out.y, err = torch.FromSlice(b.Labels[:b.N], []int64{int64(b.N)}); err != nil {
		out.free()
		return nil, fmt.Errorf("finetune: label tensor: %w", err)
	}
	if b.Soft != nil {
		k := lb.l.Config().Classes // the width of a row of Soft
		if out.soft, err = torch.FromSlice(b.Soft[:b.N*k], []int64{int64(b.N), int64(k)}); err != nil {
			out.free()
			return nil, fmt.Errorf("finetune: soft label tensor: %w", err)
		}
	}
	if lb.dev.IsCuda() {
		for _, t := range []**ts.Tensor{&out.x, &out.y, &out.soft} {
			if *t == nil {
				continue
			}
			if *t, err = (*t).To(lb.dev, true); err != nil {
				out.free()
				return nil, fmt.Errorf("finetune: batch to %v: %w", lb.dev, err)
			}
		}
	}
	return out, nil
}

func (lb *loaderBatches) close() { lb.it.Close() }

// Augmentation is how the training images are varied; the zero value
// trains on them as they are.
type Augmentation struct {
	// Transform maps an image to one of the training size, e.g.
	// augment.Preset("light", size); nil: none.
	Transform augment.Pipeline
	Erase     *augment.RandomErasing // random erasing after normalisation; nil: none
	Mix       *augment.MixCutMix     // Mixup/CutMix per batch; nil: none
	// Workers decode and augment in parallel (default: one per CPU);
	// OnBadImage is "fail" (default) or "skip" (see loader.Config).
	Workers    int
	OnBadImage string
}

// Active reports whether a changes the training images at all.
func (a Augmentation) Active() bool { return len(a.Transform) > 0 || a.Erase != nil || a.Mix != nil }

// newLoader builds the loader of a training source with cfg's augmentation
// and normalisation at the given image size.
func newLoader(src loader.Source, classes, size int, cfg loop) (*loader.Loader, error) {
	a := cfg.Augment
	lc := loader.Config{BatchSize: cfg.Batch, Workers: a.Workers, Size: size, Classes: classes, OnBadImage: a.OnBadImage, Seed: cfg.Seed,
		MultiLabel: cfg.MultiLabel}
	for c := 0; c < 3; c++ {
		mean, std := cfg.Normalize.Channel(c)
		lc.Mean[c], lc.Std[c] = float32(mean), float32(std)
	}
	if len(a.Transform) > 0 {
		if err := a.Transform.Validate(); err != nil {
			return nil, fmt.Errorf("finetune: augmentation: %w", err)
		}
		lc.Transform = a.Transform.Apply
	} else {
		// No augmentation: the images are used as they are (already at the
		// training size, or resized and centre-cropped to it).
		lc.Transform = func(img transforms.RGB, _ *rand.Rand) transforms.RGB {
			if img.W == size && img.H == size {
				return img
			}
			return transforms.EvalPreset(size, size*8/7, transforms.Bilinear).Apply(img)
		}
	}
	if a.Erase != nil {
		if err := a.Erase.Validate(); err != nil {
			return nil, fmt.Errorf("finetune: random erasing: %w", err)
		}
		lc.Erase = a.Erase.EraseSquare
	}
	if a.Mix != nil {
		m := *a.Mix
		if m.Smoothing == 0 {
			m.Smoothing = cfg.LabelSmoothing
		}
		if err := m.Validate(); err != nil {
			return nil, fmt.Errorf("finetune: mixup/cutmix: %w", err)
		}
		lc.BatchMix = m.MixSoft
	}
	return loader.New(src, lc)
}
