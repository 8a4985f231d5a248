package images

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
)

func loadT(t *testing.T, name string) RGB {
	t.Helper()
	m, err := Load(filepath.Join(testdata, name))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// checkRGB fails t unless m is well formed with every value in [0, 1].
func checkRGB(t *testing.T, m RGB) {
	t.Helper()
	if err := m.check(); err != nil {
		t.Fatal(err)
	}
	for i, v := range m.Pix {
		if !(v >= 0 && v <= 1) {
			t.Fatalf("Pix[%d] = %v, want in [0, 1]", i, v)
		}
	}
}

// TestSize: Size reads a header's size with Load's checks and errors:
// a file that is no image, a missing file and one whose header exceeds
// MaxPixels are refused by name.
func TestSize(t *testing.T) {
	dir := t.TempDir()
	text := filepath.Join(dir, "notes.jpg")
	if err := os.WriteFile(text, []byte("not an image"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Size(text); !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "notes.jpg") {
		t.Errorf("a text file: %v", err)
	}
	if _, _, err := Size(filepath.Join(dir, "missing.png")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a missing file: %v", err)
	}
	var big bytes.Buffer
	if err := png.Encode(&big, image.NewGray(image.Rect(0, 0, 1, 1))); err != nil {
		t.Fatal(err)
	}
	data := big.Bytes()
	binary.BigEndian.PutUint32(data[16:], 1<<20) // IHDR width: 1M x 1 ...
	binary.BigEndian.PutUint32(data[20:], 1<<20) // ... x 1M pixels
	binary.BigEndian.PutUint32(data[29:], crc32.ChecksumIEEE(data[12:29]))
	huge := filepath.Join(dir, "huge.png")
	if err := os.WriteFile(huge, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Size(huge); !errors.Is(err, ErrTooLarge) {
		t.Errorf("a header of 1M x 1M pixels: %v", err)
	}
}

func TestLoadSamples(t *testing.T) {
	tests := []struct {
		name string
		h, w int
		grey bool // all three channels equal
	}{
		{"chelsea.jpg", 300, 451, false},
		{"coffee_rgba.png", 200, 300, false},
		{"rocket_gray.jpg", 427, 640, true},
		{"small/tiny.jpg", 16, 24, false},
		{"small/tiny444.jpg", 16, 24, false},
		{"small/tiny_progressive.jpg", 16, 24, false},
		{"small/tiny_gray.jpg", 16, 24, true},
		{"small/tiny_cmyk.jpg", 16, 24, false},
		{"small/tiny.png", 16, 24, false},
		{"small/tiny_gray.png", 16, 24, true},
		{"small/tiny_gray_alpha.png", 16, 24, true},
		{"small/tiny_rgba.png", 16, 24, false},
		{"small/tiny16.png", 16, 24, false},
		{"small/tiny_pal.png", 16, 24, false},
		{"small/tiny.gif", 16, 24, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := loadT(t, tt.name)
			checkRGB(t, m)
			if m.H != tt.h || m.W != tt.w {
				t.Errorf("size = %dx%d, want %dx%d", m.W, m.H, tt.w, tt.h)
			}
			if w, h, err := Size(filepath.Join(testdata, tt.name)); err != nil || w != tt.w || h != tt.h {
				t.Errorf("Size = %dx%d, %v, want %dx%d", w, h, err, tt.w, tt.h)
			}
			grey := true
			for i := 0; i < len(m.Pix); i += 3 {
				if m.Pix[i] != m.Pix[i+1] || m.Pix[i] != m.Pix[i+2] {
					grey = false
					break
				}
			}
			if grey != tt.grey {
				t.Errorf("all channels equal = %v, want %v", grey, tt.grey)
			}
		})
	}
}

// TestAlphaDropped checks that alpha is dropped with the colour kept as
// stored: make_samples.py wrote tiny_rgba.png as tiny.png's pixels plus an
// alpha ramp from 0 to 255, and tiny_gray_alpha.png likewise.
func TestAlphaDropped(t *testing.T) {
	tests := []struct{ plain, alpha string }{
		{"small/tiny.png", "small/tiny_rgba.png"},
		{"small/tiny_gray.png", "small/tiny_gray_alpha.png"},
	}
	for _, tt := range tests {
		want, got := loadT(t, tt.plain), loadT(t, tt.alpha)
		if maxAbs, _ := diff(got.Pix, want.Pix); maxAbs != 0 {
			t.Errorf("%s differs from %s by up to %v, want 0", tt.alpha, tt.plain, maxAbs)
		}
	}
}

func TestSixteenBit(t *testing.T) {
	// make_samples.py: tiny16 = tiny*256 + 10*x in each channel.
	m8, m16 := loadT(t, "small/tiny.png"), loadT(t, "small/tiny16.png")
	for i, v := range m16.Pix {
		x := (i / 3) % m16.W
		v8 := math.Round(float64(m8.Pix[i]) * 255)
		want := float32((v8*256 + float64(10*x)) / 65535)
		if v != want {
			t.Fatalf("Pix[%d] = %v, want %v", i, v, want)
		}
	}
}

func TestGIFFirstFrame(t *testing.T) {
	// The GIF's first frame is tiny_pal.png's image; its transparent palette
	// entry (index 0) reads black in the GIF (premultiplied, so no colour) and
	// keeps its colour in the PNG (straight alpha).
	g, p := loadT(t, "small/tiny.gif"), loadT(t, "small/tiny_pal.png")
	same, black := 0, 0
	for i := 0; i < len(g.Pix); i += 3 {
		switch {
		case g.Pix[i] == p.Pix[i] && g.Pix[i+1] == p.Pix[i+1] && g.Pix[i+2] == p.Pix[i+2]:
			same++
		case g.Pix[i] == 0 && g.Pix[i+1] == 0 && g.Pix[i+2] == 0:
			black++
		default:
			t.Fatalf("pixel %d: GIF %v, PNG %v", i/3, g.Pix[i:i+3], p.Pix[i:i+3])
		}
	}
	if same < len(g.Pix)/3/2 {
		t.Errorf("%d of %d pixels equal to the first frame's, want most", same, len(g.Pix)/3)
	}
}

// encode returns img encoded by Go's encoder for format.
func encode(t *testing.T, format string, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	var err error
	switch format {
	case "png":
		err = png.Encode(&b, img)
	case "gif":
		err = gif.Encode(&b, img, nil)
	case "jpeg":
		err = jpeg.Encode(&b, img, &jpeg.Options{Quality: 100})
	}
	if err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestDecodeValues(t *testing.T) {
	nrgba := image.NewNRGBA(image.Rect(0, 0, 2, 1))
	nrgba.SetNRGBA(0, 0, color.NRGBA{200, 100, 50, 0}) // transparent: colour kept
	nrgba.SetNRGBA(1, 0, color.NRGBA{255, 0, 1, 128})
	gray := image.NewGray(image.Rect(0, 0, 2, 1))
	gray.SetGray(0, 0, color.Gray{0})
	gray.SetGray(1, 0, color.Gray{51})
	rgba := image.NewRGBA(image.Rect(0, 0, 2, 1)) // opaque: PNG stores it as RGB
	rgba.SetRGBA(0, 0, color.RGBA{1, 2, 3, 255})
	rgba.SetRGBA(1, 0, color.RGBA{255, 254, 253, 255})
	pal := image.NewPaletted(image.Rect(0, 0, 2, 1), color.Palette{color.RGBA{}, color.RGBA{0, 0, 255, 255}})
	pal.SetColorIndex(0, 0, 0) // transparent in the GIF
	pal.SetColorIndex(1, 0, 1)
	flat := image.NewGray(image.Rect(0, 0, 8, 8)) // JPEG of a flat grey decodes exactly
	for i := range flat.Pix {
		flat.Pix[i] = 102
	}
	u := func(v float64) float32 { return float32(v / 255) }
	tests := []struct {
		name string
		data []byte
		want RGB
	}{
		{"png nrgba", encode(t, "png", nrgba), RGB{1, 2, []float32{u(200), u(100), u(50), 1, 0, u(1)}}},
		{"png gray", encode(t, "png", gray), RGB{1, 2, []float32{0, 0, 0, 0.2, 0.2, 0.2}}},
		{"png rgb", encode(t, "png", rgba), RGB{1, 2, []float32{u(1), u(2), u(3), 1, u(254), u(253)}}},
		{"gif", encode(t, "gif", pal), RGB{1, 2, []float32{0, 0, 0, 0, 0, 1}}},
		{"jpeg gray", encode(t, "jpeg", flat), RGB{8, 8, bytes8x8(0.4)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decode(bytes.NewReader(tt.data))
			if err != nil {
				t.Fatal(err)
			}
			if got.H != tt.want.H || got.W != tt.want.W {
				t.Fatalf("size = %dx%d, want %dx%d", got.W, got.H, tt.want.W, tt.want.H)
			}
			for i := range got.Pix {
				if got.Pix[i] != tt.want.Pix[i] {
					t.Fatalf("Pix = %v, want %v", got.Pix, tt.want.Pix)
				}
			}
		})
	}
}

// bytes8x8 returns an 8x8 RGB image's values, all v.
func bytes8x8(v float32) []float32 {
	p := make([]float32, 8*8*3)
	for i := range p {
		p[i] = v
	}
	return p
}

// pngHeader returns a PNG signature and IHDR chunk for a w x h RGB image,
// and no image data.
func pngHeader(w, h uint32) []byte {
	ihdr := binary.BigEndian.AppendUint32(nil, w)
	ihdr = binary.BigEndian.AppendUint32(ihdr, h)
	ihdr = append(ihdr, 8, 2, 0, 0, 0)
	b := []byte("\x89PNG\r\n\x1a\n")
	b = binary.BigEndian.AppendUint32(b, uint32(len(ihdr)))
	body := append([]byte("IHDR"), ihdr...)
	b = append(b, body...)
	return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(body))
}

// gifHeader returns a GIF header with a w x h logical screen and nothing more.
func gifHeader(w, h uint16) []byte {
	b := []byte("GIF89a")
	b = binary.LittleEndian.AppendUint16(b, w)
	b = binary.LittleEndian.AppendUint16(b, h)
	return append(b, 0, 0, 0)
}

// jpegHeader returns a JPEG start, JFIF segment and baseline frame header for
// w x h, 3 components, and nothing more.
func jpegHeader(w, h uint16) []byte {
	b := []byte{0xff, 0xd8, 0xff, 0xe0, 0, 16, 'J', 'F', 'I', 'F', 0, 1, 1, 0, 0, 1, 0, 1, 0, 0}
	b = append(b, 0xff, 0xc0, 0, 17, 8)
	b = binary.BigEndian.AppendUint16(b, h)
	b = binary.BigEndian.AppendUint16(b, w)
	return append(b, 3, 1, 0x22, 0, 2, 0x11, 0, 3, 0x11, 0)
}

func TestDecodeErrors(t *testing.T) {
	chelsea, err := os.ReadFile(filepath.Join(testdata, "chelsea.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	tinyPNG, err := os.ReadFile(filepath.Join(testdata, "small", "tiny.png"))
	if err != nil {
		t.Fatal(err)
	}
	readErr := errors.New("disk on fire")
	tests := []struct {
		name string
		r    io.Reader
		want error
	}{
		{"empty", bytes.NewReader(nil), ErrUnreadable},
		{"text", strings.NewReader("hello, world: not an image\n"), ErrFormat},
		{"truncated bmp", strings.NewReader("BM\x36\x00\x00\x00\x00\x00\x00\x00\x36\x00\x00\x00"), ErrUnreadable},
		{"tiff", strings.NewReader("II*\x00\x08\x00\x00\x00"), ErrFormat},
		{"truncated jpeg", bytes.NewReader(chelsea[:len(chelsea)/3]), ErrUnreadable},
		{"jpeg cut in header", bytes.NewReader(chelsea[:30]), ErrUnreadable},
		{"truncated png", bytes.NewReader(tinyPNG[:len(tinyPNG)-40]), ErrUnreadable},
		{"corrupt png", bytes.NewReader(append(append([]byte(nil), tinyPNG[:60]...), bytes.Repeat([]byte{0x55}, 200)...)), ErrUnreadable},
		{"png header only", bytes.NewReader(pngHeader(5, 5)), ErrUnreadable},
		{"png zero width", bytes.NewReader(pngHeader(0, 5)), ErrUnreadable},
		{"gif zero size", bytes.NewReader(gifHeader(0, 0)), ErrEmpty},
		{"png 20000x20000", bytes.NewReader(pngHeader(20000, 20000)), ErrTooLarge},
		{"png 2^31-1 square", bytes.NewReader(pngHeader(1<<31-1, 1<<31-1)), ErrUnreadable},
		{"gif 65535x65535", bytes.NewReader(gifHeader(65535, 65535)), ErrTooLarge},
		{"jpeg 65535x65535", bytes.NewReader(jpegHeader(65535, 65535)), ErrTooLarge},
		{"jpeg 10001x10000", bytes.NewReader(jpegHeader(10001, 10000)), ErrTooLarge},
		{"read error", iotest.ErrReader(readErr), readErr},
		{"read error after header", io.MultiReader(bytes.NewReader(chelsea[:1000]), iotest.ErrReader(readErr)), readErr},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Decode(tt.r)
			if err == nil {
				t.Fatalf("Decode = %dx%d image, want an error", m.W, m.H)
			}
			if !errors.Is(err, tt.want) {
				t.Errorf("Decode error = %v, want one that wraps %v", err, tt.want)
			}
			if !strings.HasPrefix(err.Error(), "images: ") {
				t.Errorf("Decode error = %q, want it to start with %q", err, "images: ")
			}
			t.Log(err)
		})
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	text := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(text, []byte("not an image"), 0o644); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty.jpg")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.png")
	tests := []struct {
		path string
		want error
		msg  string
	}{
		{text, ErrFormat, "images: " + text + ": unknown image format"},
		{empty, ErrUnreadable, "images: " + empty + ": unreadable image: empty file"},
		{missing, fs.ErrNotExist, missing},
		{dir, ErrUnreadable, dir}, // a directory: reading it fails
	}
	for _, tt := range tests {
		_, err := Load(tt.path)
		if !errors.Is(err, tt.want) {
			t.Errorf("Load(%s) error = %v, want one that wraps %v", tt.path, err, tt.want)
			continue
		}
		if !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("Load(%s) error = %q, want it to contain %q", tt.path, err, tt.msg)
		}
	}
}

// TestWebPAndBMP decodes a lossless WebP and a BMP that Pillow wrote from
// tiny.png, and expects tiny.png's pixels exactly.
func TestWebPAndBMP(t *testing.T) {
	want, err := Load("../testdata/images/small/tiny.png")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"tiny_lossless.webp", "tiny.bmp"} {
		got, err := Load("../testdata/images/small/" + name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got.H != want.H || got.W != want.W {
			t.Fatalf("%s: %dx%d, want %dx%d", name, got.W, got.H, want.W, want.H)
		}
		for i := range want.Pix {
			if got.Pix[i] != want.Pix[i] {
				t.Fatalf("%s: value %d is %v, want %v", name, i, got.Pix[i], want.Pix[i])
			}
		}
	}
}
