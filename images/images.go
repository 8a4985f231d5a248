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
)

// MaxPixels is the largest image, in pixels (width times height), that Decode
// and Load accept: 100 megapixels. Decoding one that size takes about 1.6 GB:
// the decoded image plus its float32 RGB copy.
const MaxPixels = 100_000_000

// Errors wrapped by the errors of Decode and Load, for use with errors.Is.
var (
	// ErrFormat is for input that is not JPEG, PNG or GIF.
	ErrFormat = errors.New("unknown image format (want JPEG, PNG or GIF)")
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
	br := bufio.NewReader(r)
	if _, err := br.Peek(1); err != nil {
		if err == io.EOF {
			return RGB{}, fmt.Errorf("%w: empty file", ErrUnreadable)
		}
		return RGB{}, fmt.Errorf("%w: %w", ErrUnreadable, err)
	}
	// Read the header through a tee so that the bytes it consumed can be
	// replayed to the decoder: r need not be seekable.
	var head bytes.Buffer
	cfg, format, err := image.DecodeConfig(io.TeeReader(br, &head))
	if err != nil {
		return RGB{}, decodeErr(err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return RGB{}, fmt.Errorf("%w: %s header says %dx%d", ErrEmpty, format, cfg.Width, cfg.Height)
	}
	if px := int64(cfg.Width) * int64(cfg.Height); px > maxPixels {
		return RGB{}, fmt.Errorf("%w: %s of %dx%d has %d pixels, more than the limit of %d",
			ErrTooLarge, format, cfg.Width, cfg.Height, px, maxPixels)
	}
	img, _, err := image.Decode(io.MultiReader(&head, br))
	if err != nil {
		return RGB{}, decodeErr(err)
	}
	b := img.Bounds()
	if b.Empty() {
		return RGB{}, fmt.Errorf("%w: %s of %dx%d", ErrEmpty, format, b.Dx(), b.Dy())
	}
	// A GIF's first frame may differ from its header's screen size; never let
	// it be larger than what was checked.
	if px := int64(b.Dx()) * int64(b.Dy()); px > maxPixels {
		return RGB{}, fmt.Errorf("%w: %s of %dx%d", ErrTooLarge, format, b.Dx(), b.Dy())
	}
	return toRGB(img), nil
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

// toRGB converts img to RGB, with fast paths for the types Go's JPEG, PNG and
// GIF decoders return most often.
func toRGB(img image.Image) RGB {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	out := RGB{H: h, W: w, Pix: make([]float32, w*h*3)}
	p := out.Pix
	switch m := img.(type) {
	case *image.YCbCr:
		for y := range h {
			for x := range w {
				yi := m.YOffset(b.Min.X+x, b.Min.Y+y)
				ci := m.COffset(b.Min.X+x, b.Min.Y+y)
				r, g, bl := color.YCbCrToRGB(m.Y[yi], m.Cb[ci], m.Cr[ci])
				o := (y*w + x) * 3
				p[o], p[o+1], p[o+2] = unit8[r], unit8[g], unit8[bl]
			}
		}
	case *image.Gray:
		for y := range h {
			row := m.Pix[y*m.Stride : y*m.Stride+w]
			for x, v := range row {
				o := (y*w + x) * 3
				f := unit8[v]
				p[o], p[o+1], p[o+2] = f, f, f
			}
		}
	case *image.NRGBA:
		for y := range h {
			row := m.Pix[y*m.Stride : y*m.Stride+4*w]
			for x := range w {
				o := (y*w + x) * 3
				p[o], p[o+1], p[o+2] = unit8[row[4*x]], unit8[row[4*x+1]], unit8[row[4*x+2]]
			}
		}
	case *image.Paletted:
		// Convert the palette once; entries may be premultiplied color.RGBA.
		// An index past the palette stays black, as image.Paletted.At gives a
		// zero colour there.
		var pal [256][3]float32
		for i, c := range m.Palette[:min(len(m.Palette), 256)] {
			n := color.NRGBAModel.Convert(c).(color.NRGBA)
			pal[i] = [3]float32{unit8[n.R], unit8[n.G], unit8[n.B]}
		}
		for y := range h {
			row := m.Pix[y*m.Stride : y*m.Stride+w]
			for x, v := range row {
				o := (y*w + x) * 3
				c := pal[v]
				p[o], p[o+1], p[o+2] = c[0], c[1], c[2]
			}
		}
	case *image.RGBA:
		for y := range h {
			row := m.Pix[y*m.Stride : y*m.Stride+4*w]
			for x := range w {
				o := (y*w + x) * 3
				c := color.RGBA{row[4*x], row[4*x+1], row[4*x+2], row[4*x+3]}
				if c.A != 0xff {
					n := color.NRGBAModel.Convert(c).(color.NRGBA)
					c = color.RGBA{n.R, n.G, n.B, 0xff}
				}
				p[o], p[o+1], p[o+2] = unit8[c.R], unit8[c.G], unit8[c.B]
			}
		}
	default:
		// RGBA, 16-bit, CMYK and anything else: through NRGBA64, which
		// un-premultiplies.
		for y := range h {
			for x := range w {
				c := color.NRGBA64Model.Convert(img.At(b.Min.X+x, b.Min.Y+y)).(color.NRGBA64)
				o := (y*w + x) * 3
				p[o], p[o+1], p[o+2] = unit16(c.R), unit16(c.G), unit16(c.B)
			}
		}
	}
	return out
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
