// Package viz draws feature maps as pictures: each channel of a map as a
// small image, normalised on its own and coloured with a perceptual
// colour map (viridis), tiled in a grid with the layer, its shape and
// the channel numbers written on it; and a heatmap of a layer's mean
// activation blended over the photo. The viewer (package viewer) draws
// the same grid on the GPU with the same Layout.
package viz

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"

	"github.com/vkvgg/vkvgg/graph"
)

// Options choose what Grid draws.
type Options struct {
	Image  int  // which image of the batch
	First  int  // the first channel drawn
	Count  int  // how many channels from First (0: all the rest)
	Cols   int  // tiles per row (0: about square)
	Scale  int  // pixels per map pixel (0: so that a tile is about 64 pixels wide)
	Labels bool // write the layer, shape and channel numbers on the picture
}

// HeaderHeight is the height of the title strip of a labelled grid.
const HeaderHeight = 18

// Layout places the tiles of a grid: Cols x Rows tiles of TileW x TileH
// pixels (map pixels times Scale), one pixel apart, below a header of
// Top pixels.
type Layout struct {
	Cols, Rows, Count int
	TileW, TileH      int
	Scale, Top        int
}

// NewLayout lays out count tiles of h x w map pixels. cols and scale 0
// choose an about square grid of tiles about 64 pixels wide.
func NewLayout(h, w, count, cols, scale int, labels bool) (Layout, error) {
	if h < 1 || w < 1 || count < 1 {
		return Layout{}, fmt.Errorf("viz: %d tiles of %dx%d", count, w, h)
	}
	if cols <= 0 {
		cols = int(math.Ceil(math.Sqrt(float64(count))))
	}
	cols = min(cols, count)
	if scale <= 0 {
		scale = max(1, 64/w)
	}
	l := Layout{Cols: cols, Rows: (count + cols - 1) / cols, Count: count, Scale: scale}
	if int64(w)*int64(scale) > 1<<14 || int64(h)*int64(scale) > 1<<14 {
		return Layout{}, fmt.Errorf("viz: tiles of %dx%d map pixels at scale %d are too large", w, h, scale)
	}
	l.TileW, l.TileH = w*scale, h*scale
	if labels {
		l.Top = HeaderHeight
	}
	if int64(l.Width())*int64(l.Height()) > 64<<20 {
		return Layout{}, fmt.Errorf("viz: a grid of %d x %d tiles of %dx%d is too large a picture", l.Cols, l.Rows, l.TileW, l.TileH)
	}
	return l, nil
}

// Width and Height are the picture's size.
func (l Layout) Width() int  { return l.Cols*(l.TileW+1) - 1 }
func (l Layout) Height() int { return l.Top + l.Rows*(l.TileH+1) - 1 }

// Tile is the rectangle of the i-th tile.
func (l Layout) Tile(i int) image.Rectangle {
	x0, y0 := (i%l.Cols)*(l.TileW+1), l.Top+(i/l.Cols)*(l.TileH+1)
	return image.Rect(x0, y0, x0+l.TileW, y0+l.TileH)
}

// At returns the tile under picture point (x, y), or -1 (a gap, the
// header, outside).
func (l Layout) At(x, y int) int {
	y -= l.Top
	if x < 0 || y < 0 || x >= l.Width() || y >= l.Rows*(l.TileH+1)-1 {
		return -1
	}
	if x%(l.TileW+1) == l.TileW || y%(l.TileH+1) == l.TileH {
		return -1
	}
	i := (y/(l.TileH+1))*l.Cols + x/(l.TileW+1)
	if i >= l.Count {
		return -1
	}
	return i
}

// ParseChannels reads a channel selection: "" (all), "N" (the first N)
// or "A-B" (A to B inclusive), as First and Count of Options.
func ParseChannels(s string) (first, count int, err error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, 0, nil
	}
	a, b, isRange := strings.Cut(s, "-")
	lo, err1 := strconv.Atoi(a)
	if !isRange {
		if err1 != nil || lo < 1 {
			return 0, 0, fmt.Errorf("viz: channels %q: want a count N or a range A-B", s)
		}
		return 0, lo, nil
	}
	hi, err2 := strconv.Atoi(b)
	if err1 != nil || err2 != nil || lo < 0 || hi < lo {
		return 0, 0, fmt.Errorf("viz: channels %q: want a count N or a range A-B with 0 <= A <= B", s)
	}
	return lo, hi - lo + 1, nil
}

// mapOf checks that f is a map and o.Image one of its images and returns
// its sizes.
func mapOf(f graph.Feature, img int) (n, h, w, c int, err error) {
	if len(f.Shape) != 4 {
		return 0, 0, 0, 0, fmt.Errorf("viz: %s has shape %v: only maps [N,H,W,C] are drawn", f.Name, f.Shape)
	}
	n, h, w, c = f.Shape[0], f.Shape[1], f.Shape[2], f.Shape[3]
	if img < 0 || img >= n {
		return 0, 0, 0, 0, fmt.Errorf("viz: image %d of a batch of %d", img, n)
	}
	if len(f.Data) != n*h*w*c {
		return 0, 0, 0, 0, errors.New("viz: the feature's data does not match its shape")
	}
	return n, h, w, c, nil
}

// Channels resolves o's channel selection against c channels.
func (o Options) Channels(c int) (first, count int, err error) {
	if o.First < 0 || o.First >= c || o.Count < 0 {
		return 0, 0, fmt.Errorf("viz: channels from %d of %d", o.First, c)
	}
	count = c - o.First
	if o.Count > 0 {
		count = min(count, o.Count)
	}
	return o.First, count, nil
}

// Grid draws channels of feature f, an NHWC map [N,H,W,C], as tiles one
// pixel apart. Each channel is stretched from its own minimum to its
// maximum (a constant channel is drawn at the colour map's low end).
func Grid(f graph.Feature, o Options) (*image.RGBA, error) {
	_, h, w, c, err := mapOf(f, o.Image)
	if err != nil {
		return nil, err
	}
	first, count, err := o.Channels(c)
	if err != nil {
		return nil, err
	}
	l, err := NewLayout(h, w, count, o.Cols, o.Scale, o.Labels)
	if err != nil {
		return nil, err
	}
	img := image.NewRGBA(image.Rect(0, 0, l.Width(), l.Height()))
	for i := range img.Pix {
		img.Pix[i] = 255 // white gaps
	}
	base := o.Image * h * w * c
	for i := range count {
		k := first + i
		lo, hi := math.Inf(1), math.Inf(-1)
		for p := range h * w {
			v := float64(f.Data[base+p*c+k])
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
		r := l.Tile(i)
		for y := range h {
			for x := range w {
				v := float64(f.Data[base+(y*w+x)*c+k])
				t := 0.0
				if hi > lo {
					t = (v - lo) / (hi - lo)
				}
				draw.Draw(img, image.Rect(r.Min.X+x*l.Scale, r.Min.Y+y*l.Scale, r.Min.X+(x+1)*l.Scale, r.Min.Y+(y+1)*l.Scale),
					image.NewUniform(Colour(t)), image.Point{}, draw.Src)
			}
		}
	}
	if o.Labels {
		title := fmt.Sprintf("%s %v  channels %d-%d", f.Name, f.Shape, first, first+count-1)
		Text(img, 3, 13, title, color.RGBA{0, 0, 0, 255}, nil)
		for i := range count {
			r := l.Tile(i)
			Text(img, r.Min.X+1, r.Min.Y+11, strconv.Itoa(first+i), color.RGBA{255, 255, 255, 255}, &color.RGBA{0, 0, 0, 160})
		}
	}
	return img, nil
}

// Text writes s with its baseline at (x, y) in a 7x13 pixel font, on a
// box of colour bg when bg is not nil; it clips at the picture's edge.
func Text(img draw.Image, x, y int, s string, fg color.Color, bg color.Color) {
	face := basicfont.Face7x13
	if bg != nil {
		w := font.MeasureString(face, s).Ceil()
		draw.Draw(img, image.Rect(x-1, y-11, x+w+1, y+2).Intersect(img.Bounds()), image.NewUniform(bg), image.Point{}, draw.Over)
	}
	d := font.Drawer{Dst: img, Src: image.NewUniform(fg), Face: face, Dot: fixed.P(x, y)}
	d.DrawString(s)
}

// Heatmap draws the mean over channels of image o.Image of map f,
// stretched from its minimum to its maximum, upsampled bilinearly (pixel
// centres aligned) to the photo's size and blended over it with weight
// alpha in [0,1]. photo is the image the network saw (the same crop).
func Heatmap(f graph.Feature, img int, photo image.Image, alpha float64) (*image.RGBA, error) {
	_, h, w, c, err := mapOf(f, img)
	if err != nil {
		return nil, err
	}
	if photo == nil || photo.Bounds().Empty() {
		return nil, errors.New("viz: heatmap without a photo")
	}
	if !(alpha >= 0 && alpha <= 1) {
		return nil, fmt.Errorf("viz: heatmap alpha %v is not in [0,1]", alpha)
	}
	mean := make([]float64, h*w)
	lo, hi := math.Inf(1), math.Inf(-1)
	base := img * h * w * c
	for p := range mean {
		s := 0.0
		for k := range c {
			s += float64(f.Data[base+p*c+k])
		}
		mean[p] = s / float64(c)
		lo, hi = math.Min(lo, mean[p]), math.Max(hi, mean[p])
	}
	b := photo.Bounds()
	out := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(out, out.Bounds(), photo, b.Min, draw.Src)
	sample := func(y, x int) float64 { return mean[min(max(y, 0), h-1)*w+min(max(x, 0), w-1)] }
	for py := range b.Dy() {
		fy := (float64(py)+0.5)*float64(h)/float64(b.Dy()) - 0.5
		y0 := int(math.Floor(fy))
		v := fy - float64(y0)
		for px := range b.Dx() {
			fx := (float64(px)+0.5)*float64(w)/float64(b.Dx()) - 0.5
			x0 := int(math.Floor(fx))
			u := fx - float64(x0)
			m := (1-v)*((1-u)*sample(y0, x0)+u*sample(y0, x0+1)) + v*((1-u)*sample(y0+1, x0)+u*sample(y0+1, x0+1))
			t := 0.0
			if hi > lo {
				t = (m - lo) / (hi - lo)
			}
			hc := Colour(t)
			o := out.PixOffset(px, py)
			for j, cv := range [3]uint8{hc.R, hc.G, hc.B} {
				out.Pix[o+j] = uint8(math.Round((1-alpha)*float64(out.Pix[o+j]) + alpha*float64(cv)))
			}
			out.Pix[o+3] = 255
		}
	}
	return out, nil
}

// Photo makes an image of h x w RGB values in [0,1] (HWC), as the
// network saw them.
func Photo(h, w int, rgb []float32) (*image.RGBA, error) {
	if h < 1 || w < 1 || len(rgb) != h*w*3 {
		return nil, fmt.Errorf("viz: %d values are not a %dx%d RGB image", len(rgb), w, h)
	}
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for p := range h * w {
		for j := range 3 {
			img.Pix[4*p+j] = uint8(math.Round(255 * math.Max(0, math.Min(1, float64(rgb[3*p+j])))))
		}
		img.Pix[4*p+3] = 255
	}
	return img, nil
}

// Viridis holds points of matplotlib's viridis colour map, which goes
// from dark to bright evenly in lightness; Colour interpolates them
// (the viewer's shader holds the same points).
var Viridis = [...][3]float64{
	{68, 1, 84}, {72, 40, 120}, {62, 74, 137}, {49, 104, 142}, {38, 130, 142},
	{31, 158, 137}, {53, 183, 121}, {109, 205, 89}, {180, 222, 44}, {253, 231, 37},
}

// Colour maps t in [0,1] to the viridis colour map.
func Colour(t float64) color.RGBA {
	t = math.Max(0, math.Min(1, t))
	f := t * float64(len(Viridis)-1)
	i := min(int(f), len(Viridis)-2)
	u := f - float64(i)
	var c [3]uint8
	for j := range c {
		c[j] = uint8(math.Round(Viridis[i][j]*(1-u) + Viridis[i+1][j]*u))
	}
	return color.RGBA{c[0], c[1], c[2], 255}
}

// WritePNG writes img to path through a temporary file and a rename, so
// that a failure leaves no half picture.
func WritePNG(path string, img image.Image) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-*.png")
	if err != nil {
		return fmt.Errorf("viz: %w", err)
	}
	err = png.Encode(f, img)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("viz: %w", err)
	}
	return nil
}
