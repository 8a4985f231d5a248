package images

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	_ "image/gif"  // register GIF with image.Decode
	_ "image/jpeg" // register JPEG with image.Decode
	_ "image/png"  // register PNG with image.Decode
	"io"
	"os"
	"runtime"

	_ "golang.org/x/image/bmp"  // register BMP with image.Decode
	_ "golang.org/x/image/webp" // register WebP with image.Decode
)

// MaxPixels is the largest image, in pixels (width times height), that Decode
// and Load accept: 100 megapixels. The package documentation says how much
// memory decoding one that size takes (section Memory).
const MaxPixels = 100_000_000

// rgbBytesPerPixel is the memory one pixel of an RGB takes: three float32.
const rgbBytesPerPixel = 12

// Errors wrapped by the errors of Decode and Load, for use with errors.Is.
var (
	// ErrFormat is for input that is not JPEG, PNG, GIF, WebP or BMP.
	ErrFormat = errors.New("unknown image format (want JPEG, PNG, GIF, WebP or BMP)")
	// ErrUnreadable is for an image file that is empty, truncated or corrupt.
	ErrUnreadable = errors.New("unreadable image")
	// ErrEmpty is for an image with no pixels: width or height 0.
	ErrEmpty = errors.New("zero-size image")
	// ErrTooLarge is for an image of more than MaxPixels pixels.
	ErrTooLarge = errors.New("image too large")
)

// RGB is an image as float32 RGB in [0,1], row-major H x W x 3 (HWC): the
// red, green and blue of the pixel in row y and column x are
// Pix[(y*W+x)*3+0], Pix[(y*W+x)*3+1] and Pix[(y*W+x)*3+2].
type RGB struct {
	// H and W are the height and width in pixels.
	H, W int
	// Pix holds H*W*3 values.
	Pix []float32
}

// check reports whether m is a well-formed, non-empty image.
func (m RGB) check() error {
	if m.H <= 0 || m.W <= 0 {
		return fmt.Errorf("%w: %dx%d", ErrEmpty, m.W, m.H)
	}
	if n := int64(m.H) * int64(m.W) * 3; int64(len(m.Pix)) != n || n/3/int64(m.H) != int64(m.W) {
		return fmt.Errorf("malformed RGB: %dx%d image with %d values, want %d", m.W, m.H, len(m.Pix), n)
	}
	return nil
}

// Decode reads a JPEG, PNG or GIF image from r and converts it to RGB, as the
// package documentation describes.
func Decode(r io.Reader) (RGB, error) {
	m, err := decode(r, MaxPixels)
	if err != nil {
		return RGB{}, fmt.Errorf("images: %w", err)
	}
	return m, nil
}

// Load reads the JPEG, PNG or GIF image in the file at path. Its errors name
// the file and the problem, such as "images: cat.txt: unknown image format
// (want JPEG, PNG or GIF)".
func Load(path string) (RGB, error) {
	f, err := os.Open(path)
	if err != nil {
		return RGB{}, fmt.Errorf("images: %w", err)
	}
	defer f.Close()
	m, err := decode(f, MaxPixels)
	if err != nil {
		return RGB{}, fmt.Errorf("images: %s: %w", path, err)
	}
	return m, nil
}

// decode is Decode with a pixel limit, so that the fuzz test can use a small
// one. Its errors have no "images: " prefix.
func decode(r io.Reader, maxPixels int64) (RGB, error) {
	img, err := decodeImage(r, maxPixels)
	if err != nil {
		return RGB{}, err
	}
	if b := img.Bounds(); b.Dx()*b.Dy() >= gcPixels {
		// Go's decoders can leave garbage larger than the image they
		// return: the passes of an interlaced PNG (as large as it), the
		// coefficients and planes of a progressive CMYK JPEG (five times
		// it). Collect it before the float32 copy is allocated, so that
		// the peak is the larger of the decoder's and the image plus the
		// copy, not their sum; next to decoding an image this large, a
		// collection costs little.
		runtime.GC()
	}
	return toRGB(img), nil
}

// gcPixels is the size of image, in pixels, from which decode collects the
// decoder's garbage before converting: 4 megapixels, for which the float32
// copy is 50 MB.
const gcPixels = 1 << 22

// decodeImage decodes r with Go's decoders after checking the header's size
// against maxPixels, so that no pixel memory is allocated for an image that
// is refused. The image it returns is non-empty and within the limit.
func decodeImage(r io.Reader, maxPixels int64) (image.Image, error) {
	br := bufio.NewReader(r)
	if _, err := br.Peek(1); err != nil {
		if err == io.EOF {
			return nil, fmt.Errorf("%w: empty file", ErrUnreadable)
		}
		return nil, fmt.Errorf("%w: %w", ErrUnreadable, err)
	}
	// The header is read twice, by DecodeConfig and by Decode. A seekable r
	// (a file, a bytes.Reader) is wound back; any other is read through a
	// tee that keeps the bytes DecodeConfig consumed, to replay them. A
	// JPEG's header can be long (metadata comes before the frame header),
	// and seeking keeps that copy out of memory.
	var rs io.ReadSeeker
	var start int64
	if s, ok := r.(io.ReadSeeker); ok {
		// Where r was when br first read from it: br holds what it read.
		if pos, err := s.Seek(0, io.SeekCurrent); err == nil {
			rs, start = s, pos-int64(br.Buffered())
		}
	}
	var head bytes.Buffer
	cfgSrc := io.Reader(br)
	if rs == nil {
		cfgSrc = io.TeeReader(br, &head)
	}
	cfg, format, err := image.DecodeConfig(cfgSrc)
	if err != nil {
		return nil, decodeErr(err)
	}
	if err := checkConfig(cfg, format, maxPixels); err != nil {
		return nil, err
	}
	var src io.Reader
	if rs != nil {
		if _, err := rs.Seek(start, io.SeekStart); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrUnreadable, err)
		}
		br.Reset(rs)
		src = br
	} else {
		src = io.MultiReader(&head, br)
	}
	img, _, err := image.Decode(src)
	if err != nil {
		return nil, decodeErr(err)
	}
	b := img.Bounds()
	if b.Empty() {
		return nil, fmt.Errorf("%w: %s of %dx%d", ErrEmpty, format, b.Dx(), b.Dy())
	}
	// A GIF's first frame may differ from its header's screen size; never let
	// it be larger than what was checked.
	if px := int64(b.Dx()) * int64(b.Dy()); px > maxPixels {
		return nil, fmt.Errorf("%w: %s of %dx%d", ErrTooLarge, format, b.Dx(), b.Dy())
	}
	return img, nil
}

// checkConfig checks an image's header: not empty, and within
// maxPixels.
func checkConfig(cfg image.Config, format string, maxPixels int64) error {
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return fmt.Errorf("%w: %s header says %dx%d", ErrEmpty, format, cfg.Width, cfg.Height)
	}
	if px := int64(cfg.Width) * int64(cfg.Height); px > maxPixels {
		return fmt.Errorf("%w: %s of %dx%d has %d pixels, more than the limit of %d",
			ErrTooLarge, format, cfg.Width, cfg.Height, px, maxPixels)
	}
	return nil
}

// Size reads the width and height of the image in the file at path from
// its header alone, with Load's checks of it (a format Load reads, not
// empty, within MaxPixels) and errors naming the file: a program can
// check a list of files before it decodes any. (A GIF's first frame,
// which Load returns, may be smaller than its header's screen.)
func Size(path string) (w, h int, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, fmt.Errorf("images: %w", err)
	}
	defer f.Close()
	cfg, format, err := image.DecodeConfig(bufio.NewReader(f))
	if err == nil {
		err = checkConfig(cfg, format, MaxPixels)
	} else {
		err = decodeErr(err)
	}
	if err != nil {
		return 0, 0, fmt.Errorf("images: %s: %w", path, err)
	}
	return cfg.Width, cfg.Height, nil
}

// decodeErr maps the errors of image.DecodeConfig and image.Decode to this
// package's.
func decodeErr(err error) error {
	switch {
	case errors.Is(err, image.ErrFormat):
		return ErrFormat
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return fmt.Errorf("%w: truncated file (%w)", ErrUnreadable, err)
	}
	return fmt.Errorf("%w: %w", ErrUnreadable, err)
}

// toRGB converts img to RGB. Only the result is allocated: img's rows are
// converted straight into it.
func toRGB(img image.Image) RGB {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	out := RGB{H: h, W: w, Pix: make([]float32, w*h*3)}
	conv := rowConverter(img)
	for y := range h {
		conv(out.Pix[y*w*3:(y+1)*w*3], b.Min.X, b.Min.Y+y)
	}
	return out
}

// rowConverter returns a function that writes len(dst)/3 pixels of img's row
// y, from column x on (image coordinates), to dst as float32 RGB, as the
// package documentation describes. It has fast paths, which allocate
// nothing per pixel, for every image type that Go's JPEG, PNG and GIF
// decoders return.
func rowConverter(img image.Image) func(dst []float32, x, y int) {
	switch m := img.(type) {
	case *image.YCbCr:
		return func(dst []float32, x0, y int) {
			for i := range len(dst) / 3 {
				yi, ci := m.YOffset(x0+i, y), m.COffset(x0+i, y)
				r, g, b := color.YCbCrToRGB(m.Y[yi], m.Cb[ci], m.Cr[ci])
				dst[3*i], dst[3*i+1], dst[3*i+2] = unit8[r], unit8[g], unit8[b]
			}
		}
	case *image.Gray:
		return func(dst []float32, x0, y int) {
			row := m.Pix[m.PixOffset(x0, y):][:len(dst)/3]
			for i, v := range row {
				f := unit8[v]
				dst[3*i], dst[3*i+1], dst[3*i+2] = f, f, f
			}
		}
	case *image.Gray16:
		return func(dst []float32, x0, y int) {
			row := m.Pix[m.PixOffset(x0, y):][:len(dst)/3*2]
			for i := range len(dst) / 3 {
				f := unit16(uint16(row[2*i])<<8 | uint16(row[2*i+1]))
				dst[3*i], dst[3*i+1], dst[3*i+2] = f, f, f
			}
		}
	case *image.NRGBA:
		// Straight alpha: the colour as stored.
		return func(dst []float32, x0, y int) {
			row := m.Pix[m.PixOffset(x0, y):][:len(dst)/3*4]
			for i := range len(dst) / 3 {
				p := row[4*i : 4*i+3]
				dst[3*i], dst[3*i+1], dst[3*i+2] = unit8[p[0]], unit8[p[1]], unit8[p[2]]
			}
		}
	case *image.NRGBA64:
		return func(dst []float32, x0, y int) {
			row := m.Pix[m.PixOffset(x0, y):][:len(dst)/3*8]
			for i := range len(dst) / 3 {
				p := row[8*i : 8*i+6]
				dst[3*i] = unit16(uint16(p[0])<<8 | uint16(p[1]))
				dst[3*i+1] = unit16(uint16(p[2])<<8 | uint16(p[3]))
				dst[3*i+2] = unit16(uint16(p[4])<<8 | uint16(p[5]))
			}
		}
	case *image.RGBA:
		// Premultiplied: un-premultiplied as color.NRGBAModel does.
		return func(dst []float32, x0, y int) {
			row := m.Pix[m.PixOffset(x0, y):][:len(dst)/3*4]
			for i := range len(dst) / 3 {
				r, g, b := unpremul8(row[4*i], row[4*i+1], row[4*i+2], row[4*i+3])
				dst[3*i], dst[3*i+1], dst[3*i+2] = unit8[r], unit8[g], unit8[b]
			}
		}
	case *image.RGBA64:
		return func(dst []float32, x0, y int) {
			row := m.Pix[m.PixOffset(x0, y):][:len(dst)/3*8]
			for i := range len(dst) / 3 {
				p := row[8*i : 8*i+8]
				r, g, b := unpremul16(uint32(p[0])<<8|uint32(p[1]), uint32(p[2])<<8|uint32(p[3]),
					uint32(p[4])<<8|uint32(p[5]), uint32(p[6])<<8|uint32(p[7]))
				dst[3*i], dst[3*i+1], dst[3*i+2] = unit16(r), unit16(g), unit16(b)
			}
		}
	case *image.CMYK:
		return func(dst []float32, x0, y int) {
			row := m.Pix[m.PixOffset(x0, y):][:len(dst)/3*4]
			for i := range len(dst) / 3 {
				p := row[4*i : 4*i+4]
				r, g, b, _ := color.CMYK{C: p[0], M: p[1], Y: p[2], K: p[3]}.RGBA()
				dst[3*i], dst[3*i+1], dst[3*i+2] = unit16(uint16(r)), unit16(uint16(g)), unit16(uint16(b))
			}
		}
	case *image.Paletted:
		// Convert the palette once; entries may be premultiplied color.RGBA.
		// An index past the palette, which Go's decoders never give (PNG's
		// extends the palette, GIF's refuses the file), reads black.
		var pal [256][3]float32
		for i, c := range m.Palette[:min(len(m.Palette), 256)] {
			n := color.NRGBAModel.Convert(c).(color.NRGBA)
			pal[i] = [3]float32{unit8[n.R], unit8[n.G], unit8[n.B]}
		}
		return func(dst []float32, x0, y int) {
			row := m.Pix[m.PixOffset(x0, y):][:len(dst)/3]
			for i, v := range row {
				c := &pal[v]
				dst[3*i], dst[3*i+1], dst[3*i+2] = c[0], c[1], c[2]
			}
		}
	}
	// Anything else: through NRGBA64, which un-premultiplies.
	return func(dst []float32, x0, y int) {
		for i := range len(dst) / 3 {
			c := color.NRGBA64Model.Convert(img.At(x0+i, y)).(color.NRGBA64)
			dst[3*i], dst[3*i+1], dst[3*i+2] = unit16(c.R), unit16(c.G), unit16(c.B)
		}
	}
}

// unpremul8 returns the straight colour of a premultiplied 8-bit pixel, as
// color.NRGBAModel computes it: black where alpha is 0.
func unpremul8(r, g, b, a uint8) (uint8, uint8, uint8) {
	switch a {
	case 0xff:
		return r, g, b
	case 0:
		return 0, 0, 0
	}
	a16 := uint32(a) * 0x101
	f := func(v uint8) uint8 { return uint8((uint32(v) * 0x101 * 0xffff / a16) >> 8) }
	return f(r), f(g), f(b)
}

// unpremul16 returns the straight colour of a premultiplied 16-bit pixel, as
// color.NRGBA64Model computes it: black where alpha is 0.
func unpremul16(r, g, b, a uint32) (uint16, uint16, uint16) {
	switch a {
	case 0xffff:
		return uint16(r), uint16(g), uint16(b)
	case 0:
		return 0, 0, 0
	}
	return uint16(r * 0xffff / a), uint16(g * 0xffff / a), uint16(b * 0xffff / a)
}

// unit8[v] is v/255 rounded once to float32, as float64 v/255.0 stored as
// float32 would be.
var unit8 = func() (t [256]float32) {
	for i := range t {
		t[i] = float32(float64(i) / 255)
	}
	return t
}()

// unit16 returns v/65535 rounded once to float32.
func unit16(v uint16) float32 { return float32(float64(v) / 65535) }
