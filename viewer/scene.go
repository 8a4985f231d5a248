//go:build cgo

package viewer

import (
	"context"
	"errors"
	"fmt"
	"image"
	"math"
	"path/filepath"
	"strings"

	"github.com/go-gl/glfw/v3.3/glfw"

	"github.com/vkvgg/vkvgg/gpu"
	"github.com/vkvgg/vkvgg/graph"
	"github.com/vkvgg/vkvgg/images"
	"github.com/vkvgg/vkvgg/layers"
	"github.com/vkvgg/vkvgg/models"
	"github.com/vkvgg/vkvgg/viz"
)

// view is the engine's side of the viewer and the buffers both share.
type view struct {
	o    Options
	a    *app
	logf func(string, ...any)

	dev     *gpu.Device
	net     *models.Net
	maps    []graph.LayerInfo
	aliases map[string]string // other names of maps
	drawer  *viz.Drawer
	sem     uintptr

	photo, canvas, shot *hostBuffer // the application's
	photoBuf, canvasBuf *gpu.Buffer // the same, wrapped for the engine
	res                 *graph.DeviceResult

	cw, ch int
	bgra   bool
	ms     float64
	// The framebuffer size the swapchain was last made for (which the
	// surface may have clamped into cw x ch), and whether the last frame
	// found the swapchain out of date.
	fbW, fbH int
	stale    bool

	// the last frame's grid
	first, count int
	grid         image.Point
	tileW, tileH int
	cols         int
	ranges       [][2]float32
}

// open adopts the application's device, loads the network and makes the
// buffers.
func (v *view) open(cw, ch int, bgra bool, first images.RGB) error {
	v.cw, v.ch, v.bgra = cw, ch, bgra
	var err error
	if v.dev, err = gpu.Adopt(v.a.handles(), gpu.Options{Validation: v.o.Validation, PipelineCache: v.o.PipelineCache}); err != nil {
		return err
	}
	size := v.o.Size
	if v.net, err = models.LoadOn(v.dev, v.o.Weights, models.Options{FCN: v.o.FCN, Precision: v.o.Precision, Kernels: v.o.Kernels}); err != nil {
		return err
	}
	ls, _ := v.net.Graph().Layers(1, size, size) // layers past the size's reach are left out
	v.aliases = map[string]string{}
	for _, l := range ls {
		if target, ok := strings.CutPrefix(l.Kind, "= "); ok {
			v.aliases[l.Name] = target // torchvision's "layer2" is layer2.1.relu_1
			continue
		}
		if len(l.Shape) == 4 && l.Kind != "preprocess" {
			v.maps = append(v.maps, l)
		}
	}
	if len(v.maps) == 0 {
		return fmt.Errorf("viewer: %s has no feature maps at %dx%d", v.net.Name, size, size)
	}
	v.logf("%s on %s; %d maps at %dx%d; window %dx%d\n", v.net.Name, v.dev.Info().Name, len(v.maps), size, size, cw, ch)
	if v.photo, err = v.a.newBuffer(int64(size * size * 4)); err != nil {
		return err
	}
	v.fillPhoto(first)
	if err := v.newCanvas(); err != nil {
		return err
	}
	if v.photoBuf, err = v.dev.WrapBuffer(v.photo.handle(), v.photo.size()); err != nil {
		return err
	}
	if v.drawer, err = viz.NewDrawer(v.dev); err != nil {
		return err
	}
	v.sem, err = v.a.newSemaphore()
	return err
}

// newCanvas makes the canvas and screenshot buffers of v.cw x v.ch
// pixels (the application's) and wraps the canvas for the engine.
func (v *view) newCanvas() error {
	var err error
	if v.canvas, err = v.a.newBuffer(int64(v.cw * v.ch * 4)); err != nil {
		return err
	}
	if v.shot, err = v.a.newBuffer(int64(v.cw * v.ch * 4)); err != nil {
		return err
	}
	v.canvasBuf, err = v.dev.WrapBuffer(v.canvas.handle(), v.canvas.size())
	return err
}

// freeCanvas frees what newCanvas made.
func (v *view) freeCanvas() {
	v.canvasBuf.Close()
	v.canvasBuf = nil
	for _, b := range []**hostBuffer{&v.canvas, &v.shot} {
		if *b != nil {
			v.a.freeBuffer(*b)
			*b = nil
		}
	}
}

// resize follows a window whose framebuffer is w x h, or a stale
// swapchain: a new swapchain (of the size the surface gives), then, when
// that size changed, a canvas of it. The last frame has finished (draw
// waits for the engine's drawing and the application's frame), so the
// old canvas is free.
func (v *view) resize(w, h int) error {
	cw, ch, bgra, err := v.a.swapchain(w, h)
	if err != nil {
		return err // errMinimised: the surface has no size, the caller waits
	}
	v.fbW, v.fbH, v.stale = w, h, false
	if cw == v.cw && ch == v.ch && bgra == v.bgra {
		return nil
	}
	v.freeCanvas()
	v.cw, v.ch, v.bgra = cw, ch, bgra
	if err := v.newCanvas(); err != nil {
		return err
	}
	v.logf("window %dx%d\n", cw, ch)
	return nil
}

func (v *view) mapNames() string {
	var names []string
	for _, l := range v.maps {
		names = append(names, l.Name)
	}
	return strings.Join(names, ", ")
}

// fillPhoto writes an image into the application's RGBA8 buffer, as a
// renderer would write a frame. The GPU is not using it: every frame
// waits for its work, which comes after the engine's.
func (v *view) fillPhoto(img images.RGB) {
	b := v.photo.bytes()
	for p := range img.H * img.W {
		for j := range 3 {
			b[4*p+j] = uint8(math.Round(float64(min(max(img.Pix[3*p+j], 0), 1)) * 255))
		}
		b[4*p+3] = 255
	}
}

// compute runs the network on the current image to the current layer,
// from the application's buffer, leaving the map on the device.
func (v *view) compute(ctx context.Context, st *state) error {
	if v.res != nil {
		if err := v.res.Release(); err != nil {
			return err
		}
		v.res = nil
	}
	img, err := images.LoadVGG(v.o.Images[st.image], v.o.Size)
	if err != nil {
		// A file that does not decode is reported and skipped; the
		// photo shown before stays in the buffer.
		v.logf("skipping %s: %v\n", v.o.Images[st.image], err)
	} else {
		v.fillPhoto(img)
	}
	in := graph.DeviceInput{N: 1, H: v.o.Size, W: v.o.Size, Buf: v.photoBuf, RGBA8: true}
	v.res, err = v.net.RunOnDeviceAsync(ctx, in, gpu.Signal{}, v.maps[st.layer].Name)
	return err
}

// draw draws a frame: the engine's drawing, then the application's copy
// into the swapchain image, which waits for it on the GPU. With shoot it
// returns the frame as a picture.
func (v *view) draw(st *state, shoot bool) (pic *image.RGBA, err error) {
	f, ok := v.res.Feature(v.maps[st.layer].Name)
	if !ok {
		return nil, errors.New("viewer: the layer's map is missing")
	}
	h, w, c := f.Shape[1], f.Shape[2], f.Shape[3]
	v.first, v.count = st.page*pageSize, min(pageSize, c-st.page*pageSize)
	if st.zoom >= 0 {
		v.first, v.count = st.zoom, 1
	}
	var photo image.Rectangle
	photo, v.grid, v.tileW, v.tileH, v.cols = Layout(v.cw, v.ch, h, w, v.count)
	seq, err := v.dev.NewSequence(gpu.SequenceOptions{AfterPrevious: true})
	if err != nil {
		return nil, err
	}
	defer seq.Close()
	scene := viz.Scene{Photo: v.photoBuf, PhotoW: v.o.Size, PhotoH: v.o.Size, PhotoRect: photo, Map: f,
		First: v.first, Count: v.count, Grid: v.grid, TileW: v.tileW, TileH: v.tileH, Cols: v.cols, Highlight: -1}
	if err := v.drawer.Draw(seq, viz.Canvas{Buf: v.canvasBuf, W: v.cw, H: v.ch, BGRA: v.bgra}, scene); err != nil {
		return nil, err
	}
	if err := seq.Start(); err != nil {
		return nil, err
	}
	if err := v.dev.SignalAfter(gpu.Signal{Semaphore: v.sem}); err != nil {
		seq.Wait()
		return nil, err
	}
	var shot *hostBuffer
	if shoot && v.a.readable() {
		shot = v.shot
	}
	stale, err := v.a.frame(v.canvas.handle(), shot, v.sem)
	if werr := seq.Wait(); err == nil {
		err = werr
	}
	if err != nil {
		return nil, err
	}
	if shoot {
		// Where the swapchain cannot be read, or went stale before the
		// copy, the canvas is what the frame shows.
		if shot == nil || stale {
			copy(v.shot.bytes(), v.canvas.bytes())
		}
		pic = v.shotImage()
	}
	v.stale = stale // the next frame makes a new swapchain

	v.ranges = nil
	if st.zoom >= 0 {
		v.ranges, err = v.drawer.Ranges()
	}
	return pic, err
}

// shotImage is the last saved frame as an image.
func (v *view) shotImage() *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, v.cw, v.ch))
	copy(img.Pix, v.shot.bytes())
	if v.bgra {
		for i := 0; i < len(img.Pix); i += 4 {
			img.Pix[i], img.Pix[i+2] = img.Pix[i+2], img.Pix[i]
		}
	}
	for i := 3; i < len(img.Pix); i += 4 {
		img.Pix[i] = 255
	}
	return img
}

func (v *view) title(st *state) string {
	l := v.maps[st.layer]
	what := fmt.Sprintf("channels %d-%d of %d", v.first, v.first+v.count-1, l.Shape[3])
	if st.zoom >= 0 && len(v.ranges) == 1 {
		what = fmt.Sprintf("channel %d of %d, from %.4g to %.4g", st.zoom, l.Shape[3], v.ranges[0][0], v.ranges[0][1])
	}
	name := v.net.Name
	if v.net.Precision() != layers.FP32 {
		name += " " + v.net.Precision().String()
	}
	return fmt.Sprintf("vkvgg view: %s, %s %v, %s, %s (%d/%d), %.1f ms/frame", name, l.Name, l.Shape, what,
		filepath.Base(v.o.Images[st.image]), st.image+1, len(v.o.Images), v.ms)
}

// key handles a key press.
func (v *view) key(st *state, key glfw.Key) {
	c := v.maps[st.layer].Shape[3]
	pages := (c + pageSize - 1) / pageSize
	switch key {
	case glfw.KeyRight, glfw.KeyN:
		st.layer, st.page, st.zoom, st.dirty = (st.layer+1)%len(v.maps), 0, -1, true
	case glfw.KeyLeft, glfw.KeyP:
		st.layer, st.page, st.zoom, st.dirty = (st.layer+len(v.maps)-1)%len(v.maps), 0, -1, true
	case glfw.KeyPageDown, glfw.KeySpace, glfw.KeyRightBracket:
		st.page, st.zoom = (st.page+1)%pages, -1
	case glfw.KeyPageUp, glfw.KeyLeftBracket:
		st.page, st.zoom = (st.page+pages-1)%pages, -1
	case glfw.KeyDown, glfw.KeyJ:
		st.image, st.dirty = (st.image+1)%len(v.o.Images), true
	case glfw.KeyUp, glfw.KeyK:
		st.image, st.dirty = (st.image+len(v.o.Images)-1)%len(v.o.Images), true
	case glfw.KeyS:
		st.save = true
	case glfw.KeyEscape:
		if st.zoom >= 0 {
			st.zoom = -1
		} else {
			st.quit = true
		}
	case glfw.KeyQ:
		st.quit = true
	}
}

// click shows the channel under (x, y) large, or goes back to the grid.
func (v *view) click(st *state, x, y int) {
	if st.zoom >= 0 {
		st.zoom = -1
		return
	}
	gx, gy := x-v.grid.X, y-v.grid.Y
	if gx < 0 || gy < 0 || gx%(v.tileW+1) == v.tileW || gy%(v.tileH+1) == v.tileH {
		return
	}
	col, row := gx/(v.tileW+1), gy/(v.tileH+1)
	if i := row*v.cols + col; col < v.cols && i < v.count {
		st.zoom = v.first + i
	}
}

// close frees the engine's side, then the application's buffers.
func (v *view) close() {
	if v.res != nil {
		v.res.Release()
	}
	v.drawer.Close()
	v.photoBuf.Close()
	v.canvasBuf.Close()
	if v.net != nil {
		v.net.Close()
	}
	if v.dev != nil {
		v.dev.Close()
	}
	for _, b := range []*hostBuffer{v.photo, v.canvas, v.shot} {
		if b != nil {
			v.a.freeBuffer(b)
		}
	}
	if v.sem != 0 {
		v.a.freeSemaphore(v.sem)
	}
}
