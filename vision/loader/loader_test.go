package loader

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gtl-dev/gtl/vision/augment"
	"github.com/gtl-dev/gtl/vision/datasets"
	"github.com/gtl-dev/gtl/vision/transforms"
)

// memSet returns n seeded random w×h images with channels 1 or 3, labels
// i mod classes.
func memSet(n, w, h, channels, classes int, seed uint64) *datasets.Images {
	r := rand.New(rand.NewPCG(seed, 0))
	im := &datasets.Images{Height: h, Width: w, Channels: channels, Pix: make([]uint8, n*w*h*channels)}
	for i := range im.Pix {
		im.Pix[i] = uint8(r.IntN(256))
	}
	for i := range n {
		im.Labels = append(im.Labels, i%classes)
	}
	for c := range classes {
		im.Classes = append(im.Classes, fmt.Sprint("c", c))
	}
	return im
}

// randomCropFlip is a small augmentation that uses its generator: a
// random size×size window, flipped with probability 0.5.
func randomCropFlip(size int) func(transforms.RGB, *rand.Rand) transforms.RGB {
	return func(img transforms.RGB, r *rand.Rand) transforms.RGB {
		x0, y0 := r.IntN(img.W-size+1), r.IntN(img.H-size+1)
		flip := r.Float64() < 0.5
		out := transforms.RGB{W: size, H: size, Pix: make([]uint8, 3*size*size)}
		for y := range size {
			for x := range size {
				sx := x0 + x
				if flip {
					sx = x0 + size - 1 - x
				}
				copy(out.Pix[3*(y*size+x):3*(y*size+x)+3], img.Pix[3*((y0+y)*img.W+sx):])
			}
		}
		return out
	}
}

// eraseOne zeroes one random pixel of every channel.
func eraseOne(chw []float32, size int, r *rand.Rand) {
	p := r.IntN(size * size)
	for c := range 3 {
		chw[c*size*size+p] = 0
	}
}

// mixRoll blends each image with the next by a random weight, as MixUp.
func mixRoll(x, soft []float32, n, size, classes int, r *rand.Rand) {
	lam := float32(r.Float64())
	plane := 3 * size * size
	x0 := append([]float32(nil), x[:plane]...)
	s0 := append([]float32(nil), soft[:classes]...)
	for i := range n {
		nx, ns := x0, s0
		if i+1 < n {
			nx, ns = x[(i+1)*plane:(i+2)*plane], soft[(i+1)*classes:(i+2)*classes]
		}
		for j := range plane {
			x[i*plane+j] = lam*x[i*plane+j] + (1-lam)*nx[j]
		}
		for j := range classes {
			soft[i*classes+j] = lam*soft[i*classes+j] + (1-lam)*ns[j]
		}
	}
}

// collect runs one epoch and returns copies of its batches.
func collect(t *testing.T, l *Loader, order []int, epoch int) []Batch {
	t.Helper()
	it := l.Epoch(order, epoch)
	defer it.Close()
	var out []Batch
	for {
		b, err := it.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, Batch{X: append([]float32(nil), b.X...), Labels: append([]int64(nil), b.Labels...),
			Soft: append([]float32(nil), b.Soft...), N: b.N, Index: b.Index, Skipped: append([]string(nil), b.Skipped...)})
		l.Release(b)
	}
}

func sameBatches(a, b []Batch) error {
	if len(a) != len(b) {
		return fmt.Errorf("%d batches vs %d", len(a), len(b))
	}
	for k := range a {
		if a[k].N != b[k].N || fmt.Sprint(a[k].Labels) != fmt.Sprint(b[k].Labels) {
			return fmt.Errorf("batch %d: labels %v vs %v", k, a[k].Labels, b[k].Labels)
		}
		for _, p := range [][2][]float32{{a[k].X, b[k].X}, {a[k].Soft, b[k].Soft}} {
			if len(p[0]) != len(p[1]) {
				return fmt.Errorf("batch %d: lengths %d vs %d", k, len(p[0]), len(p[1]))
			}
			for j := range p[0] {
				if math.Float32bits(p[0][j]) != math.Float32bits(p[1][j]) {
					return fmt.Errorf("batch %d: value %d: %v vs %v", k, j, p[0][j], p[1][j])
				}
			}
		}
	}
	return nil
}

func perm(n int, seed uint64) []int { return rand.New(rand.NewPCG(seed, 9)).Perm(n) }

// TestDeterministic checks that batches depend on seed, epoch and order
// only: never on the worker count, prefetch depth or earlier epochs.
func TestDeterministic(t *testing.T) {
	src := FromImages(memSet(37, 20, 14, 3, 4, 1))
	base := Config{BatchSize: 5, Size: 12, Transform: randomCropFlip(12), Erase: eraseOne, BatchMix: mixRoll, Seed: 7}
	order := perm(37, 2)
	ref := func(c Config, epoch int) []Batch {
		l, err := New(src, c)
		if err != nil {
			t.Fatal(err)
		}
		return collect(t, l, order, epoch)
	}
	want := ref(Config{BatchSize: 5, Size: 12, Transform: randomCropFlip(12), Erase: eraseOne, BatchMix: mixRoll, Seed: 7, Workers: 1, Prefetch: 1}, 3)
	if len(want) != 8 || want[7].N != 2 || len(want[0].Soft) != 5*4 {
		t.Fatalf("got %d batches, last of %d, soft %d; want 8, 2, 20", len(want), want[len(want)-1].N, len(want[0].Soft))
	}
	tests := []struct {
		name              string
		workers, prefetch int
	}{
		{"workers 4", 4, 0}, {"workers 4 prefetch 1", 4, 1}, {"workers 2 prefetch 16", 2, 16}, {"workers 9", 9, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := base
			c.Workers, c.Prefetch = tt.workers, tt.prefetch
			if err := sameBatches(want, ref(c, 3)); err != nil {
				t.Error(err)
			}
		})
	}
	t.Run("resumed after other epochs", func(t *testing.T) {
		l, _ := New(src, base)
		collect(t, l, order, 0)
		collect(t, l, order, 1)
		if err := sameBatches(want, collect(t, l, order, 3)); err != nil {
			t.Error(err)
		}
	})
	t.Run("other epoch differs", func(t *testing.T) {
		if sameBatches(want, ref(base, 4)) == nil {
			t.Error("epochs 3 and 4 gave the same batches")
		}
	})
	t.Run("other seed differs", func(t *testing.T) {
		c := base
		c.Seed = 8
		if sameBatches(want, ref(c, 3)) == nil {
			t.Error("seeds 7 and 8 gave the same batches")
		}
	})
}

// TestBatchContents checks order, labels, normalisation and the default
// (evaluation) transform against direct computation.
func TestBatchContents(t *testing.T) {
	tests := []struct {
		name     string
		channels int
	}{{"rgb", 3}, {"grayscale", 1}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set := memSet(11, 30, 21, tt.channels, 3, 3)
			src := FromImages(set)
			mean, std := [3]float32{0.1, 0.2, 0.3}, [3]float32{0.5, 0.25, 2}
			l, err := New(src, Config{BatchSize: 4, Size: 16, Mean: mean, Std: std, Workers: 3})
			if err != nil {
				t.Fatal(err)
			}
			order := perm(11, 4)
			bs := collect(t, l, order, 0)
			if len(bs) != 3 {
				t.Fatalf("%d batches, want 3", len(bs))
			}
			eval := transforms.EvalPreset(16, 18, transforms.Bilinear)
			for k, b := range bs {
				for j := range b.N {
					i := order[k*4+j]
					if b.Labels[j] != int64(set.Labels[i]) {
						t.Fatalf("batch %d image %d: label %d, want %d", k, j, b.Labels[j], set.Labels[i])
					}
					img, _ := src.Load(i)
					want := eval.Apply(img).CHW(mean, std)
					got := b.X[j*len(want) : (j+1)*len(want)]
					for p := range want {
						if d := got[p] - want[p]; d > 1e-5 || d < -1e-5 {
							t.Fatalf("batch %d image %d value %d: %v, want %v", k, j, p, got[p], want[p])
						}
					}
					if tt.channels == 1 && (img.Pix[0] != img.Pix[1] || img.Pix[1] != img.Pix[2]) {
						t.Fatal("grayscale not repeated into RGB")
					}
				}
			}
		})
	}
}

// writeFiles writes an ImageFolder-like set of good and broken files and
// returns its items; bad names the broken ones.
func writeFiles(t *testing.T) (items []datasets.Item, bad []string) {
	dir := t.TempDir()
	m := image.NewNRGBA(image.Rect(0, 0, 40, 30))
	for i := range m.Pix {
		m.Pix[i] = uint8(i * 31 % 256)
	}
	for i := 3; i < len(m.Pix); i += 4 {
		m.Pix[i] = 255
	}
	var jb, pb bytes.Buffer
	jpeg.Encode(&jb, m, &jpeg.Options{Quality: 90})
	png.Encode(&pb, m)
	files := []struct {
		name string
		data []byte
		bad  bool
	}{
		{"a.jpg", jb.Bytes(), false},
		{"b.png", pb.Bytes(), false},
		{"empty.jpg", nil, true},
		{"c.jpg", jb.Bytes(), false},
		{"truncated.jpg", jb.Bytes()[:jb.Len()/2], true},
		{"truncated.png", pb.Bytes()[:pb.Len()/2], true},
		{"text.png", []byte("hello"), true},
		{"d.png", pb.Bytes(), false},
	}
	for i, f := range files {
		p := filepath.Join(dir, f.name)
		if err := os.WriteFile(p, f.data, 0o644); err != nil {
			t.Fatal(err)
		}
		items = append(items, datasets.Item{Path: p, Label: i % 2})
		if f.bad {
			bad = append(bad, p)
		}
	}
	items = append(items, datasets.Item{Path: filepath.Join(dir, "missing.jpg")})
	bad = append(bad, items[len(items)-1].Path)
	return items, bad
}

func TestBadImages(t *testing.T) {
	items, bad := writeFiles(t)
	src := FromFiles(items)
	order := make([]int, len(items))
	for i := range order {
		order[i] = i
	}
	t.Run("skip", func(t *testing.T) {
		l, err := New(src, Config{BatchSize: 3, Size: 16, OnBadImage: "skip", Workers: 2})
		if err != nil {
			t.Fatal(err)
		}
		bs := collect(t, l, order, 0)
		var skipped []string
		n := 0
		wantN := []int{2, 1, 1} // a b [empty] | c [trunc trunc] | [text] d [missing]
		for k, b := range bs {
			skipped = append(skipped, b.Skipped...)
			n += b.N
			if b.N != wantN[k] || len(b.X) != b.N*3*16*16 || len(b.Labels) != b.N {
				t.Errorf("batch %d: N %d, %d values, %d labels; want N %d", k, b.N, len(b.X), len(b.Labels), wantN[k])
			}
		}
		if strings.Join(skipped, ",") != strings.Join(bad, ",") {
			t.Errorf("skipped %v, want %v", skipped, bad)
		}
	})
	t.Run("fail", func(t *testing.T) {
		for _, i := range []int{2, 4, 5, 6, 8} {
			l, _ := New(src, Config{BatchSize: 3, Size: 16, Workers: 2})
			it := l.Epoch([]int{0, 1, i, 3}, 0)
			_, err := it.Next()
			if err == nil || !strings.Contains(err.Error(), items[i].Path) || !strings.HasPrefix(err.Error(), "loader: ") {
				t.Errorf("%s: err %v, want one naming the file", filepath.Base(items[i].Path), err)
			}
			if _, err2 := it.Next(); err2 != err {
				t.Errorf("after the error: %v", err2)
			}
			it.Close()
		}
	})
}

// settle waits until the goroutine count is at most n, for goroutines
// that end after a cancellation; it returns the final count.
func settle(n int) int {
	for range 200 {
		if g := runtime.NumGoroutine(); g <= n {
			return g
		}
		time.Sleep(5 * time.Millisecond)
	}
	return runtime.NumGoroutine()
}

func TestNoLeaks(t *testing.T) {
	src := FromImages(memSet(200, 20, 20, 3, 2, 5))
	order := perm(200, 6)
	tests := []struct {
		name string
		stop func(it *Iter, cancel context.CancelFunc) error
	}{
		{"close after one batch", func(it *Iter, _ context.CancelFunc) error {
			if _, err := it.Next(); err != nil {
				return err
			}
			it.Close()
			it.Close()
			if _, err := it.Next(); err == nil {
				return errors.New("Next after Close: no error")
			}
			return nil
		}},
		{"close before any", func(it *Iter, _ context.CancelFunc) error { it.Close(); return nil }},
		{"empty order", nil},
		{"context cancelled", func(it *Iter, cancel context.CancelFunc) error {
			it.Next()
			cancel()
			if _, err := it.Next(); !errors.Is(err, context.Canceled) {
				return fmt.Errorf("after cancel: %v, want context.Canceled", err)
			}
			return nil
		}},
		{"to the end", func(it *Iter, _ context.CancelFunc) error {
			for {
				b, err := it.Next()
				if err == io.EOF {
					return nil
				} else if err != nil {
					return err
				}
				_ = b
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := runtime.NumGoroutine()
			l, _ := New(src, Config{BatchSize: 4, Size: 16, Workers: 4, Prefetch: 3})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tt.stop == nil {
				it := l.EpochContext(ctx, nil, 0)
				if b, err := it.Next(); err != io.EOF {
					t.Fatalf("empty order: %v, %v; want io.EOF", b, err)
				}
			} else if err := tt.stop(l.EpochContext(ctx, order, 0), cancel); err != nil {
				t.Fatal(err)
			}
			if g := settle(before); g > before {
				t.Errorf("%d goroutines left running, %d before", g, before)
			}
		})
	}
}

// TestReuse checks that released buffers are reused instead of allocated.
func TestReuse(t *testing.T) {
	l, _ := New(FromImages(memSet(40, 20, 20, 3, 2, 8)), Config{BatchSize: 4, Size: 16, Workers: 2, Prefetch: 2})
	seen := map[*float32]bool{}
	it := l.Epoch(perm(40, 1), 0)
	defer it.Close()
	for {
		b, err := it.Next()
		if err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		seen[&b.X[:1][0]] = true
		l.Release(b)
	}
	// Prefetch 2 plus the one held plus one in the hands of the dispatcher.
	if len(seen) > 4 {
		t.Errorf("%d distinct buffers for 10 released batches, want ≤ 4", len(seen))
	}
}

func TestConfigErrors(t *testing.T) {
	src := FromImages(memSet(4, 8, 8, 3, 2, 1))
	tests := []struct {
		name string
		c    Config
		want string
	}{
		{"batch", Config{BatchSize: -1}, "batch size -1"},
		{"workers", Config{Workers: -2}, "workers -2"},
		{"on bad", Config{OnBadImage: "ignore"}, `on bad image "ignore"`},
		{"std", Config{Std: [3]float32{1, 0, 1}}, "std of channel 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := New(src, tt.c); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err %v, want %q", err, tt.want)
			}
		})
	}
	l, _ := New(src, Config{Size: 4, Transform: func(img transforms.RGB, _ *rand.Rand) transforms.RGB { return img }})
	if _, err := l.Epoch([]int{0}, 0).Next(); err == nil || !strings.Contains(err.Error(), "transform gave 8x8, want 4x4") {
		t.Errorf("wrong-size transform: %v", err)
	}
	if _, err := l.Epoch([]int{0, 4}, 0).Next(); err == nil || !strings.Contains(err.Error(), "image 4") {
		t.Errorf("order out of range: %v", err)
	}
	if c := l.Config(); c.BatchSize != 64 || c.Workers < 1 || c.Prefetch != 2*c.Workers || c.Mean != transforms.ImageNetMean {
		t.Errorf("defaults: %+v", c)
	}
}

// TestCrop checks that Config.Crop (decoding only the window, for files)
// gives the batches a transform cropping the whole decoded image gives.
func TestCrop(t *testing.T) {
	dir := t.TempDir()
	var items []datasets.Item
	for i := range 9 {
		m := image.NewRGBA(image.Rect(0, 0, 120+7*i, 90))
		r := rand.New(rand.NewPCG(uint64(i), 1))
		for j := range m.Pix {
			m.Pix[j] = uint8(j/3%200 + r.IntN(50))
		}
		var buf bytes.Buffer
		jpeg.Encode(&buf, m, &jpeg.Options{Quality: 90})
		p := filepath.Join(dir, fmt.Sprintf("%d.jpg", i))
		os.WriteFile(p, buf.Bytes(), 0o644)
		items = append(items, datasets.Item{Path: p, Label: i % 3})
	}
	window := func(w, h int, r *rand.Rand) image.Rectangle {
		x0, y0 := r.IntN(w-20), r.IntN(h-20)
		return image.Rect(x0, y0, x0+20+r.IntN(w-x0-20), y0+20+r.IntN(h-y0-20))
	}
	resize := func(img transforms.RGB, _ *rand.Rand) transforms.RGB {
		return transforms.Resize(img, 16, 16, transforms.Bilinear)
	}
	withCrop := Config{BatchSize: 4, Size: 16, Workers: 3, Crop: window, Transform: resize, Seed: 2}
	inTransform := Config{BatchSize: 4, Size: 16, Workers: 1, Seed: 2,
		Transform: func(img transforms.RGB, r *rand.Rand) transforms.RGB {
			return resize(transforms.Crop(img, window(img.W, img.H, r)), r)
		}}
	order := perm(9, 3)
	var got [][]Batch
	for _, c := range []Config{withCrop, inTransform} {
		for _, src := range []Source{FromFiles(items), plainSource{FromFiles(items)}} {
			l, err := New(src, c)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, collect(t, l, order, 1))
		}
	}
	for k := 1; k < len(got); k++ {
		if err := sameBatches(got[0], got[k]); err != nil {
			t.Errorf("run %d: %v", k, err)
		}
	}
}

// plainSource hides a source's LoadCrop.
type plainSource struct{ Source }

// TestWithAugment runs package augment's ops through the hooks: a strong
// preset, random erasing and MixUp/CutMix, identical for any worker count,
// with soft targets that stay distributions.
func TestWithAugment(t *testing.T) {
	src := FromImages(memSet(30, 40, 30, 3, 5, 11))
	pipe, err := augment.Preset(augment.PresetStrong, 16)
	if err != nil {
		t.Fatal(err)
	}
	mix := augment.MixCutMix{MixupAlpha: 0.2, CutMixAlpha: 1}
	if err := mix.Validate(); err != nil {
		t.Fatal(err)
	}
	order := perm(30, 12)
	var runs [][]Batch
	for _, w := range []int{1, 3} {
		l, err := New(src, Config{BatchSize: 8, Size: 16, Workers: w, Seed: 5, Transform: pipe.Apply,
			Erase: augment.RandomErasing{P: 0.5}.EraseSquare, BatchMix: mix.MixSoft})
		if err != nil {
			t.Fatal(err)
		}
		runs = append(runs, collect(t, l, order, 2))
	}
	if err := sameBatches(runs[0], runs[1]); err != nil {
		t.Fatalf("workers 1 vs 3: %v", err)
	}
	mixed := false
	for _, b := range runs[0] {
		for j := range b.N {
			var sum float32
			for c, v := range b.Soft[j*5 : (j+1)*5] {
				sum += v
				if v > 0 && v < 1 && c >= 0 {
					mixed = true
				}
			}
			if math.Abs(float64(sum-1)) > 1e-5 {
				t.Fatalf("batch %d row %d: soft targets sum to %v", b.Index, j, sum)
			}
		}
	}
	if !mixed {
		t.Error("no soft target between 0 and 1: nothing was mixed")
	}
}

// TestRepeatedImages checks that an image listed twice in an epoch
// (oversampling) is augmented afresh the second time, and that its first
// listing is augmented as when listed once.
func TestRepeatedImages(t *testing.T) {
	src := FromImages(memSet(6, 20, 20, 3, 2, 13))
	l, _ := New(src, Config{BatchSize: 1, Size: 12, Transform: randomCropFlip(12), Workers: 2, Seed: 3})
	twice := collect(t, l, []int{4, 1, 4}, 0)
	once := collect(t, l, []int{4}, 0)
	if sameBatches(twice[:1], twice[2:]) == nil {
		t.Error("the second listing of image 4 got the same augmentation as the first")
	}
	if err := sameBatches(twice[:1], once); err != nil {
		t.Errorf("first listing differs from a single one: %v", err)
	}
}

// TestEpochFrom checks that an epoch started at batch k delivers the
// batches k… of the whole epoch, bit for bit (augmentation, erasing,
// mixing, repeated images' fresh draws and batch indices included), and
// none past the end.
func TestEpochFrom(t *testing.T) {
	src := FromImages(memSet(23, 20, 14, 3, 4, 5))
	l, err := New(src, Config{BatchSize: 4, Size: 12, Transform: randomCropFlip(12), Erase: eraseOne, BatchMix: mixRoll, Seed: 11, Workers: 3})
	if err != nil {
		t.Fatal(err)
	}
	order := append(perm(23, 4), 3, 7) // image 3 and 7 twice: their second listing draws afresh
	whole := collect(t, l, order, 2)
	if len(whole) != 7 {
		t.Fatalf("%d batches, want 7", len(whole))
	}
	for _, first := range []int{0, 1, 4, 6, 7, 9} {
		t.Run(fmt.Sprint("from ", first), func(t *testing.T) {
			it := l.EpochFrom(context.Background(), order, 2, first)
			defer it.Close()
			var got []Batch
			for {
				b, err := it.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, Batch{X: append([]float32(nil), b.X...), Labels: append([]int64(nil), b.Labels...),
					Soft: append([]float32(nil), b.Soft...), N: b.N, Index: b.Index})
				l.Release(b)
			}
			want := whole[min(first, len(whole)):]
			if err := sameBatches(want, got); err != nil {
				t.Fatal(err)
			}
			for i := range got {
				if got[i].Index != first+i {
					t.Errorf("batch %d: Index %d, want %d", i, got[i].Index, first+i)
				}
			}
		})
	}
}
