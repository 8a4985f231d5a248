package images

import (
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// testdata is the repository's shared image directory.
var testdata = filepath.Join("..", "testdata", "images")

// readGolden reads a raw little-endian float32 file made by
// testdata/images/make_golden.py.
func readGolden(t *testing.T, name string, h, w, c int) []float32 {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testdata, "golden", name))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(b), h*w*c*4; got != want {
		t.Fatalf("%s: %v bytes, want %v (%dx%dx%d float32)", name, got, want, h, w, c)
	}
	v := make([]float32, h*w*c)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return v
}

// grid returns m's samples at every step-th row and column, with channels
// 0..c-1 (c = 1 for a greyscale reference).
func grid(m RGB, step, c int) []float32 {
	var out []float32
	for y := 0; y < m.H; y += step {
		for x := 0; x < m.W; x += step {
			out = append(out, m.Pix[(y*m.W+x)*3:][:c]...)
		}
	}
	return out
}

// diff returns the largest and the mean absolute difference of a and b.
func diff(a, b []float32) (maxAbs, meanAbs float64) {
	for i := range a {
		d := math.Abs(float64(a[i]) - float64(b[i]))
		maxAbs = max(maxAbs, d)
		meanAbs += d
	}
	return maxAbs, meanAbs / float64(len(a))
}

// TestResizeMatchesSkimage compares Resize with skimage.transform.resize
// (scikit-image 0.19.3, scipy 1.10.1), run by make_golden.py on the same
// decoded pixels (PNG, so both decoders agree exactly).
//
// Measured when written: every case agrees within 6.0e-8 (max) and 9e-9
// (mean), float32 rounding of skimage's float64 results. For scale,
// make_golden.py's alternatives() prints how far other filters are from
// skimage: on coffee_down_29x37, Pillow's BILINEAR (a triangle filter
// widened by the shrink factor) 0.021 max, 0.0017 mean, and an area average
// (Pillow's BOX) 0.19 max, 0.012 mean; on chelsea.png cropped and resized to
// 224 x 224, 0.16 max, 0.0040 mean and 0.13 max, 0.0058 mean.
func TestResizeMatchesSkimage(t *testing.T) {
	const tol = 1e-6
	tiny, err := Load(filepath.Join(testdata, "small", "tiny.png"))
	if err != nil {
		t.Fatal(err)
	}
	coffee, err := Load(filepath.Join(testdata, "coffee_rgba.png"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		golden string
		src    RGB
		h, w   int
		step   int // the golden file holds every step-th row and column
	}{
		{"tiny_up_41x53.f32", tiny, 41, 53, 1},
		{"tiny_mixed_10x40.f32", tiny, 10, 40, 1},
		{"tiny_down_5x3.f32", tiny, 5, 3, 1},
		{"tiny_1x1.f32", tiny, 1, 1, 1},
		{"coffee_down_29x37.f32", coffee, 29, 37, 1},
		{"coffee_down_67x101.f32", coffee, 67, 101, 1},
		{"coffee_down_190x280_grid5.f32", coffee, 190, 280, 5},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			got, err := Resize(tt.src, tt.h, tt.w)
			if err != nil {
				t.Fatal(err)
			}
			gh, gw := (tt.h+tt.step-1)/tt.step, (tt.w+tt.step-1)/tt.step
			want := readGolden(t, tt.golden, gh, gw, 3)
			maxAbs, meanAbs := diff(grid(got, tt.step, 3), want)
			t.Logf("max |Go-skimage| = %.3g, mean %.3g", maxAbs, meanAbs)
			if maxAbs > tol {
				t.Errorf("max |Go-skimage| = %v, want <= %v", maxAbs, tol)
			}
		})
	}
}

// TestLoadVGGMatchesSkimage compares LoadVGG with tensorflow-vgg's
// load_image, as make_golden.py runs it, on every 7th row and column of the
// 224 x 224 result.
//
// Measured when written (max, mean |Go-skimage|):
//
//	coffee_rgba.png  6.0e-8, 7.7e-9   PNG: identical decoding
//	rocket_gray.jpg  0.0029, 4.9e-5   greyscale JPEG: IDCT rounding
//	chelsea.jpg      0.023,  0.0014   colour JPEG 4:2:0: chroma upsampling too
//
// The JPEG differences come from the decoders (Go's image/jpeg against
// libjpeg-turbo under Pillow), not from the resize; the tolerances leave
// about a factor 2 for other decoder versions.
func TestLoadVGGMatchesSkimage(t *testing.T) {
	tests := []struct {
		name          string
		channels      int
		maxTol, mnTol float64
	}{
		{"coffee_rgba.png", 3, 1e-6, 1e-7},
		{"rocket_gray.jpg", 1, 0.006, 1e-4},
		{"chelsea.jpg", 3, 0.05, 0.003},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := LoadVGG(filepath.Join(testdata, tt.name), 224)
			if err != nil {
				t.Fatal(err)
			}
			if got.H != 224 || got.W != 224 {
				t.Fatalf("LoadVGG: %dx%d, want 224x224", got.W, got.H)
			}
			golden := tt.name[:len(tt.name)-len(filepath.Ext(tt.name))] + "_vgg224_grid7.f32"
			want := readGolden(t, golden, 32, 32, tt.channels)
			maxAbs, meanAbs := diff(grid(got, 7, tt.channels), want)
			t.Logf("max |Go-skimage| = %.3g, mean %.3g", maxAbs, meanAbs)
			if maxAbs > tt.maxTol || meanAbs > tt.mnTol {
				t.Errorf("|Go-skimage|: max %v, mean %v; want <= %v, %v", maxAbs, meanAbs, tt.maxTol, tt.mnTol)
			}
		})
	}
}
