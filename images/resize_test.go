package images

import (
	"errors"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"testing"
)

// indexed returns an h x w image whose values count 0, 1, 2, ... so that
// every value says where it came from.
func indexed(h, w int) RGB {
	m := RGB{H: h, W: w, Pix: make([]float32, h*w*3)}
	for i := range m.Pix {
		m.Pix[i] = float32(i)
	}
	return m
}

// at returns the three values of pixel (y, x).
func (m RGB) at(y, x int) []float32 { return m.Pix[(y*m.W+x)*3:][:3] }

func TestCenterCrop(t *testing.T) {
	tests := []struct {
		h, w   int
		side   int
		y0, x0 int // where the crop starts in the source
	}{
		{4, 6, 4, 0, 1},
		{4, 7, 4, 0, 1}, // (7-4)/2 = 1.5, rounded down as int() does
		{5, 2, 2, 1, 0},
		{2, 5, 2, 0, 1},
		{3, 3, 3, 0, 0},
		{1, 9, 1, 0, 4},
		{300, 451, 300, 0, 75},
	}
	for _, tt := range tests {
		src := indexed(tt.h, tt.w)
		got := CenterCrop(src)
		if got.H != tt.side || got.W != tt.side || len(got.Pix) != tt.side*tt.side*3 {
			t.Errorf("CenterCrop(%dx%d): %dx%d with %d values, want %dx%d", tt.w, tt.h, got.W, got.H, len(got.Pix), tt.side, tt.side)
			continue
		}
		for y := range tt.side {
			for x := range tt.side {
				if g, w := got.at(y, x), src.at(tt.y0+y, tt.x0+x); !reflect.DeepEqual(g, w) {
					t.Fatalf("CenterCrop(%dx%d) pixel (%d, %d) = %v, want %v", tt.w, tt.h, y, x, g, w)
				}
			}
		}
		got.Pix[0] = -1
		if src.Pix[(tt.y0*tt.w+tt.x0)*3] == -1 {
			t.Errorf("CenterCrop(%dx%d) shares memory with its input", tt.w, tt.h)
		}
	}
}

func TestCenterCropBad(t *testing.T) {
	for _, m := range []RGB{{}, {H: 2, W: 2}, {H: 2, W: 2, Pix: make([]float32, 11)}, {H: -1, W: -3, Pix: make([]float32, 9)}} {
		if got := CenterCrop(m); got.H != 0 || got.W != 0 || got.Pix != nil {
			t.Errorf("CenterCrop(%dx%d, %d values) = %dx%d, want empty", m.W, m.H, len(m.Pix), got.W, got.H)
		}
	}
}

func TestResizeIdentity(t *testing.T) {
	src := indexed(5, 7)
	got, err := Resize(src, 5, 7)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, src) {
		t.Errorf("Resize to the same size = %v, want %v", got, src)
	}
	got.Pix[0] = -1
	if src.Pix[0] == -1 {
		t.Errorf("Resize to the same size shares memory with its input")
	}
}

// TestResizeConstant checks that a constant image stays exactly constant
// (weights sum to 1, and the clip catches rounding) at odd sizes, up and
// down.
func TestResizeConstant(t *testing.T) {
	sizes := [][2]int{{1, 1}, {1, 9}, {9, 1}, {7, 5}, {13, 2}, {224, 224}, {3, 300}}
	for _, from := range sizes {
		for _, to := range sizes {
			src := RGB{H: from[0], W: from[1], Pix: make([]float32, from[0]*from[1]*3)}
			for i := range src.Pix {
				src.Pix[i] = []float32{0.1, 0.7, 1}[i%3]
			}
			got, err := Resize(src, to[0], to[1])
			if err != nil {
				t.Fatal(err)
			}
			for i, v := range got.Pix {
				if want := []float32{0.1, 0.7, 1}[i%3]; v != want {
					t.Fatalf("Resize %v to %v: Pix[%d] = %v, want %v", from, to, i, v, want)
				}
			}
		}
	}
}

// TestResizeRange checks on random images that results stay within the
// input's range and have the asked size.
func TestResizeRange(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 50 {
		h, w := 1+rng.IntN(40), 1+rng.IntN(40)
		src := RGB{H: h, W: w, Pix: make([]float32, h*w*3)}
		lo, hi := float32(1), float32(0)
		for i := range src.Pix {
			v := 0.2 + 0.5*rng.Float32()
			src.Pix[i] = v
			lo, hi = min(lo, v), max(hi, v)
		}
		oh, ow := 1+rng.IntN(60), 1+rng.IntN(60)
		got, err := Resize(src, oh, ow)
		if err != nil {
			t.Fatal(err)
		}
		if got.H != oh || got.W != ow || len(got.Pix) != oh*ow*3 {
			t.Fatalf("Resize %dx%d to %dx%d: got %dx%d with %d values", w, h, ow, oh, got.W, got.H, len(got.Pix))
		}
		for i, v := range got.Pix {
			if v < lo || v > hi {
				t.Fatalf("Resize %dx%d to %dx%d: Pix[%d] = %v outside the input's [%v, %v]", w, h, ow, oh, i, v, lo, hi)
			}
		}
	}
}

func TestResizeErrors(t *testing.T) {
	ok := indexed(2, 2)
	tests := []struct {
		name string
		img  RGB
		h, w int
		want error
	}{
		{"empty image", RGB{}, 4, 4, ErrEmpty},
		{"short Pix", RGB{H: 2, W: 2, Pix: make([]float32, 11)}, 4, 4, nil},
		{"zero height", ok, 0, 4, ErrEmpty},
		{"negative width", ok, 4, -1, ErrEmpty},
		{"too large", ok, 100000, 100000, ErrTooLarge},
	}
	for _, tt := range tests {
		_, err := Resize(tt.img, tt.h, tt.w)
		if err == nil {
			t.Errorf("%s: Resize gave no error", tt.name)
			continue
		}
		if tt.want != nil && !errors.Is(err, tt.want) {
			t.Errorf("%s: Resize error = %v, want one that wraps %v", tt.name, err, tt.want)
		}
	}
}

func TestLoadVGGSizes(t *testing.T) {
	for _, size := range []int{224, 64, 500, 1} {
		got, err := LoadVGG(filepath.Join(testdata, "rocket_gray.jpg"), size)
		if err != nil {
			t.Fatal(err)
		}
		if got.H != size || got.W != size || len(got.Pix) != size*size*3 {
			t.Errorf("LoadVGG(size %d) = %dx%d with %d values", size, got.W, got.H, len(got.Pix))
		}
		checkRGB(t, got)
	}
	for _, size := range []int{0, -224} {
		if _, err := LoadVGG(filepath.Join(testdata, "chelsea.jpg"), size); err == nil {
			t.Errorf("LoadVGG(size %d) gave no error", size)
		}
	}
	if _, err := LoadVGG(filepath.Join(testdata, "SOURCES.md"), 224); !errors.Is(err, ErrFormat) {
		t.Errorf("LoadVGG(SOURCES.md) error = %v, want one that wraps %v", err, ErrFormat)
	}
}

func TestBatch(t *testing.T) {
	a, b := indexed(2, 3), indexed(2, 3)
	for i := range b.Pix {
		b.Pix[i] += 100
	}
	shape, data, err := Batch([]RGB{a, b})
	if err != nil {
		t.Fatal(err)
	}
	if want := [4]int{2, 2, 3, 3}; shape != want {
		t.Errorf("shape = %v, want %v", shape, want)
	}
	want := append(append([]float32(nil), a.Pix...), b.Pix...)
	if !reflect.DeepEqual(data, want) {
		t.Errorf("data = %v, want %v", data, want)
	}
	data[0] = -1
	if a.Pix[0] == -1 {
		t.Errorf("Batch shares memory with its input")
	}
}

func TestBatchErrors(t *testing.T) {
	tests := []struct {
		name string
		imgs []RGB
	}{
		{"none", nil},
		{"sizes differ", []RGB{indexed(2, 3), indexed(3, 2)}},
		{"empty image", []RGB{indexed(2, 3), {}}},
		{"malformed image", []RGB{{H: 2, W: 3, Pix: make([]float32, 5)}}},
	}
	for _, tt := range tests {
		if shape, _, err := Batch(tt.imgs); err == nil {
			t.Errorf("%s: Batch = shape %v, want an error", tt.name, shape)
		}
	}
}

func BenchmarkLoadVGG(b *testing.B) {
	path := filepath.Join(testdata, "chelsea.jpg")
	for b.Loop() {
		if _, err := LoadVGG(path, 224); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/image")
}

func BenchmarkResize(b *testing.B) {
	m := indexed(1000, 1000)
	for b.Loop() {
		if _, err := Resize(m, 224, 224); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/image")
}
