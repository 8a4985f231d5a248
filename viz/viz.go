// Package viz draws feature maps as pictures: each channel of a map as a
// small image, normalised on its own and coloured with a perceptual
// colour map, tiled in a grid.
package viz

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"

	"github.com/vkvgg/vkvgg/graph"
)

// Options choose what Grid draws.
type Options struct {
	Image    int // which image of the batch
	Channels int // draw the first Channels channels (0: all)
	Cols     int // tiles per row (0: about square)
	Scale    int // pixels per map pixel (0: so that a tile is about 64 pixels wide)
}

// Grid draws channels of feature f, an NHWC map [N,H,W,C], as tiles one
// pixel apart. Each channel is stretched from its own minimum to its
// maximum (a constant channel is drawn at the colour map's low end).
func Grid(f graph.Feature, o Options) (*image.RGBA, error) {
	if len(f.Shape) != 4 {
		return nil, fmt.Errorf("viz: %s has shape %v: only maps [N,H,W,C] are drawn", f.Name, f.Shape)
	}
	n, h, w, c := f.Shape[0], f.Shape[1], f.Shape[2], f.Shape[3]
	if o.Image < 0 || o.Image >= n {
		return nil, fmt.Errorf("viz: image %d of a batch of %d", o.Image, n)
	}
	if len(f.Data) != n*h*w*c {
		return nil, errors.New("viz: the feature's data does not match its shape")
	}
	ch := c
	if o.Channels > 0 {
		ch = min(c, o.Channels)
	}
	cols := o.Cols
	if cols <= 0 {
		cols = int(math.Ceil(math.Sqrt(float64(ch))))
	}
	rows := (ch + cols - 1) / cols
	scale := o.Scale
	if scale <= 0 {
		scale = max(1, 64/max(w, 1))
	}
	tw, th := w*scale, h*scale
	if int64(cols*(tw+1))*int64(rows*(th+1)) > 64<<20 {
		return nil, fmt.Errorf("viz: a grid of %d x %d tiles of %dx%d is too large a picture", cols, rows, tw, th)
	}
	img := image.NewRGBA(image.Rect(0, 0, cols*(tw+1)-1, rows*(th+1)-1))
	for i := range img.Pix {
		img.Pix[i] = 255 // white gaps
	}
	base := o.Image * h * w * c
	for k := range ch {
		lo, hi := math.Inf(1), math.Inf(-1)
		for p := range h * w {
			v := float64(f.Data[base+p*c+k])
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
		x0, y0 := (k%cols)*(tw+1), (k/cols)*(th+1)
		for y := range h {
			for x := range w {
				v := float64(f.Data[base+(y*w+x)*c+k])
				t := 0.0
				if hi > lo {
					t = (v - lo) / (hi - lo)
				}
				col := Colour(t)
				for dy := range scale {
					for dx := range scale {
						img.SetRGBA(x0+x*scale+dx, y0+y*scale+dy, col)
					}
				}
			}
		}
	}
	return img, nil
}

// viridis holds points of matplotlib's viridis colour map, which goes
// from dark to bright evenly in lightness.
var viridis = [...][3]float64{
	{68, 1, 84}, {72, 40, 120}, {62, 74, 137}, {49, 104, 142}, {38, 130, 142},
	{31, 158, 137}, {53, 183, 121}, {109, 205, 89}, {180, 222, 44}, {253, 231, 37},
}

// Colour maps t in [0,1] to the viridis colour map.
func Colour(t float64) color.RGBA {
	t = math.Max(0, math.Min(1, t))
	f := t * float64(len(viridis)-1)
	i := min(int(f), len(viridis)-2)
	u := f - float64(i)
	var c [3]uint8
	for j := range c {
		c[j] = uint8(math.Round(viridis[i][j]*(1-u) + viridis[i+1][j]*u))
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
