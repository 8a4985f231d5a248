package images

import (
	"errors"
	"fmt"
	"image"
	"math"
	"os"
	"slices"
)

// CenterCrop returns the centred square of img whose side is img's shorter
// side, as tensorflow-vgg's load_image cuts it: the offset along the longer
// side is (long-short)/2 rounded down. The result is a copy. An empty or
// malformed img gives an empty RGB.
func CenterCrop(img RGB) RGB {
	if img.check() != nil {
		return RGB{}
	}
	s := min(img.H, img.W)
	y0, x0 := (img.H-s)/2, (img.W-s)/2
	out := RGB{H: s, W: s, Pix: make([]float32, s*s*3)}
	for y := range s {
		src := img.Pix[((y0+y)*img.W+x0)*3:]
		copy(out.Pix[y*s*3:(y+1)*s*3], src[:s*3])
	}
	return out
}

// Resize returns img resized to h x w the way skimage.transform.resize(img,
// (h, w)) does with its default arguments: a Gaussian anti-aliasing filter
// along each axis that shrinks, then bilinear interpolation; see the package
// documentation. It returns an error if img is empty or malformed, or h or w
// is not positive, or h*w is more than MaxPixels.
func Resize(img RGB, h, w int) (RGB, error) {
	if err := img.check(); err != nil {
		return RGB{}, fmt.Errorf("images: Resize: %w", err)
	}
	if err := checkSize(h, w); err != nil {
		return RGB{}, fmt.Errorf("images: Resize to %dx%d: %w", w, h, err)
	}
	return resample(&rows{h: img.H, w: img.W, pix: img.Pix}, h, w), nil
}

// checkSize checks an output size for Resize and LoadVGG.
func checkSize(h, w int) error {
	if h <= 0 || w <= 0 {
		return ErrEmpty
	}
	if int64(h)*int64(w) > MaxPixels {
		return ErrTooLarge
	}
	return nil
}

// rows is the image that resample reads: either an RGB (conv is nil, pix
// holds it all) or a decoded image that conv converts a row at a time into
// a ring of k rows in pix, so that LoadVGG never holds the whole image as
// float32.
type rows struct {
	h, w int
	pix  []float32
	k    int
	conv func(dst []float32, y int)
}

// row returns row y, which for a converted image must be one of the last k
// rows loaded.
func (r *rows) row(y int) []float32 {
	n := r.w * 3
	if r.conv == nil {
		return r.pix[y*n : (y+1)*n]
	}
	return r.pix[(y%r.k)*n:][:n]
}

// load converts row y into the ring, where it replaces row y-k, and returns
// it.
func (r *rows) load(y int) []float32 {
	row := r.row(y)
	if r.conv != nil {
		r.conv(row, y)
	}
	return row
}

// resample is Resize on checked arguments, reading src row by row in order.
func resample(src *rows, h, w int) RGB {
	H, W := src.h, src.w
	if h == H && w == W {
		// Factor 1: no filter, and the sample points are the pixel centres.
		dst := RGB{H: h, W: w, Pix: make([]float32, h*w*3)}
		for y := range h {
			out := dst.Pix[y*w*3 : (y+1)*w*3]
			if src.conv != nil {
				src.conv(out, y)
			} else {
				copy(out, src.row(y))
			}
		}
		return dst
	}

	// Anti-aliasing only if some axis shrinks; then each shrinking axis gets
	// sigma = (factor-1)/2 and the others none (skimage's default
	// anti_aliasing_sigma).
	fy, fx := float64(H)/float64(h), float64(W)/float64(w)
	var ky, kx []float64
	if fy > 1 || fx > 1 {
		if fy > 1 {
			ky = gaussKernel((fy - 1) / 2)
		}
		if fx > 1 {
			kx = gaussKernel((fx - 1) / 2)
		}
	}
	rad := len(ky) / 2 // 0 without a filter along y

	// A filtered row r reads the source rows mirrorIndex(r-rad .. r+rad),
	// which all lie in [max(0, r-rad), min(H-1, r+rad)]: a converted source
	// needs a ring of at most 2*rad+1 rows, filled in order.
	if src.conv != nil {
		src.k = min(H, 2*rad+1)
		src.pix = make([]float32, src.k*W*3)
	}

	// Bilinear interpolation reads at most two source rows per output row and
	// two source columns per output column, so the Gaussian is evaluated only
	// there: the cost stays proportional to the input's size whatever the
	// factor. Filtering along y, then x, then interpolating is what skimage
	// does to the whole image, restricted to the samples that are used.
	ys, used := linearTaps(H, h)
	xs, cols := linearTaps(W, w)

	// Along x: only the needed columns. srcCol[cs*len(kx)+j] is the
	// (mirrored) source column under tap j of needed column cs.
	nc := len(cols)
	var srcCol []int
	if kx != nil {
		rad := len(kx) / 2
		srcCol = make([]int, 0, nc*len(kx))
		for _, c := range cols {
			for j := range kx {
				srcCol = append(srcCol, mirrorIndex(c+j-rad, W)*3)
			}
		}
	}

	// One pass over the source rows, in order: each is loaded once, counted
	// for the output's range, and each needed row is filtered along y (into
	// byRow, one full-width row) and then along x (into filt) as soon as the
	// last source row it reads has been loaded.
	rowLen := W * 3
	byRow := make([]float64, rowLen)
	filt := make([]float64, len(used)*nc*3)
	var lo32, hi32 float32
	s := 0 // the next needed row, an index into used
	for y := range H {
		in := src.load(y)
		if y == 0 {
			lo32, hi32 = in[0], in[0]
		}
		for _, v := range in {
			if v < lo32 {
				lo32 = v
			}
			if v > hi32 {
				hi32 = v
			}
		}
		for ; s < len(used) && y >= min(H-1, used[s]+rad); s++ {
			sy := used[s]
			if ky == nil {
				for i, v := range src.row(sy) {
					byRow[i] = float64(v)
				}
			} else {
				clear(byRow)
				for j, k := range ky {
					for i, v := range src.row(mirrorIndex(sy+j-rad, H)) {
						byRow[i] += k * float64(v)
					}
				}
			}
			out := filt[s*nc*3 : (s+1)*nc*3]
			for cs, c := range cols {
				if kx == nil {
					copy(out[cs*3:cs*3+3], byRow[c*3:c*3+3])
					continue
				}
				var r, g, b float64
				for j, o := range srcCol[cs*len(kx) : (cs+1)*len(kx)] {
					k, p := kx[j], byRow[o:o+3]
					r, g, b = r+k*p[0], g+k*p[1], b+k*p[2]
				}
				out[cs*3], out[cs*3+1], out[cs*3+2] = r, g, b
			}
		}
	}
	// float64 from here on, as scikit-image computes on the float64 image
	// that load_image makes with img / 255.0.
	lo, hi := float64(lo32), float64(hi32)

	// Interpolate along x, then y (taps index into used and cols).
	tmp := make([]float64, len(used)*w*3)
	for s := range used {
		in := filt[s*nc*3 : (s+1)*nc*3]
		out := tmp[s*w*3 : (s+1)*w*3]
		for x, t := range xs {
			a, b := in[t.i0*3:t.i0*3+3], in[t.i1*3:t.i1*3+3]
			for c := range 3 {
				out[x*3+c] = a[c]*t.w0 + b[c]*t.w1
			}
		}
	}
	dst := RGB{H: h, W: w, Pix: make([]float32, h*w*3)}
	for y, t := range ys {
		a, b := tmp[t.i0*w*3:(t.i0+1)*w*3], tmp[t.i1*w*3:(t.i1+1)*w*3]
		out := dst.Pix[y*w*3 : (y+1)*w*3]
		for i := range out {
			// Clip to the input's range, as skimage's clip=True does; the
			// filters are convex, so this only catches rounding.
			out[i] = float32(min(max(a[i]*t.w0+b[i]*t.w1, lo), hi))
		}
	}
	return dst
}

// tap is one output sample of linear interpolation: w0*in[i0] + w1*in[i1],
// where i0 and i1 index the list of used source samples that linearTaps
// returns with the taps.
type tap struct {
	i0, i1 int
	w0, w1 float64
}

// linearTaps returns the interpolation taps for resampling n input samples to
// m output samples the way scipy.ndimage.zoom(order=1, mode="mirror",
// grid_mode=True) does: output i samples the input at (i+0.5)*n/m - 0.5,
// mirrored about the first and last sample centres when it falls outside.
// used lists, in increasing order, the source samples the taps read.
func linearTaps(n, m int) (taps []tap, used []int) {
	taps = make([]tap, m)
	scale := float64(n) / float64(m)
	for i := range taps {
		c := mirrorCoord((float64(i)+0.5)*scale-0.5, n)
		i0 := int(math.Floor(c))
		t := c - float64(i0)
		i1 := i0 + 1
		if i1 > n-1 {
			// Only at c == n-1 exactly, where t is 0.
			i1 = n - 1
		}
		taps[i] = tap{i0: i0, i1: i1, w0: 1 - t, w1: t}
		used = append(used, i0, i1)
	}
	// Renumber the taps into the sorted list of used samples.
	slices.Sort(used)
	used = slices.Compact(used)
	for k := range taps {
		taps[k].i0, _ = slices.BinarySearch(used, taps[k].i0)
		taps[k].i1, _ = slices.BinarySearch(used, taps[k].i1)
	}
	return taps, slices.Clip(used)
}

// mirrorCoord maps c into [0, n-1] by mirroring about 0 and n-1 (scipy's
// "mirror" mode for interpolation coordinates).
func mirrorCoord(c float64, n int) float64 {
	if n == 1 {
		return 0
	}
	period := 2 * float64(n-1)
	c = math.Mod(math.Abs(c), period)
	if c > float64(n-1) {
		c = period - c
	}
	return c
}

// mirrorIndex maps i into [0, n) by mirroring about the first and last
// samples, without repeating them (scipy's "mirror" mode: d c b | a b c d |
// c b a).
func mirrorIndex(i, n int) int {
	if n == 1 {
		return 0
	}
	period := 2 * (n - 1)
	if i < 0 {
		i = -i
	}
	i %= period
	if i >= n {
		i = period - i
	}
	return i
}

// gaussKernel returns scipy.ndimage.gaussian_filter1d's weights for sigma:
// exp(-x²/2σ²) for x in [-r, r], r = int(4σ + 0.5), normalised to sum 1.
func gaussKernel(sigma float64) []float64 {
	r := int(4*sigma + 0.5)
	k := make([]float64, 2*r+1)
	sum := 0.0
	for i := range k {
		x := float64(i - r)
		k[i] = math.Exp(-0.5 / (sigma * sigma) * x * x)
		sum += k[i]
	}
	for i := range k {
		k[i] /= sum
	}
	return k
}

// LoadVGG loads the image at path the way tensorflow-vgg's load_image does:
// CenterCrop, then Resize to size x size (224 for VGG16 and VGG19). The
// result is the same as Resize(CenterCrop(m), size, size) for m from Load,
// but the crop is resized straight from the decoded image, a few rows at a
// time, so that the image is never held as float32 (see Memory in the
// package documentation).
func LoadVGG(path string, size int) (RGB, error) {
	if err := checkSize(size, size); err != nil {
		return RGB{}, fmt.Errorf("images: LoadVGG %s: size %d: %w", path, size, err)
	}
	f, err := os.Open(path)
	if err != nil {
		return RGB{}, fmt.Errorf("images: %w", err)
	}
	defer f.Close()
	img, err := decodeImage(f, MaxPixels)
	if err != nil {
		return RGB{}, fmt.Errorf("images: %s: %w", path, err)
	}
	return resample(centerRows(img), size, size), nil
}

// centerRows returns the centred square of img, as CenterCrop cuts it, as
// rows that resample converts as it reads them.
func centerRows(img image.Image) *rows {
	b := img.Bounds()
	side := min(b.Dx(), b.Dy())
	x0, y0 := b.Min.X+(b.Dx()-side)/2, b.Min.Y+(b.Dy()-side)/2
	conv := rowConverter(img)
	return &rows{h: side, w: side, conv: func(dst []float32, y int) { conv(dst, x0, y0+y) }}
}

// Batch stacks imgs into one array of shape [N, H, W, 3], N = len(imgs),
// float32, image after image, each as in RGB.Pix. All images must have the
// same size.
func Batch(imgs []RGB) (shape [4]int, data []float32, err error) {
	if len(imgs) == 0 {
		return shape, nil, errors.New("images: Batch: no images")
	}
	h, w := imgs[0].H, imgs[0].W
	for i, m := range imgs {
		if err := m.check(); err != nil {
			return shape, nil, fmt.Errorf("images: Batch: image %d: %w", i, err)
		}
		if m.H != h || m.W != w {
			return shape, nil, fmt.Errorf("images: Batch: image %d is %dx%d, image 0 is %dx%d: resize them to one size first",
				i, m.W, m.H, w, h)
		}
	}
	n := h * w * 3
	data = make([]float32, len(imgs)*n)
	for i, m := range imgs {
		copy(data[i*n:], m.Pix)
	}
	return [4]int{len(imgs), h, w, 3}, data, nil
}
