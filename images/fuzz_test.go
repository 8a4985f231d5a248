package images

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// fuzzMaxPixels bounds the images the fuzzer may make Decode allocate, so that
// a mutated header cannot make each run take a gigabyte.
const fuzzMaxPixels = 1 << 16

// FuzzDecode feeds arbitrary bytes to the decoder and checks that it never
// panics, that its errors are this package's, and that an image it returns is
// well formed, in [0, 1], and survives CenterCrop and Resize.
//
// Seeds: the small files of testdata/images/small (one per decoder path) and
// a few headers. Found inputs are kept in testdata/fuzz/FuzzDecode.
func FuzzDecode(f *testing.F) {
	seeds, err := filepath.Glob(filepath.Join(testdata, "small", "*"))
	if err != nil || len(seeds) == 0 {
		f.Fatalf("no seeds in %s: %v", filepath.Join(testdata, "small"), err)
	}
	for _, name := range seeds {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add(pngHeader(3, 2))
	f.Add(gifHeader(3, 2))
	f.Add(jpegHeader(3, 2))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := decode(bytes.NewReader(data), fuzzMaxPixels)
		if err != nil {
			if !errors.Is(err, ErrFormat) && !errors.Is(err, ErrUnreadable) &&
				!errors.Is(err, ErrEmpty) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("decode error %v wraps none of the package's errors", err)
			}
			return
		}
		if err := m.check(); err != nil {
			t.Fatal(err)
		}
		if m.H*m.W > fuzzMaxPixels {
			t.Fatalf("decoded %dx%d, more than the %d-pixel limit", m.W, m.H, fuzzMaxPixels)
		}
		for i, v := range m.Pix {
			if !(v >= 0 && v <= 1) {
				t.Fatalf("Pix[%d] = %v, want in [0, 1]", i, v)
			}
		}
		c := CenterCrop(m)
		if c.H != min(m.H, m.W) || c.W != c.H {
			t.Fatalf("CenterCrop of %dx%d = %dx%d", m.W, m.H, c.W, c.H)
		}
		r, err := Resize(c, 7, 5)
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range r.Pix {
			if !(v >= 0 && v <= 1) {
				t.Fatalf("resized Pix[%d] = %v, want in [0, 1]", i, v)
			}
		}
	})
}
