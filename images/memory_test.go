package images

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"testing"
)

// allocated returns the bytes that the heap allocated while f ran.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestTooLargeRefusedEarly checks that an image over MaxPixels is refused
// from its header alone, before any pixel memory is allocated, by Decode,
// Load and LoadVGG: the header is followed by data a decoder would happily
// start on, and all three must allocate less than 64 KB in all.
func TestTooLargeRefusedEarly(t *testing.T) {
	// A PNG header claiming 100000 x 100000 (10^10 pixels: 40 GB as RGBA),
	// then an IDAT chunk of a zlib stream.
	huge := append(pngHeader(100000, 100000), 0, 0, 0, 2, 'I', 'D', 'A', 'T', 0x78, 0x9c, 0, 0, 0, 0)
	tests := []struct {
		name string
		data []byte
	}{
		{"png 100000x100000", huge},
		{"png 10001x10000", pngHeader(10001, 10000)},
		{"jpeg 65535x65535", jpegHeader(65535, 65535)},
		{"gif 65535x65535", gifHeader(65535, 65535)},
	}
	const limit = 64 << 10
	dir := t.TempDir()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, "huge")
			if err := os.WriteFile(path, tt.data, 0o644); err != nil {
				t.Fatal(err)
			}
			ops := []struct {
				name string
				f    func() error
			}{
				{"Decode", func() error { _, err := Decode(bytes.NewReader(tt.data)); return err }},
				{"Decode (not seekable)", func() error { _, err := Decode(io.MultiReader(bytes.NewReader(tt.data))); return err }},
				{"Load", func() error { _, err := Load(path); return err }},
				{"LoadVGG", func() error { _, err := LoadVGG(path, 224); return err }},
			}
			for _, op := range ops {
				var err error
				n := allocated(func() { err = op.f() })
				t.Logf("%s: %d bytes allocated: %v", op.name, n, err)
				if !errors.Is(err, ErrTooLarge) {
					t.Errorf("%s error = %v, want one that wraps %v", op.name, err, ErrTooLarge)
				}
				if n > limit {
					t.Errorf("%s allocated %d bytes refusing it, want <= %d", op.name, n, limit)
				}
			}
		})
	}
}

// TestDecodeReaderPosition checks that Decode starts where r is, whether r
// can seek or not.
func TestDecodeReaderPosition(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(testdata, "small", "tiny.png"))
	if err != nil {
		t.Fatal(err)
	}
	want := loadT(t, "small/tiny.png")
	prefix := []byte("skip me")
	for _, seekable := range []bool{true, false} {
		br := bytes.NewReader(append(append([]byte(nil), prefix...), data...))
		if _, err := br.Read(make([]byte, len(prefix))); err != nil {
			t.Fatal(err)
		}
		var r io.Reader = br
		if !seekable {
			r = io.MultiReader(br)
		}
		got, err := Decode(r)
		if err != nil {
			t.Fatalf("seekable %v: %v", seekable, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("seekable %v: Decode differs from Load", seekable)
		}
	}
}

// TestLoadVGGIsResizeOfCrop checks that LoadVGG, which resizes from the
// decoded image a few rows at a time, gives exactly Resize(CenterCrop(m))
// for m from Load: every sample file, sizes up, down, 1 and the crop's own.
func TestLoadVGGIsResizeOfCrop(t *testing.T) {
	names, err := filepath.Glob(filepath.Join(testdata, "small", "*"))
	if err != nil {
		t.Fatal(err)
	}
	names = append(names, filepath.Join(testdata, "chelsea.jpg"), filepath.Join(testdata, "coffee_rgba.png"))
	for _, path := range names {
		m, err := Load(path)
		if err != nil {
			t.Fatal(err)
		}
		crop := CenterCrop(m)
		for _, size := range []int{224, 7, 1, crop.H, crop.H - 1, 2*crop.H + 1} {
			want, err := Resize(crop, size, size)
			if err != nil {
				t.Fatal(err)
			}
			got, err := LoadVGG(path, size)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				maxAbs, _ := diff(got.Pix, want.Pix)
				t.Errorf("%s at %d: LoadVGG differs from Resize(CenterCrop(Load)) by up to %v", filepath.Base(path), size, maxAbs)
			}
		}
	}
}

// TestRowConverter checks each fast path of rowConverter, on random pixels
// of a sub-image (so that offsets and strides matter), against the
// conversion through the colour models it replaces: color.NRGBAModel for
// 8-bit images (which keeps the stored colour of straight alpha and
// un-premultiplies the rest), color.YCbCrToRGB for YCbCr, and
// color.NRGBA64Model for 16-bit ones and CMYK.
func TestRowConverter(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	// Large enough that an allocation per pixel would show.
	full := image.Rect(-3, 2, 254, 203)
	sub := image.Rect(-1, 4, 251, 201)
	fill := func(pix []uint8) {
		for i := range pix {
			// Many 0 and 255, for the alpha cases.
			switch rng.IntN(4) {
			case 0:
				pix[i] = 0
			case 1:
				pix[i] = 255
			default:
				pix[i] = uint8(rng.IntN(256))
			}
		}
	}
	u8 := func(c color.Color) [3]float32 {
		n := color.NRGBAModel.Convert(c).(color.NRGBA)
		return [3]float32{unit8[n.R], unit8[n.G], unit8[n.B]}
	}
	u16 := func(c color.Color) [3]float32 {
		n := color.NRGBA64Model.Convert(c).(color.NRGBA64)
		return [3]float32{unit16(n.R), unit16(n.G), unit16(n.B)}
	}
	ycc := func(c color.Color) [3]float32 {
		y := c.(color.YCbCr)
		r, g, b := color.YCbCrToRGB(y.Y, y.Cb, y.Cr)
		return [3]float32{unit8[r], unit8[g], unit8[b]}
	}
	pal := make(color.Palette, 200) // indexes 200..255 are past it: black
	for i := range pal {
		pal[i] = color.RGBA{uint8(i), uint8(i / 2), uint8(255 - i), uint8(max(i, 100))}
	}
	pal[7] = color.NRGBA{10, 20, 30, 0}
	tests := []struct {
		img  image.Image
		pix  []uint8
		want func(color.Color) [3]float32
	}{}
	add := func(img image.Image, pix []uint8, want func(color.Color) [3]float32) {
		fill(pix)
		tests = append(tests, struct {
			img  image.Image
			pix  []uint8
			want func(color.Color) [3]float32
		}{img, pix, want})
	}
	gray := image.NewGray(full)
	add(gray, gray.Pix, u8)
	gray16 := image.NewGray16(full)
	add(gray16, gray16.Pix, u16)
	nrgba := image.NewNRGBA(full)
	add(nrgba, nrgba.Pix, u8)
	nrgba64 := image.NewNRGBA64(full)
	add(nrgba64, nrgba64.Pix, u16)
	rgba := image.NewRGBA(full)
	add(rgba, rgba.Pix, u8)
	rgba64 := image.NewRGBA64(full)
	add(rgba64, rgba64.Pix, u16)
	cmyk := image.NewCMYK(full)
	add(cmyk, cmyk.Pix, u16)
	paletted := image.NewPaletted(full, pal)
	add(paletted, paletted.Pix, u8)
	for _, r := range []image.YCbCrSubsampleRatio{image.YCbCrSubsampleRatio444, image.YCbCrSubsampleRatio420, image.YCbCrSubsampleRatio410} {
		m := image.NewYCbCr(full, r)
		fill(m.Cb)
		fill(m.Cr)
		add(m, m.Y, ycc)
	}
	nycc := image.NewNYCbCrA(full, image.YCbCrSubsampleRatio422) // no fast path
	fill(nycc.Y)
	fill(nycc.Cb)
	fill(nycc.Cr)
	add(nycc, nycc.A, u16)

	for _, tt := range tests {
		img := tt.img.(interface {
			SubImage(image.Rectangle) image.Image
		}).SubImage(sub)
		got := toRGB(img)
		if got.W != sub.Dx() || got.H != sub.Dy() {
			t.Fatalf("%T: toRGB gives %dx%d, want %dx%d", img, got.W, got.H, sub.Dx(), sub.Dy())
		}
		for y := range got.H {
			for x := range got.W {
				c := safeAt(img, sub.Min.X+x, sub.Min.Y+y)
				if g, w := got.at(y, x), tt.want(c); !reflect.DeepEqual(g, w[:]) {
					t.Fatalf("%T: pixel (%d, %d) %v = %v, want %v", img, x, y, c, g, w)
				}
			}
		}
		// A part of a row, as LoadVGG converts it.
		row := make([]float32, 3*3)
		rowConverter(img)(row, sub.Min.X+2, sub.Min.Y+1)
		for i := range 3 {
			if w := tt.want(safeAt(img, sub.Min.X+2+i, sub.Min.Y+1)); !reflect.DeepEqual(row[3*i:3*i+3], w[:]) {
				t.Errorf("%T: row part pixel %d = %v, want %v", img, i, row[3*i:3*i+3], w)
			}
		}
		// The fast paths allocate the result and nothing per pixel: a few
		// KB more (the palette table is 3 KB), where 8 bytes per pixel
		// would be 400 KB.
		if _, slow := img.(*image.NYCbCrA); !slow {
			if n := allocated(func() { toRGB(img) }); n > uint64(len(got.Pix))*4+16<<10 {
				t.Errorf("%T: toRGB allocated %d bytes, want about the %d of its result", img, n, len(got.Pix)*4)
			}
		}
	}
}

// safeAt is img.At(x, y), but transparent black for a palette index past the
// palette, where image.Paletted.At panics.
func safeAt(img image.Image, x, y int) color.Color {
	if p, ok := img.(*image.Paletted); ok && int(p.ColorIndexAt(x, y)) >= len(p.Palette) {
		return color.RGBA{}
	}
	return img.At(x, y)
}

// bigPNG returns a w x h PNG of the given colour type and bit depth whose
// rows all repeat the first, a horizontal ramp: raw rows filtered "Up" are
// all zero, so it compresses about 1000 to 1. Adam7 interlacing is optional.
func bigPNG(t testing.TB, w, h int, colorType, depth byte, interlaced bool) []byte {
	t.Helper()
	channels := map[byte]int{0: 1, 2: 3, 4: 2, 6: 4}[colorType]
	bpp := channels * int(depth) / 8
	var idat bytes.Buffer
	zw, err := zlib.NewWriterLevel(&idat, zlib.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	// pass writes a pw x ph (sub)image: its first row with filter None, the
	// rest with filter Up and zero differences.
	pass := func(pw, ph int) {
		if pw == 0 || ph == 0 {
			return
		}
		row := make([]byte, 1+pw*bpp)
		for i := range row[1:] {
			row[1+i] = byte(i / bpp * 7)
		}
		zw.Write(row)
		zero := make([]byte, 1+pw*bpp)
		zero[0] = 2
		for range ph - 1 {
			zw.Write(zero)
		}
	}
	if interlaced {
		for _, p := range [7][4]int{{0, 0, 8, 8}, {4, 0, 8, 8}, {0, 4, 4, 8}, {2, 0, 4, 4}, {0, 2, 2, 4}, {1, 0, 2, 2}, {0, 1, 1, 2}} {
			x0, y0, dx, dy := p[0], p[1], p[2], p[3]
			pass((w-x0+dx-1)/dx, (h-y0+dy-1)/dy)
		}
	} else {
		pass(w, h)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	var il byte
	if interlaced {
		il = 1
	}
	ihdr := binary.BigEndian.AppendUint32(nil, uint32(w))
	ihdr = binary.BigEndian.AppendUint32(ihdr, uint32(h))
	ihdr = append(ihdr, depth, colorType, 0, 0, il)
	b := []byte("\x89PNG\r\n\x1a\n")
	chunk := func(typ string, data []byte) {
		b = binary.BigEndian.AppendUint32(b, uint32(len(data)))
		body := append([]byte(typ), data...)
		b = append(b, body...)
		b = binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(body))
	}
	chunk("IHDR", ihdr)
	chunk("IDAT", idat.Bytes())
	chunk("IEND", nil)
	return b
}

// flatJPEG returns a w x h progressive JPEG of nComp components (3: YCbCr,
// 4: CMYK, marked so by an Adobe APP14 segment), none subsampled, in which
// every block is flat grey: one DC scan of all components whose every
// difference is 0, coded as a one-bit Huffman code. It is the most memory
// Go's JPEG decoder needs per pixel: a progressive decode keeps every
// block's coefficients, and CMYK is converted into a new image at the end.
func flatJPEG(t testing.TB, w, h, nComp int) []byte {
	t.Helper()
	seg := func(b []byte, marker byte, body ...byte) []byte {
		b = append(b, 0xff, marker)
		b = binary.BigEndian.AppendUint16(b, uint16(2+len(body)))
		return append(b, body...)
	}
	b := []byte{0xff, 0xd8}
	if nComp == 4 {
		// "Adobe", version 100, flags 0 0, transform 0 (CMYK).
		b = seg(b, 0xee, 'A', 'd', 'o', 'b', 'e', 0, 100, 0, 0, 0, 0, 0)
	}
	dqt := append([]byte{0}, bytes.Repeat([]byte{1}, 64)...)
	b = seg(b, 0xdb, dqt...)
	sof := []byte{8, byte(h >> 8), byte(h), byte(w >> 8), byte(w), byte(nComp)}
	for i := range nComp {
		sof = append(sof, byte(i+1), 0x11, 0)
	}
	b = seg(b, 0xc2, sof...) // SOF2: progressive
	// DC table 0: one code of length 1, for difference category 0.
	dht := append([]byte{0x00, 1}, make([]byte, 15)...)
	b = seg(b, 0xc4, append(dht, 0)...)
	sos := []byte{byte(nComp)}
	for i := range nComp {
		sos = append(sos, byte(i+1), 0x00)
	}
	sos = append(sos, 0, 0, 0) // Ss=0, Se=0 (DC only), Ah=Al=0
	b = seg(b, 0xda, sos...)
	// One zero bit per block, padded with ones to a byte.
	bits := ((w + 7) / 8) * ((h + 7) / 8) * nComp
	b = append(b, make([]byte, bits/8)...)
	if bits%8 != 0 {
		b = append(b, 0xff>>(bits%8))
	}
	return append(b, 0xff, 0xd9)
}
