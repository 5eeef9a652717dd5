package loader

import (
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"

	"github.com/gtl-dev/gtl/vision/transforms"
)

// Config sets up a [Loader]. The zero value of every field means its
// default.
type Config struct {
	// BatchSize is the number of images per batch (the last may hold
	// fewer). Default 64.
	BatchSize int
	// Workers is the number of goroutines preparing batches, each one batch
	// at a time. Default runtime.NumCPU(), at least 1.
	Workers int
	// Prefetch is how many batches may be prepared (or being prepared)
	// ahead of the one the caller holds. Default 2×Workers; fewer than
	// Workers leaves workers idle. Each costs a batch buffer
	// (BatchSize·3·Size²·4 bytes: 38.5 MB for 64 at 224). Workers wait
	// when it is reached, so a slow consumer is not slowed further.
	Prefetch int
	// Crop, if set, picks the window of each image to keep before
	// Transform (a random resized crop's window, say), drawing from the
	// image's generator; sources that are CropLoaders (FromFiles) then
	// decode only that window: the same pixels, less work. Default: the
	// whole image.
	Crop func(w, h int, r *rand.Rand) image.Rectangle
	// Transform turns a decoded image into a Size×Size one, drawing any
	// randomness from r (seeded per image, so it must use no other
	// source). Default: evaluation resize of the shorter side to Size·8/7
	// (256 for 224) and centre crop, bilinear, as torchvision's presets.
	Transform func(img transforms.RGB, r *rand.Rand) transforms.RGB
	// Size is the side of the square images in a batch. Default 224.
	Size int
	// Mean and Std normalise each channel after scaling to [0, 1].
	// Default (both zero): ImageNet's statistics.
	Mean, Std [3]float32
	// Erase, if set, changes one normalised image in place (chw holds
	// 3×size×size values), drawing from the image's generator after
	// Transform: random erasing, e.g. augment.RandomErasing.EraseSquare.
	Erase func(chw []float32, size int, r *rand.Rand)
	// BatchMix, if set, mixes a batch in place: x holds n images of
	// 3×size×size, soft n rows of classes label weights (one-hot when
	// called), r is the batch's generator: MixUp / CutMix, e.g.
	// augment.MixCutMix.MixSoft. Batches then carry Soft.
	BatchMix func(x, soft []float32, n, size, classes int, r *rand.Rand)
	// Classes is the length of a row of Batch.Soft. Default: the largest
	// label in the source plus one. Used only with BatchMix or MultiLabel.
	Classes int
	// MultiLabel gives every batch Soft: the multi-hot rows of its images'
	// classes (the source must be a TagSource), mixed by BatchMix when
	// set; default false.
	MultiLabel bool
	// OnBadImage says what an image that does not load does: "fail"
	// (default) ends the epoch with an error naming it; "skip" leaves it
	// out of its batch and lists it in Batch.Skipped.
	OnBadImage string
	// Seed seeds all augmentation and mixing. Default 0 (a seed like any
	// other).
	Seed uint64
}

// resolve fills in defaults and checks the values.
func (c Config) resolve(src Source) (Config, error) {
	if c.BatchSize == 0 {
		c.BatchSize = 64
	}
	if c.Workers == 0 {
		c.Workers = max(runtime.NumCPU(), 1)
	}
	if c.Prefetch == 0 {
		c.Prefetch = 2 * c.Workers
	}
	if c.Size == 0 {
		c.Size = 224
	}
	if c.Mean == ([3]float32{}) && c.Std == ([3]float32{}) {
		c.Mean, c.Std = transforms.ImageNetMean, transforms.ImageNetStd
	}
	if c.Transform == nil {
		eval := transforms.EvalPreset(c.Size, c.Size*8/7, transforms.Bilinear)
		c.Transform = func(img transforms.RGB, _ *rand.Rand) transforms.RGB { return eval.Apply(img) }
	}
	if c.OnBadImage == "" {
		c.OnBadImage = "fail"
	}
	if c.MultiLabel {
		if _, ok := src.(TagSource); !ok {
			return c, fmt.Errorf("loader: multi-label: the source carries no tags")
		}
		if c.Classes <= 0 {
			return c, fmt.Errorf("loader: multi-label: Classes %d, want the number of classes", c.Classes)
		}
		for i := range src.Len() {
			if src.(TagSource).Tags(i) == nil {
				return c, fmt.Errorf("loader: multi-label: %s carries no tags", src.Name(i))
			}
		}
	}
	if c.BatchMix != nil && c.Classes == 0 {
		for i := range src.Len() {
			c.Classes = max(c.Classes, src.Label(i)+1)
		}
	}
	switch {
	case c.BatchSize < 0:
		return c, fmt.Errorf("loader: batch size %d, want at least 1", c.BatchSize)
	case c.Workers < 0:
		return c, fmt.Errorf("loader: workers %d, want at least 1", c.Workers)
	case c.Prefetch < 0:
		return c, fmt.Errorf("loader: prefetch %d, want at least 1", c.Prefetch)
	case c.Size < 0:
		return c, fmt.Errorf("loader: size %d, want at least 1", c.Size)
	case c.OnBadImage != "fail" && c.OnBadImage != "skip":
		return c, fmt.Errorf("loader: on bad image %q, want \"fail\" or \"skip\"", c.OnBadImage)
	case c.Classes < 0:
		return c, fmt.Errorf("loader: classes %d, want at least 1", c.Classes)
	}
	for ch, s := range c.Std {
		if s == 0 {
			return c, fmt.Errorf("loader: std of channel %d is 0", ch)
		}
	}
	return c, nil
}

// Batch is a prepared batch. Its buffers belong to the loader once given
// back with [Loader.Release].
type Batch struct {
	// X holds N normalised images, [N,3,Size,Size] row-major.
	X []float32
	// Labels holds the class of each image.
	Labels []int64
	// Soft holds [N,Classes] label weights after BatchMix, or the
	// multi-hot rows (mixed by BatchMix) with MultiLabel; nil without
	// either.
	Soft []float32
	tags [][]int // the classes of each image, with MultiLabel
	// N is the number of images: the batch's share of the order, less
	// Skipped.
	N int
	// Index is the batch's position in the epoch (0-based).
	Index int
	// Skipped names the images left out because they did not load
	// (OnBadImage "skip").
	Skipped []string
}

// Loader prepares batches of a source; it may run several epochs, one
// after another or (with separate iterators) at once.
type Loader struct {
	src Source
	cfg Config

	mu   sync.Mutex
	free []*Batch
}

// New returns a loader of src.
func New(src Source, cfg Config) (*Loader, error) {
	c, err := cfg.resolve(src)
	if err != nil {
		return nil, err
	}
	return &Loader{src: src, cfg: c}, nil
}

// Config returns the configuration with defaults filled in.
func (l *Loader) Config() Config { return l.cfg }

// NumBatches returns the number of batches an epoch of n images has.
func (l *Loader) NumBatches(n int) int { return (n + l.cfg.BatchSize - 1) / l.cfg.BatchSize }

// Release gives a batch's buffers back for reuse; b must not be used after.
func (l *Loader) Release(b *Batch) {
	if b == nil {
		return
	}
	l.mu.Lock()
	l.free = append(l.free, b)
	l.mu.Unlock()
}

// get returns an empty batch, reusing a released one when there is one.
func (l *Loader) get() *Batch {
	l.mu.Lock()
	var b *Batch
	if n := len(l.free); n > 0 {
		b, l.free = l.free[n-1], l.free[:n-1]
	}
	l.mu.Unlock()
	plane := 3 * l.cfg.Size * l.cfg.Size
	if b == nil || cap(b.X) < l.cfg.BatchSize*plane {
		b = &Batch{X: make([]float32, 0, l.cfg.BatchSize*plane), Labels: make([]int64, 0, l.cfg.BatchSize)}
	}
	b.X, b.Labels, b.Soft, b.N, b.Skipped, b.tags = b.X[:0], b.Labels[:0], b.Soft[:0], 0, b.Skipped[:0], b.tags[:0]
	return b
}

// mix64 is SplitMix64's finaliser: it spreads a counter over 64 bits.
func mix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// imageSeed and batchSeed are the first PCG seed words of an epoch's
// per-image and per-batch generators; the image or batch index is the
// second.
func imageSeed(seed uint64, epoch int) uint64 { return seed ^ mix64(uint64(epoch)<<1) }
func batchSeed(seed uint64, epoch int) uint64 { return seed ^ mix64(uint64(epoch)<<1|1) }

// Iter delivers the batches of one epoch in order. One goroutine at a
// time may call Next; Close may not run at the same time as Next.
type Iter struct {
	l       *Loader
	ctx     context.Context
	cancel  context.CancelFunc
	pending chan chan result // one per dispatched batch, in order
	tokens  chan struct{}    // a batch in flight holds one
	wg      sync.WaitGroup
	err     error
}

type result struct {
	b   *Batch
	err error
}

type job struct {
	k   int
	out chan result
}

// Epoch starts preparing the batches of one epoch: batch k holds the
// images order[k·BatchSize : (k+1)·BatchSize] (less skipped ones); epoch
// seeds the augmentation. Call Close on the iterator when done with it
// early.
func (l *Loader) Epoch(order []int, epoch int) *Iter {
	return l.EpochContext(context.Background(), order, epoch)
}

// EpochContext is [Loader.Epoch] that stops when ctx is done.
func (l *Loader) EpochContext(ctx context.Context, order []int, epoch int) *Iter {
	return l.EpochFrom(ctx, order, epoch, 0)
}

// EpochFrom is [Loader.EpochContext] that starts at batch first (0-based):
// the batches it delivers are those that EpochContext delivers from that
// one on, the same images with the same random draws, so that an epoch
// interrupted after first batches can be resumed where it stopped. A first
// at or beyond the epoch's batch count delivers none.
func (l *Loader) EpochFrom(ctx context.Context, order []int, epoch, first int) *Iter {
	ctx, cancel := context.WithCancel(ctx)
	it := &Iter{l: l, ctx: ctx, cancel: cancel,
		pending: make(chan chan result, l.cfg.Prefetch+1),
		tokens:  make(chan struct{}, l.cfg.Prefetch)}
	for _, i := range order {
		if i < 0 || i >= l.src.Len() {
			it.err = fmt.Errorf("loader: order holds image %d, source has %d", i, l.src.Len())
			close(it.pending)
			cancel()
			return it
		}
	}
	order = append([]int(nil), order...) // the caller may reuse its slice
	// An image listed again (oversampling) gets fresh draws: its n-th
	// listing's generator also mixes in n.
	var repeat []int
	seen := make([]int32, l.src.Len())
	for k, i := range order {
		if seen[i] > 0 && repeat == nil {
			repeat = make([]int, len(order))
		}
		if repeat != nil {
			repeat[k] = int(seen[i])
		}
		seen[i]++
	}
	nb := l.NumBatches(len(order))
	jobs := make(chan job)
	it.wg.Add(1 + l.cfg.Workers)
	go func() { // dispatcher: hands out batches in order, Prefetch at a time
		defer it.wg.Done()
		defer close(jobs)
		defer close(it.pending)
		for k := max(first, 0); k < nb; k++ {
			select {
			case it.tokens <- struct{}{}:
			case <-ctx.Done():
				return
			}
			out := make(chan result, 1)
			it.pending <- out // never blocks: at most Prefetch tokens are out
			select {
			case jobs <- job{k, out}:
			case <-ctx.Done():
				return
			}
		}
	}()
	for range l.cfg.Workers {
		go func() {
			defer it.wg.Done()
			w := newWorker()
			for j := range jobs {
				lo, hi := j.k*l.cfg.BatchSize, min((j.k+1)*l.cfg.BatchSize, len(order))
				var rep []int
				if repeat != nil {
					rep = repeat[lo:hi]
				}
				b, err := l.fill(ctx, w, epoch, j.k, order[lo:hi], rep)
				j.out <- result{b, err}
			}
		}()
	}
	return it
}

// Next returns the next batch, or io.EOF after the last one. After an
// error (or Close) the iterator is closed and returns that error again.
func (it *Iter) Next() (*Batch, error) {
	if it.err != nil {
		return nil, it.err
	}
	if it.ctx.Err() != nil { // a batch may be ready too: cancelling wins
		return nil, it.fail(nil)
	}
	var out chan result
	var ok bool
	select {
	case out, ok = <-it.pending:
	case <-it.ctx.Done():
	}
	if !ok {
		if it.ctx.Err() != nil {
			return nil, it.fail(nil)
		}
		return nil, it.fail(io.EOF)
	}
	var r result
	select {
	case r = <-out:
	case <-it.ctx.Done():
		return nil, it.fail(nil)
	}
	<-it.tokens
	if r.err != nil {
		it.l.Release(r.b)
		if it.ctx.Err() != nil {
			return nil, it.fail(nil)
		}
		return nil, it.fail(r.err)
	}
	return r.b, nil
}

// fail ends the iteration with err (nil: why the context ended).
func (it *Iter) fail(err error) error {
	if err == nil {
		err = fmt.Errorf("loader: %w", context.Cause(it.ctx))
	}
	it.err = err
	it.Close()
	return err
}

// Close stops the workers and waits for them to return; batches prepared
// but not delivered go back to the pool. It is safe to call more than
// once; Next then returns an error.
func (it *Iter) Close() {
	it.cancel()
	it.wg.Wait()
	for out := range it.pending { // closed once the dispatcher returned
		select {
		case r := <-out:
			it.l.Release(r.b)
		default:
		}
	}
	if it.err == nil {
		it.err = errors.New("loader: iterator closed")
	}
}

// worker holds one goroutine's reusable state.
type worker struct {
	pcg *rand.PCG
	r   *rand.Rand
}

func newWorker() *worker {
	pcg := rand.NewPCG(0, 0)
	return &worker{pcg: pcg, r: rand.New(pcg)}
}

// fill prepares batch k of the given images; repeat (nil: all 0) says
// how many times each was listed before in the epoch.
func (l *Loader) fill(ctx context.Context, w *worker, epoch, k int, idx, repeat []int) (b *Batch, err error) {
	c := l.cfg
	b = l.get()
	b.Index = k
	plane := 3 * c.Size * c.Size
	cur := -1
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("loader: image %d (%s): panic: %v", idx[cur], l.src.Name(idx[cur]), p)
		}
	}()
	var scale, shift [3]float32
	for ch := range 3 {
		scale[ch], shift[ch] = 1/(255*c.Std[ch]), c.Mean[ch]/c.Std[ch]
	}
	for cur = range idx {
		if err := ctx.Err(); err != nil {
			return b, err
		}
		i := idx[cur]
		s1 := imageSeed(c.Seed, epoch)
		if repeat != nil && repeat[cur] > 0 {
			s1 ^= mix64(uint64(repeat[cur]) + 0x5eed)
		}
		w.pcg.Seed(s1, uint64(i))
		var img transforms.RGB
		if c.Crop != nil {
			img, err = loadCrop(l.src, i, func(wd, ht int) image.Rectangle { return c.Crop(wd, ht, w.r) })
		} else {
			img, err = l.src.Load(i)
		}
		if err != nil {
			if c.OnBadImage == "skip" {
				b.Skipped = append(b.Skipped, l.src.Name(i))
				continue
			}
			if name := l.src.Name(i); !strings.Contains(err.Error(), name) {
				return b, fmt.Errorf("loader: image %d (%s): %w", i, name, err)
			}
			return b, fmt.Errorf("loader: image %d: %w", i, err)
		}
		img = c.Transform(img, w.r)
		if img.W != c.Size || img.H != c.Size || len(img.Pix) != 3*c.Size*c.Size {
			return b, fmt.Errorf("loader: image %d (%s): transform gave %dx%d, want %dx%d", i, l.src.Name(i), img.W, img.H, c.Size, c.Size)
		}
		x := b.X[len(b.X) : len(b.X)+plane]
		b.X = b.X[:len(b.X)+plane]
		normalise(x, img.Pix, scale, shift)
		if c.Erase != nil {
			c.Erase(x, c.Size, w.r)
		}
		b.Labels = append(b.Labels, int64(l.src.Label(i)))
		if c.MultiLabel {
			b.tags = append(b.tags, l.src.(TagSource).Tags(i))
		}
		b.N++
	}
	if (c.BatchMix != nil || c.MultiLabel) && b.N > 0 {
		n := b.N * c.Classes
		if cap(b.Soft) < n {
			b.Soft = make([]float32, n)
		}
		b.Soft = b.Soft[:n]
		clear(b.Soft)
		for j, lab := range b.Labels {
			if lab < 0 || int(lab) >= c.Classes {
				return b, fmt.Errorf("loader: label %d of batch %d, want [0, %d)", lab, k, c.Classes)
			}
			if !c.MultiLabel {
				b.Soft[j*c.Classes+int(lab)] = 1
				continue
			}
			for _, t := range b.tags[j] {
				if t < 0 || t >= c.Classes {
					return b, fmt.Errorf("loader: class %d of image %d of batch %d, want [0, %d)", t, j, k, c.Classes)
				}
				b.Soft[j*c.Classes+t] = 1
			}
		}
		if c.BatchMix != nil {
			w.pcg.Seed(batchSeed(c.Seed, epoch), uint64(k))
			c.BatchMix(b.X, b.Soft, b.N, c.Size, c.Classes, w.r)
		}
	} else {
		b.Soft = nil
	}
	return b, nil
}

// normalise writes interleaved RGB pix as CHW planes into x.
func normalise(x []float32, pix []uint8, scale, shift [3]float32) {
	n := len(pix) / 3
	r, g, bl := x[:n], x[n:2*n], x[2*n:3*n]
	pix = pix[:3*n]
	for j := range n {
		p := pix[3*j : 3*j+3]
		r[j] = float32(p[0])*scale[0] - shift[0]
		g[j] = float32(p[1])*scale[1] - shift[1]
		bl[j] = float32(p[2])*scale[2] - shift[2]
	}
}
