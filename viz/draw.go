package viz

import (
	"errors"
	"fmt"
	"image"

	"github.com/vkvgg/vkvgg/gpu"
	"github.com/vkvgg/vkvgg/graph"
	"github.com/vkvgg/vkvgg/shaders"
)

// Drawer draws the picture of Grid on the GPU, from a feature left on the
// device (graph.Net.RunOnDevice) into a canvas buffer of 32-bit pixels,
// beside the photo: what the viewer shows, with no host round trip.
type Drawer struct {
	dev    *gpu.Device
	fp32   drawKernels
	fp16   drawKernels // for the maps of FP16 Nets, made when first needed
	ranges *gpu.Buffer
	count  int // channels of the last Draw
}

// drawKernels are the two kernels of a Draw for maps of one precision.
type drawKernels struct{ rng, tiles *gpu.Kernel }

// newDrawKernels makes the kernels of shaders chanrange and tiles (with
// suffix: "" or "_f16", their fp16 variants), or none.
func newDrawKernels(dev *gpu.Device, suffix string) (drawKernels, error) {
	rng, err := dev.NewKernel(gpu.KernelSpec{Name: "chanrange" + suffix, SPIRV: shaders.MustSPIRV("chanrange" + suffix), Bindings: 2, PushWords: 4})
	if err != nil {
		return drawKernels{}, err
	}
	tiles, err := dev.NewKernel(gpu.KernelSpec{Name: "tiles" + suffix, SPIRV: shaders.MustSPIRV("tiles" + suffix), Bindings: 4, PushWords: 21})
	if err != nil {
		rng.Close()
		return drawKernels{}, err
	}
	return drawKernels{rng, tiles}, nil
}

func (k drawKernels) close() error { return errors.Join(k.rng.Close(), k.tiles.Close()) }

// NewDrawer makes the kernels on dev.
func NewDrawer(dev *gpu.Device) (*Drawer, error) {
	k, err := newDrawKernels(dev, "")
	if err != nil {
		return nil, err
	}
	return &Drawer{dev: dev, fp32: k}, nil
}

// Close frees the kernels and buffers. It is nil-safe.
func (d *Drawer) Close() error {
	if d == nil {
		return nil
	}
	return errors.Join(d.fp32.close(), d.fp16.close(), d.ranges.Close())
}

// Canvas is a buffer of W x H 32-bit pixels, RGBA (red in the low byte)
// or BGRA, as a swapchain image of that format stores them.
type Canvas struct {
	Buf  *gpu.Buffer
	W, H int
	BGRA bool
}

// Scene is what Draw draws.
type Scene struct {
	// Photo holds PhotoW x PhotoH RGBA8 pixels (red in the low byte),
	// drawn scaled into PhotoRect of the canvas (empty: not drawn).
	Photo          *gpu.Buffer
	PhotoW, PhotoH int
	PhotoRect      image.Rectangle
	// Map is an NHWC feature on the device; Image picks the image. First
	// and Count select channels (Count 0: the rest).
	Map          graph.DeviceFeature
	Image        int
	First, Count int
	// Grid is where the grid's top-left tile starts; the tiles are
	// TileW x TileH pixels, Cols to a row, one pixel apart. Highlight is
	// a tile (counted from First) whose right and bottom edges are drawn
	// white; -1 for none.
	Grid         image.Point
	TileW, TileH int
	Cols         int
	Highlight    int
}

// Draw records the drawing of s into c into seq: the channels' ranges,
// then every pixel of the canvas.
func (d *Drawer) Draw(seq *gpu.Sequence, c Canvas, s Scene) error {
	if len(s.Map.Shape) != 4 {
		return fmt.Errorf("viz: %s has shape %v: only maps [N,H,W,C] are drawn", s.Map.Name, s.Map.Shape)
	}
	n, h, w, ch := s.Map.Shape[0], s.Map.Shape[1], s.Map.Shape[2], s.Map.Shape[3]
	if s.Image < 0 || s.Image >= n {
		return fmt.Errorf("viz: image %d of a batch of %d", s.Image, n)
	}
	first, count, err := Options{First: s.First, Count: s.Count}.Channels(ch)
	if err != nil {
		return err
	}
	if c.Buf == nil || c.W < 1 || c.H < 1 || int64(c.W)*int64(c.H)*4 > c.Buf.Size() {
		return fmt.Errorf("viz: a canvas of %dx%d does not fit its buffer", c.W, c.H)
	}
	if s.TileW < 1 || s.TileH < 1 || s.Cols < 1 {
		return fmt.Errorf("viz: tiles of %dx%d, %d to a row", s.TileW, s.TileH, s.Cols)
	}
	es := int64(4)
	if s.Map.Half {
		es = 2
	}
	mapBytes := int64(n*h*w*ch) * es
	if s.Map.Buf == nil || mapBytes > s.Map.Buf.Size() {
		return fmt.Errorf("viz: %s's buffer does not hold its shape %v", s.Map.Name, s.Map.Shape)
	}
	photo := s.Photo
	pr := s.PhotoRect
	if photo == nil || pr.Empty() {
		photo, pr = s.Map.Buf, image.Rectangle{} // bound, never read
	} else if s.PhotoW < 1 || s.PhotoH < 1 || int64(s.PhotoW)*int64(s.PhotoH)*4 > photo.Size() {
		return fmt.Errorf("viz: a photo of %dx%d does not fit its buffer", s.PhotoW, s.PhotoH)
	}
	if d.ranges == nil || d.ranges.Size() < int64(count)*8 {
		d.ranges.Close()
		if d.ranges, err = d.dev.NewBuffer(int64(max(count, 64)) * 8); err != nil {
			return err
		}
	}
	k := d.fp32
	if s.Map.Half {
		if d.fp16.rng == nil {
			if d.fp16, err = newDrawKernels(d.dev, "_f16"); err != nil {
				return err
			}
		}
		k = d.fp16
	}
	base := uint32(s.Image * h * w * ch)
	mapView := s.Map.Buf.Slice(0, min((mapBytes+3)/4*4, s.Map.Buf.Size()))
	rv := d.ranges.Floats(0, 2*count)
	if err := seq.Dispatch(k.rng, [3]int{count, 1, 1}, []uint32{uint32(h * w), uint32(ch), uint32(first), base}, gpu.R(mapView), gpu.W(rv)); err != nil {
		return err
	}
	hl := uint32(count)
	if s.Highlight >= 0 && s.Highlight < count {
		hl = uint32(s.Highlight)
	}
	bgra := uint32(0)
	if c.BGRA {
		bgra = 1
	}
	push := []uint32{uint32(c.W), uint32(c.H), bgra,
		uint32(int32(pr.Min.X)), uint32(int32(pr.Min.Y)), uint32(pr.Dx()), uint32(pr.Dy()), uint32(s.PhotoW), uint32(s.PhotoH),
		uint32(int32(s.Grid.X)), uint32(int32(s.Grid.Y)), uint32(s.Cols), uint32(count), uint32(s.TileW), uint32(s.TileH),
		uint32(h), uint32(w), uint32(ch), uint32(first), base, hl}
	groups := [3]int{(c.W + 15) / 16, (c.H + 15) / 16, 1}
	photoView := photo.All()
	if photo != s.Map.Buf {
		photoView = photo.Slice(0, int64(s.PhotoW)*int64(s.PhotoH)*4)
	}
	d.count = count
	return seq.Dispatch(k.tiles, groups, push, gpu.R(photoView), gpu.R(mapView), gpu.R(rv), gpu.W(c.Buf.Slice(0, int64(c.W)*int64(c.H)*4)))
}

// Ranges reads back the minimum and maximum of each channel of the last
// Draw, once its sequence has finished.
func (d *Drawer) Ranges() ([][2]float32, error) {
	if d.ranges == nil || d.count == 0 {
		return nil, nil
	}
	v := make([]float32, 2*d.count)
	if err := d.ranges.Download(0, v); err != nil {
		return nil, err
	}
	out := make([][2]float32, d.count)
	for i := range out {
		out[i] = [2]float32{v[2*i], v[2*i+1]}
	}
	return out, nil
}
