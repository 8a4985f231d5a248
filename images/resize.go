package images

import (
	"errors"
	"fmt"
	"math"
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
	src := make([]float64, len(img.Pix))
	lo, hi := math.Inf(1), math.Inf(-1)
	for i, v := range img.Pix {
		f := float64(v)
		src[i] = f
		lo, hi = math.Min(lo, f), math.Max(hi, f)
	}

	// Anti-aliasing, only if some axis shrinks; then each shrinking axis gets
	// sigma = (factor-1)/2 and the others none (skimage's default
	// anti_aliasing_sigma).
	fy, fx := float64(img.H)/float64(h), float64(img.W)/float64(w)
	if fy > 1 || fx > 1 {
		if sy := (fy - 1) / 2; sy > 0 {
			gaussRows(src, img.H, img.W, sy)
		}
		if sx := (fx - 1) / 2; sx > 0 {
			gaussCols(src, img.H, img.W, sx)
		}
	}

	// Bilinear interpolation, separable: along x into an img.H x w buffer,
	// then along y.
	tmp := make([]float64, img.H*w*3)
	xs := linearTaps(img.W, w)
	for y := range img.H {
		row := src[y*img.W*3:]
		out := tmp[y*w*3:]
		for x, t := range xs {
			a, b := row[t.i0*3:t.i0*3+3], row[t.i1*3:t.i1*3+3]
			for c := range 3 {
				out[x*3+c] = a[c]*t.w0 + b[c]*t.w1
			}
		}
	}
	dst := RGB{H: h, W: w, Pix: make([]float32, h*w*3)}
	ys := linearTaps(img.H, h)
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

// tap is one output sample of linear interpolation: w0*in[i0] + w1*in[i1].
type tap struct {
	i0, i1 int
	w0, w1 float64
}

// linearTaps returns the interpolation taps for resampling n input samples to
// m output samples the way scipy.ndimage.zoom(order=1, mode="mirror",
// grid_mode=True) does: output i samples the input at (i+0.5)*n/m - 0.5,
// mirrored about the first and last sample centres when it falls outside.
func linearTaps(n, m int) []tap {
	taps := make([]tap, m)
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
	}
	return taps
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

// gaussRows filters the h x w x 3 image in place along y (axis 0).
func gaussRows(p []float64, h, w int, sigma float64) {
	k := gaussKernel(sigma)
	r := len(k) / 2
	col := make([]float64, h)
	for x := range w * 3 { // each (column, channel) pair is one line
		for y := range h {
			col[y] = p[y*w*3+x]
		}
		for y := range h {
			s := 0.0
			for j, kv := range k {
				s += kv * col[mirrorIndex(y+j-r, h)]
			}
			p[y*w*3+x] = s
		}
	}
}

// gaussCols filters the h x w x 3 image in place along x (axis 1).
func gaussCols(p []float64, h, w int, sigma float64) {
	k := gaussKernel(sigma)
	r := len(k) / 2
	line := make([]float64, w)
	for y := range h {
		row := p[y*w*3 : (y+1)*w*3]
		for c := range 3 {
			for x := range w {
				line[x] = row[x*3+c]
			}
			for x := range w {
				s := 0.0
				for j, kv := range k {
					s += kv * line[mirrorIndex(x+j-r, w)]
				}
				row[x*3+c] = s
			}
		}
	}
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
