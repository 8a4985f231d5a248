package images

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// fuzzMaxPixels bounds the images the fuzzer may make Decode allocate, so that
// a mutated header cannot make each run take a gigabyte.
const fuzzMaxPixels = 1 << 16

// decoderBytesPerPixel is the most that Go's decoder for format allocates in
// all, per pixel, for an image whose header gives colour model m, as the
// package documentation's table (section Memory) states it.
func decoderBytesPerPixel(format string, m color.Model) uint64 {
	switch format {
	case "gif":
		return 2 // the frame, and a copy to de-interlace it
	case "png":
		// The image, then for an interlaced PNG its passes, as much again.
		// Grey or true colour is held as NRGBA(64) if a tRNS chunk, which
		// the header does not show, makes a colour transparent.
		if _, ok := m.(color.Palette); ok {
			return 2 * 1
		}
		switch m {
		case color.Gray16Model, color.RGBA64Model, color.NRGBA64Model:
			return 2 * 8
		}
		return 2 * 4
	case "jpeg":
		// Planes, a progressive JPEG's coefficients (4 bytes per pixel per
		// component), and the conversion of RGB or CMYK to a new image. An
		// Adobe segment after the frame header, which DecodeConfig does not
		// read, can make three components RGB.
		switch m {
		case color.GrayModel:
			return 1 + 4
		case color.YCbCrModel, color.RGBAModel:
			return 3 + 12 + 4
		case color.CMYKModel:
			return 4 + 16 + 4
		}
	case "bmp":
		return 4 // RGBA, NRGBA or paletted
	case "webp":
		// Lossy: YCbCr planes and alpha (2.5 bytes); lossless: NRGBA, and
		// the decoder's 4-byte pixels per transform, at most three.
		return 4 + 3*4
	}
	panic(fmt.Sprintf("no bound for %s of %T", format, m))
}

// decodeFixedBytes bounds what Decode allocates whatever the image's size:
// read buffers, Huffman and LZW tables, the zlib window.
const decodeFixedBytes = 128 << 10

// decodeAllocBound returns the most that decoding data may allocate in all:
// nothing per pixel if its header is unreadable or over fuzzMaxPixels, which
// must be refused before any pixel memory is allocated; otherwise the
// decoder's bytes per pixel and the 12 of the result, for a JPEG over its
// size rounded up to whole MCUs (at most 32 x 16 pixels).
func decodeAllocBound(data []byte) uint64 {
	// A reader that cannot seek has the header kept to be read again: up
	// to twice the input, as a bytes.Buffer grows.
	bound := 2*uint64(len(data)) + decodeFixedBytes
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil || cfg.Width <= 0 || cfg.Height <= 0 || int64(cfg.Width)*int64(cfg.Height) > fuzzMaxPixels {
		return bound
	}
	w, h := uint64(cfg.Width), uint64(cfg.Height)
	switch format {
	case "jpeg":
		w, h = w+31, h+15
	case "png":
		// Two rows of raw bytes per pass, at most 8 bytes per pixel: in all
		// 2 x 8 x 2.75 bytes per column.
		bound += 44 * w
	}
	return bound + w*h*(decoderBytesPerPixel(format, cfg.ColorModel)+rgbBytesPerPixel)
}

// FuzzDecode feeds arbitrary bytes to the decoder and checks that it never
// panics, that its errors are this package's, that it allocates no more than
// decodeAllocBound (so that a header over the limit is refused before any
// pixel memory is allocated, and an image within it costs what the package
// documentation says), and that an image it returns is well formed, in [0, 1], and
// survives CenterCrop and Resize, which LoadVGG's row-by-row resize from the
// decoded image matches exactly.
//
// Odd-length inputs are read through a reader that cannot seek, so that
// both ways of reading the header twice are covered.
//
// Seeds: the small files of testdata/images/small (one per decoder path), a
// few headers, and made-up images of the decoders' worst cases. Found inputs are kept in testdata/fuzz/FuzzDecode.
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
	// The decoders' worst cases per pixel, at a size where the bytes per
	// pixel outweigh the fixed ones: an interlaced 16-bit RGBA PNG and a
	// progressive CMYK JPEG, 256 x 256 each in under 2 KB.
	f.Add(bigPNG(f, 256, 256, 6, 16, true))
	f.Add(flatJPEG(f, 256, 256, 4))
	f.Add(flatJPEG(f, 255, 129, 3))
	f.Fuzz(func(t *testing.T, data []byte) {
		var r io.Reader = bytes.NewReader(data)
		if len(data)%2 == 1 {
			r = io.MultiReader(r)
		}
		var (
			img image.Image
			m   RGB
			err error
		)
		n := allocated(func() {
			if img, err = decodeImage(r, fuzzMaxPixels); err == nil {
				m = toRGB(img)
			}
		})
		if bound := decodeAllocBound(data); n > bound {
			cfg, format, cerr := image.DecodeConfig(bytes.NewReader(data))
			t.Fatalf("decode allocated %d bytes, more than the bound of %d for %s %dx%d (%v)",
				n, bound, format, cfg.Width, cfg.Height, cerr)
		}
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
		r75, err := Resize(c, 7, 5)
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range r75.Pix {
			if !(v >= 0 && v <= 1) {
				t.Fatalf("resized Pix[%d] = %v, want in [0, 1]", i, v)
			}
		}
		// LoadVGG's path: the crop resized straight from the decoded image.
		// Square output, as LoadVGG makes; 3 and the crop's side + 2 cover
		// shrinking and growing.
		for _, size := range []int{3, c.H + 2} {
			want, err := Resize(c, size, size)
			if err != nil {
				t.Fatal(err)
			}
			if got := resample(centerRows(img), size, size); !reflect.DeepEqual(got, want) {
				t.Fatalf("resize from the decoded image to %d differs from Resize(CenterCrop(m))", size)
			}
		}
	})
}
