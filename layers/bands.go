package layers

import "fmt"

// Row bands: a kernel binds each tensor through a window of at most one
// binding (maxStorageBufferRange: 128 MiB on lavapipe and on many mobile
// and integrated GPUs), and a workgroup count of at most 65535 per axis.
// Where one image of a layer's input or output exceeds that (VGG's
// conv1_1 output at 1024x1024 is 256 MiB), the layer runs as bands of
// output rows, each a smaller layer of its own: an NHWC image's rows are
// contiguous, so a band's output rows and the input rows they read (with
// the window's overlap) are each one window, and the band's padding
// says which of its edges are the image's.

// rowWindow is the vertical geometry of a sliding window: KH rows,
// stride SH, and the padding above and below the image.
type rowWindow struct{ kh, sh, top, bottom int }

// pixelwise is the geometry of a layer whose output pixel reads only
// the same input pixel.
var pixelwise = rowWindow{kh: 1, sh: 1}

// rowBand is output rows [y0, y1) of image n and the input rows [a, b)
// they read, with the padding rows above a and below b that the band's
// windows see: the image's own padding at its edges, none inside. (The
// last band of a convolution padded by its window's height or more also
// takes output rows that read only padding below b while bottom stays 0:
// the convolution kernels read the padding below from the band's height,
// and poolings, whose averages use bottom, are never padded so.)
type rowBand struct {
	n, y0, y1   int
	a, b        int
	top, bottom int
}

// rows is the tensor of rows [a, b) of image n of t.
func (t Tensor) rows(n, a, b int) Tensor {
	s := t.Shape
	return Tensor{Buf: t.Buf, Off: t.Off + (n*s.H+a)*s.W*s.C, Shape: Shape{N: 1, H: b - a, W: s.W, C: s.C}}
}

// imageFits reports whether one image of in and of out each fit lim
// elements.
func imageFits(in, out Shape, lim int) bool {
	return in.Image() <= lim && out.Image() <= lim
}

// rowBands splits every image of in (output out, window g) into bands
// of output rows whose input rows and output rows each fit lim
// elements, and of at most maxRows output rows (the caller's dispatch
// limit), in order. Output rows that read only padding (a convolution
// padded by its window's height or more) join the band next to them, so
// that every band reads a row of the image.
func rowBands(what string, in, out Shape, g rowWindow, lim, maxRows int) ([]rowBand, error) {
	inRow, outRow := in.W*in.C, out.W*out.C
	switch {
	case maxRows < 1:
		return nil, fmt.Errorf("layers: %s: a row of %d output pixels is too wide for one dispatch on this device: use a narrower input", what, out.W)
	case lim/inRow < g.kh || lim/outRow < 1:
		return nil, fmt.Errorf("layers: %s: %d input rows of %dx%d (the window's height) or an output row of %dx%d exceed one binding of %d elements on this device: use a narrower input",
			what, g.kh, in.W, in.C, out.W, out.C, lim)
	}
	// Output rows [0, top) read only the padding above the image, rows
	// [bottom, out.H) only the padding below it.
	top, bottom := 0, out.H
	if g.top >= g.kh {
		top = min(out.H, (g.top-g.kh)/g.sh+1)
	}
	if first := (in.H + g.top + g.sh - 1) / g.sh; first < out.H {
		bottom = max(first, top)
	}
	if bottom <= top {
		return nil, fmt.Errorf("layers: %s: every output row reads only padding (%d and %d rows around a %d-row window)", what, g.top, g.bottom, g.kh)
	}
	// r output rows read (r-1)*sh + kh input rows at most. Each band
	// leaves room for the padding rows at both ends (a simple rule that
	// costs nothing where a binding holds many rows).
	r := min(out.H, lim/outRow-(out.H-bottom)-top, maxRows-(out.H-bottom)-top, (lim/inRow-g.kh)/g.sh+1)
	if r < 1 {
		return nil, fmt.Errorf("layers: %s: padding of %d and %d rows around a %d-row window leaves no band that fits one binding of %d elements and one dispatch on this device", what, g.top, g.bottom, g.kh, lim)
	}
	var bands []rowBand
	for n := 0; n < in.N; n++ {
		for y0 := top; y0 < bottom; y0 += r {
			y1 := min(bottom, y0+r)
			b, err := g.band(what, n, y0, y1, in.H)
			if err != nil {
				return nil, err
			}
			if y0 == top { // the rows of top padding join the first band
				b.y0 = 0
				b.top += top * g.sh
			}
			if y1 == bottom {
				b.y1 = out.H
			}
			bands = append(bands, b)
		}
	}
	return bands, nil
}

// band is the band of output rows [y0, y1) of image n over an input of
// h rows.
func (g rowWindow) band(what string, n, y0, y1, h int) (rowBand, error) {
	b := rowBand{n: n, y0: y0, y1: y1}
	first, last := y0*g.sh-g.top, (y1-1)*g.sh-g.top+g.kh // input rows read, padding included
	b.a, b.b = max(first, 0), min(last, h)
	b.top = b.a - first
	if last >= h {
		b.bottom = g.bottom
	}
	if b.a >= b.b {
		// Only padding (a window wider than its padding allows in a
		// band): no band can express it.
		return b, fmt.Errorf("layers: %s: output rows %d-%d read only padding; such a layer cannot be split into bands", what, y0, y1-1)
	}
	return b, nil
}

// bandsOf records record once for in and out when an image of each fits
// lim elements and a whole image's output rows fit maxRows, else once
// per row band (images of one band: the padding of the window g that
// its edges see, see rowBand). res, when not nil, is a tensor of out's
// shape that the bands split as out.
func bandsOf(what string, in, out Tensor, res *Tensor, g rowWindow, lim, maxRows int, record func(in, out Tensor, res *Tensor, top, bottom int) error) error {
	if imageFits(in.Shape, out.Shape, lim) && out.Shape.H <= maxRows {
		return record(in, out, res, g.top, g.bottom)
	}
	bands, err := rowBands(what, in.Shape, out.Shape, g, lim, maxRows)
	if err != nil {
		return err
	}
	for _, b := range bands {
		var rb *Tensor
		if res != nil {
			r := res.rows(b.n, b.y0, b.y1)
			rb = &r
		}
		if err := record(in.rows(b.n, b.a, b.b), out.rows(b.n, b.y0, b.y1), rb, b.top, b.bottom); err != nil {
			return err
		}
	}
	return nil
}
