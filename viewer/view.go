//go:build cgo

package viewer

import (
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"math"
	"runtime"
	"time"
	"unsafe"

	"github.com/go-gl/glfw/v3.3/glfw"

	"github.com/vkvgg/vkvgg/images"
	"github.com/vkvgg/vkvgg/layers"
	"github.com/vkvgg/vkvgg/viz"
)

// GLFW wants its calls on the process's main thread: the main goroutine
// stays there.
func init() { runtime.LockOSThread() }

// Options configure Run.
type Options struct {
	Weights string // a weight file or random:NAME (models.Load)
	FCN     bool   // tensorflow-vgg fully convolutional
	// Precision is how the device stores weights and activations
	// (layers.FP16 where the device has 16-bit storage buffers).
	Precision layers.Precision
	// Kernels chooses among the device's kernels (layers.KernelOptions).
	Kernels layers.KernelOptions
	Layer   string   // the layer shown first ("": the first map)
	Images  []string // image files, shown one at a time
	Size    int      // centre-crop and resize to Size x Size (0: 224)
	Width   int      // window size (0: 1024 x 640)
	Height  int
	// Frames > 0 renders that many frames and returns; Screenshot, when
	// set, is where the last frame (or any frame on the s key) is saved
	// as PNG.
	Frames     int
	Screenshot string
	Validation bool
	// PipelineCache is a folder for the device's pipeline cache.
	PipelineCache string
	Log           io.Writer // what the viewer reports (nil: nothing)

	beforeFrame func(frame int, win *glfw.Window) // tests: runs before each frame's events
}

// The page of channels shown at once.
const pageSize = 64

// Layout is where a frame's parts go: the photo's rectangle, the grid's
// origin, tile size and columns for count tiles of mapH x mapW. Tiles
// keep the map's aspect and are as large as the panel right of the photo
// allows.
func Layout(canvasW, canvasH, mapH, mapW, count int) (photo image.Rectangle, grid image.Point, tileW, tileH, cols int) {
	side := max(min(canvasH-16, canvasW/4), 1)
	photo = image.Rect(8, 8, 8+side, 8+side)
	grid = image.Pt(photo.Max.X+12, 8)
	pw, ph := max(canvasW-grid.X-8, 1), max(canvasH-16, 1)
	best := -1.0
	for c := 1; c <= count; c++ {
		rows := (count + c - 1) / c
		s := math.Min(float64((pw+1)/c-1)/float64(mapW), float64((ph+1)/rows-1)/float64(mapH))
		if s > best {
			best, cols = s, c
		}
	}
	tileW, tileH = max(int(best*float64(mapW)), 1), max(int(best*float64(mapH)), 1)
	return photo, grid, tileW, tileH, cols
}

// state is what the window shows.
type state struct {
	image, layer, page int
	zoom               int // a channel shown large, or -1
	dirty              bool
	save               bool
	quit               bool
}

// Run opens the window and shows the network's feature maps until the
// window closes or ctx ends (or Frames frames are drawn).
func Run(ctx context.Context, o Options) error {
	if len(o.Images) == 0 {
		return errors.New("viewer: no image")
	}
	if o.Size == 0 {
		o.Size = 224
	}
	if o.Width == 0 {
		o.Width, o.Height = 1024, 640
	}
	if o.Size < 1 || o.Width < 64 || o.Height < 64 || o.Frames < 0 {
		return fmt.Errorf("viewer: size %d, window %dx%d, frames %d", o.Size, o.Width, o.Height, o.Frames)
	}
	logf := func(format string, args ...any) {
		if o.Log != nil {
			fmt.Fprintf(o.Log, format, args...)
		}
	}
	// The first image is read before the window opens: a bad file fails
	// at once.
	first, err := images.LoadVGG(o.Images[0], o.Size)
	if err != nil {
		return err
	}
	if err := glfw.Init(); err != nil {
		return fmt.Errorf("viewer: no window system (%v): run under a display (xvfb-run for none), or draw PNGs with vkvgg grid", err)
	}
	defer glfw.Terminate()
	if !glfw.VulkanSupported() {
		return errors.New("viewer: GLFW finds no Vulkan loader (Debian: libvulkan1)")
	}
	glfw.WindowHint(glfw.ClientAPI, glfw.NoAPI)
	glfw.WindowHint(glfw.Resizable, glfw.True)
	win, err := glfw.CreateWindow(o.Width, o.Height, "vkvgg view", nil, nil)
	if err != nil {
		return fmt.Errorf("viewer: %w", err)
	}
	defer win.Destroy()
	a, err := openApp(o.Validation, win.GetRequiredInstanceExtensions(), func(inst unsafe.Pointer) (uint64, error) { return windowSurface(win, inst) })
	if err != nil {
		return err
	}
	defer a.close()
	fbW, fbH := win.GetFramebufferSize() // pixels, which on HiDPI screens are not the window's units
	cw, ch, bgra, err := a.swapchain(fbW, fbH)
	if err != nil {
		return err
	}
	v := &view{o: o, a: a, logf: logf, fbW: fbW, fbH: fbH}
	defer v.close()
	if err := v.open(cw, ch, bgra, first); err != nil {
		return err
	}
	st := &state{zoom: -1, dirty: true}
	want := o.Layer
	if target, ok := v.aliases[want]; ok {
		want = target
	}
	for i, l := range v.maps {
		if l.Name == want {
			st.layer = i
		}
	}
	if o.Layer != "" && v.maps[st.layer].Name != want {
		return fmt.Errorf("viewer: %s is not a map of %s at %dx%d (maps: %s)", o.Layer, v.net.Name, o.Size, o.Size, v.mapNames())
	}
	win.SetKeyCallback(func(_ *glfw.Window, key glfw.Key, _ int, action glfw.Action, _ glfw.ModifierKey) {
		if action == glfw.Release {
			return
		}
		v.key(st, key)
	})
	win.SetMouseButtonCallback(func(w *glfw.Window, button glfw.MouseButton, action glfw.Action, _ glfw.ModifierKey) {
		if button != glfw.MouseButtonLeft || action != glfw.Press {
			return
		}
		x, y := w.GetCursorPos()
		v.click(st, int(x), int(y))
	})
	for frame := 1; ; frame++ {
		if o.beforeFrame != nil {
			o.beforeFrame(frame, win)
		}
		glfw.PollEvents()
		if win.ShouldClose() || st.quit || ctx.Err() != nil {
			break
		}
		w, h := win.GetFramebufferSize()
		if w == 0 || h == 0 { // minimised
			glfw.WaitEventsTimeout(0.1)
			frame--
			continue
		}
		if w != v.fbW || h != v.fbH || v.stale { // resized, or out of date: a new swapchain (and canvas)
			err := v.resize(w, h)
			if errors.Is(err, errMinimised) { // the surface has no size yet: wait as while minimised
				glfw.WaitEventsTimeout(0.1)
				frame--
				continue
			}
			if err != nil {
				return err
			}
		}
		if st.dirty {
			if err := v.compute(ctx, st); err != nil {
				return err
			}
			st.dirty = false
		}
		last := o.Frames > 0 && frame == o.Frames
		shoot := st.save || (last && o.Screenshot != "")
		start := time.Now()
		pic, err := v.draw(st, shoot)
		if err != nil {
			return err
		}
		v.ms = float64(time.Since(start).Microseconds()) / 1000
		win.SetTitle(v.title(st))
		if shoot {
			st.save = false
			path := o.Screenshot
			if path == "" {
				path = fmt.Sprintf("vkvgg-view-%s.png", time.Now().Format("20060102-150405"))
			}
			if err := viz.WritePNG(path, pic); err != nil {
				return err
			}
			logf("saved %s (%s)\n", path, v.title(st))
		}
		if last {
			break
		}
	}
	if msgs := v.dev.ValidationMessages(); len(msgs) > 0 {
		return fmt.Errorf("viewer: %d validation messages, the first: %s", len(msgs), msgs[0])
	}
	return ctx.Err()
}
