package images

import (
	"errors"
	"fmt"
	"math"
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
	if h <= 0 || w <= 0 {
		return RGB{}, fmt.Errorf("images: Resize to %dx%d: %w", w, h, ErrEmpty)
	}
	if int64(h)*int64(w) > MaxPixels {
		return RGB{}, fmt.Errorf("images: Resize to %dx%d: %w", w, h, ErrTooLarge)
	}
	if h == img.H && w == img.W {
		// Factor 1: no filter, and the sample points are the pixel centres.
		return RGB{H: h, W: w, Pix: append([]float32(nil), img.Pix...)}, nil
	}

	// float64 throughout, as scikit-image computes on the float64 image that
	// load_image makes with img / 255.0.
	lo32, hi32 := img.Pix[0], img.Pix[0]
	for _, v := range img.Pix {
		if v < lo32 {
			lo32 = v
		}
		if v > hi32 {
			hi32 = v
		}
	}
	lo, hi := float64(lo32), float64(hi32)

	// Anti-aliasing only if some axis shrinks; then each shrinking axis gets
	// sigma = (factor-1)/2 and the others none (skimage's default
	// anti_aliasing_sigma).
	fy, fx := float64(img.H)/float64(h), float64(img.W)/float64(w)
	var ky, kx []float64
	if fy > 1 || fx > 1 {
		if fy > 1 {
			ky = gaussKernel((fy - 1) / 2)
		}
		if fx > 1 {
			kx = gaussKernel((fx - 1) / 2)
		}
	}

	// Bilinear interpolation reads at most two source rows per output row and
	// two source columns per output column, so the Gaussian is evaluated only
	// there: the cost stays proportional to the input's size whatever the
	// factor. Filtering along y, then x, then interpolating is what skimage
	// does to the whole image, restricted to the samples that are used.
	ys, rows := linearTaps(img.H, h)
	xs, cols := linearTaps(img.W, w)

	// Along y: one filtered full-width row per needed source row.
	rowLen := img.W * 3
	byRow := make([]float64, len(rows)*rowLen)
	for s, r := range rows {
		out := byRow[s*rowLen : (s+1)*rowLen]
		if ky == nil {
			for i, v := range img.Pix[r*rowLen : (r+1)*rowLen] {
				out[i] = float64(v)
			}
			continue
		}
		rad := len(ky) / 2
		for j, k := range ky {
			in := img.Pix[mirrorIndex(r+j-rad, img.H)*rowLen:][:rowLen]
			for i, v := range in {
				out[i] += k * float64(v)
			}
		}
	}

	// Along x: only the needed columns of those rows. src[cs*len(kx)+j] is
	// the (mirrored) source column under tap j of needed column cs.
	nc := len(cols)
	var src []int
	if kx != nil {
		rad := len(kx) / 2
		src = make([]int, 0, nc*len(kx))
		for _, c := range cols {
			for j := range kx {
				src = append(src, mirrorIndex(c+j-rad, img.W)*3)
			}
		}
	}
	filt := make([]float64, len(rows)*nc*3)
	for s := range rows {
		in := byRow[s*rowLen : (s+1)*rowLen]
		out := filt[s*nc*3 : (s+1)*nc*3]
		for cs, c := range cols {
			if kx == nil {
				copy(out[cs*3:cs*3+3], in[c*3:c*3+3])
				continue
			}
			var r, g, b float64
			for j, o := range src[cs*len(kx) : (cs+1)*len(kx)] {
				k, p := kx[j], in[o:o+3]
				r, g, b = r+k*p[0], g+k*p[1], b+k*p[2]
			}
			out[cs*3], out[cs*3+1], out[cs*3+2] = r, g, b
		}
	}

	// Interpolate along x, then y (taps index into rows and cols).
	tmp := make([]float64, len(rows)*w*3)
	for s := range rows {
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
	return dst, nil
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
// CenterCrop, then Resize to size x size (224 for VGG16 and VGG19).
func LoadVGG(path string, size int) (RGB, error) {
	if size <= 0 {
		return RGB{}, fmt.Errorf("images: LoadVGG %s: size %d, want > 0", path, size)
	}
	m, err := Load(path)
	if err != nil {
		return RGB{}, err
	}
	m, err = Resize(CenterCrop(m), size, size)
	if err != nil {
		return RGB{}, fmt.Errorf("images: LoadVGG %s: %w", path, err)
	}
	return m, nil
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
