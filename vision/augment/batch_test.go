package augment

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestGammaBetaMean(t *testing.T) {
	const n = 20000
	for _, tt := range []struct{ a, b float64 }{{0.2, 0.2}, {0.8, 0.8}, {1, 1}, {2, 5}, {0.5, 3}, {7, 1.5}} {
		r := seeded(11)
		var sum float64
		for range n {
			v := Beta(r, tt.a, tt.b)
			if v < 0 || v > 1 {
				t.Fatalf("Beta(%g, %g) drew %g", tt.a, tt.b, v)
			}
			sum += v
		}
		ab := tt.a + tt.b
		mean, sd := tt.a/ab, math.Sqrt(tt.a*tt.b/(ab*ab*(ab+1))/n)
		if got := sum / n; math.Abs(got-mean) > 4*sd {
			t.Errorf("Beta(%g, %g): mean %g, want %g ± %g", tt.a, tt.b, got, mean, 4*sd)
		}
	}
	for _, k := range []float64{0.3, 1, 4.5} {
		r := seeded(12)
		var sum float64
		for range n {
			sum += Gamma(r, k)
		}
		if got, sd := sum/n, math.Sqrt(k/n); math.Abs(got-k) > 4*sd {
			t.Errorf("Gamma(%g): mean %g, want %g ± %g", k, got, k, 4*sd)
		}
	}
}

func ramp(n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(i)*0.01 - 1
	}
	return x
}

func TestEraseCHW(t *testing.T) {
	const c, h, w = 3, 20, 30
	tests := []struct {
		name  string
		e     RandomErasing
		erase bool
	}{
		{"p=0 leaves data", RandomErasing{P: 0}, false},
		{"p=1 value", RandomErasing{P: 1, Value: 7}, true},
		{"p=1 random", RandomErasing{P: 1, Random: true}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for seed := range uint64(50) {
				x := ramp(c * h * w)
				orig := slices.Clone(x)
				tt.e.EraseCHW(x, c, h, w, seeded(seed))
				win, ok := tt.e.Params(h, w, func() *rand.Rand { r := seeded(seed); r.Float64(); return r }())
				if !tt.erase || !ok {
					if !slices.Equal(x, orig) {
						t.Fatalf("seed %d: data changed", seed)
					}
					continue
				}
				share := float64(win.W*win.H) / (h * w)
				if share > 0.33+float64(win.W+win.H+1)/(h*w) || win.X+win.W > w || win.Y+win.H > h {
					t.Fatalf("seed %d: window %+v, area share %g", seed, win, share)
				}
				for i := range x {
					y, xx := i/w%h, i%w
					in := y >= win.Y && y < win.Y+win.H && xx >= win.X && xx < win.X+win.W
					switch {
					case !in && x[i] != orig[i]:
						t.Fatalf("seed %d: value %d outside the window changed", seed, i)
					case in && !tt.e.Random && x[i] != 7:
						t.Fatalf("seed %d: value %d in the window is %g, want 7", seed, i, x[i])
					case in && tt.e.Random && x[i] == orig[i]:
						t.Fatalf("seed %d: value %d in the window unchanged", seed, i)
					}
				}
			}
		})
	}
}

func testBatch(n int) Batch {
	const c, h, w = 2, 8, 10
	b := Batch{X: make([]float32, n*c*h*w), C: c, H: h, W: w, Classes: 5}
	for i := range n {
		b.Labels = append(b.Labels, i%5)
		for k := range c * h * w {
			b.X[i*c*h*w+k] = float32(i + 1) // image i is constant i+1
		}
	}
	return b
}

func checkRows(t *testing.T, targets []float32, b Batch, lam, smoothing float64) {
	t.Helper()
	n, k := len(b.Labels), b.Classes
	if len(targets) != n*k {
		t.Fatalf("%d targets, want %d", len(targets), n*k)
	}
	off := smoothing / float64(k)
	for i := range n {
		row := targets[i*k : (i+1)*k]
		var sum float64
		for _, v := range row {
			sum += float64(v)
		}
		if math.Abs(sum-1) > 1e-6 {
			t.Errorf("row %d sums to %g", i, sum)
		}
		if m := b.Labels[n-1-i]; m != b.Labels[i] {
			want := off + (1-smoothing)*lam
			if math.Abs(float64(row[b.Labels[i]])-want) > 1e-6 {
				t.Errorf("row %d: own class %g, want %g", i, row[b.Labels[i]], want)
			}
		}
	}
}

func TestMixup(t *testing.T) {
	b := testBatch(4)
	orig := slices.Clone(b.X)
	mixupLambda(b, 1)
	if !slices.Equal(b.X, orig) {
		t.Error("mixup with lambda 1 changed the batch")
	}
	for _, tt := range []struct {
		name             string
		n                int
		alpha, smoothing float64
	}{{"even", 4, 0.4, 0}, {"odd smoothed", 5, 1, 0.1}, {"single", 1, 0.2, 0}} {
		t.Run(tt.name, func(t *testing.T) {
			b := testBatch(tt.n)
			targets, lam, err := Mixup(b, tt.alpha, tt.smoothing, seeded(3))
			if err != nil {
				t.Fatal(err)
			}
			checkRows(t, targets, b, lam, tt.smoothing)
			sz := b.C * b.H * b.W
			for i := range tt.n {
				want := lam*float64(i+1) + (1-lam)*float64(tt.n-i)
				if got := float64(b.X[i*sz+sz/2]); math.Abs(got-want) > 1e-5 {
					t.Errorf("image %d: %g, want %g", i, got, want)
				}
			}
		})
	}
}

func TestCutMix(t *testing.T) {
	for seed := range uint64(30) {
		b := testBatch(4)
		targets, lam, err := CutMix(b, 1, 0.1, seeded(seed))
		if err != nil {
			t.Fatal(err)
		}
		checkRows(t, targets, b, lam, 0.1)
		sz, plane := b.C*b.H*b.W, b.H*b.W
		for i := range 4 {
			foreign := 0
			for k := range plane {
				if b.X[i*sz+k] != float32(i+1) {
					if b.X[i*sz+k] != float32(4-i) || b.X[i*sz+plane+k] != float32(4-i) {
						t.Fatalf("seed %d image %d: pixel %d is %g", seed, i, k, b.X[i*sz+k])
					}
					foreign++
				}
			}
			if got := 1 - float64(foreign)/float64(plane); math.Abs(got-lam) > 1e-12 {
				t.Errorf("seed %d image %d: %d pasted pixels give lam %g, CutMix returned %g", seed, i, foreign, got, lam)
			}
		}
	}
}

func TestMixCutMixSwitch(t *testing.T) {
	const n = 4000
	for _, p := range []float64{0.25, 0.5} {
		r := seeded(5)
		m := MixCutMix{MixupAlpha: 0.8, CutMixAlpha: 1, SwitchProb: p}
		cut := 0
		for range n {
			b := testBatch(2)
			if _, _, err := m.Apply(b, r); err != nil {
				t.Fatal(err)
			}
			// Mixup blends every pixel to strictly between 1 and 2;
			// CutMix leaves each pixel at 1 or 2.
			v := b.X[0]
			if v == 1 || v == 2 {
				cut++
			}
		}
		// (Mixup rounds to 1 or 2 only for lam within ~1e-7 of 0 or 1.)
		rate, sd := float64(cut)/n, math.Sqrt(p*(1-p)/n)
		if math.Abs(rate-p) > 4*sd {
			t.Errorf("switch %g: CutMix rate %g", p, rate)
		}
	}
	if _, _, err := (MixCutMix{}).Apply(testBatch(2), seeded(1)); err == nil {
		t.Error("no alphas: no error")
	}
	bad := testBatch(2)
	bad.Labels[1] = 9
	if _, _, err := Mixup(bad, 1, 0, seeded(1)); err == nil {
		t.Error("label outside classes: no error")
	}
}

// TestMixSoft checks that mixing one-hot rows in place gives Apply's
// targets and images for the same seed.
func TestMixSoft(t *testing.T) {
	const n, size, classes = 5, 6, 4
	m := MixCutMix{MixupAlpha: 0.8, CutMixAlpha: 1, Smoothing: 0.1}
	for seed := range uint64(20) {
		x := ramp(n * 3 * size * size)
		labels := []int{0, 3, 1, 1, 2}
		b := Batch{X: slices.Clone(x), C: 3, H: size, W: size, Labels: labels, Classes: classes}
		want, _, err := m.Apply(b, seeded(seed))
		if err != nil {
			t.Fatal(err)
		}
		soft := make([]float32, n*classes)
		for i, l := range labels {
			soft[i*classes+l] = 1
		}
		m.MixSoft(x, soft, n, size, classes, seeded(seed))
		if !slices.Equal(x, b.X) {
			t.Fatalf("seed %d: images differ from Apply's", seed)
		}
		for i := range soft {
			if math.Abs(float64(soft[i]-want[i])) > 1e-6 {
				t.Fatalf("seed %d: target %d is %g, Apply's %g", seed, i, soft[i], want[i])
			}
		}
	}
}
