package vgg

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime/debug"
	"strings"

	"github.com/vkvgg/vkvgg/gpu"
	"github.com/vkvgg/vkvgg/layers"
)

// DeviceCPU selects the pure-Go CPU reference in Options.Device.
const DeviceCPU = "cpu"

// Options configure Open and Load.
type Options struct {
	// Device is "cpu" for the CPU reference, or a Vulkan device: "" for
	// the best one (or the VKVGG_DEVICE variable), an index from
	// gpu.Devices, or a name substring.
	Device string
	// Validation turns on the Khronos validation layer (Vulkan only).
	Validation bool
	// Profile records GPU timestamps around every dispatch; Net.Timings
	// returns them after each Run (Vulkan only).
	Profile bool
}

// Batch is the network input: N RGB images of H x W, NHWC [N,H,W,3],
// values in [0,1], exactly what tensorflow-vgg's build(rgb) takes.
type Batch struct {
	N, H, W int
	Data    []float32
}

// Feature is a tensor returned to the host: NHWC [N,H,W,C] for conv and
// pool layers, [N,F] for fc6 ... prob.
type Feature struct {
	Name  string
	Shape []int
	Data  []float32
}

// Result holds the features a Run kept.
type Result struct {
	features map[string]Feature
	order    []string
}

// Feature returns a kept feature by name.
func (r *Result) Feature(name string) (Feature, bool) {
	f, ok := r.features[name]
	return f, ok
}

// Names lists the kept features in network order.
func (r *Result) Names() []string { return append([]string(nil), r.order...) }

// Net is a VGG network ready to run on a Vulkan device or on the CPU. A
// Net may be used by one goroutine at a time; open one per goroutine (they
// may share a device through OpenOn) for concurrent work.
type Net struct {
	w       *Weights
	dev     *gpu.Device // nil on the CPU
	ownDev  bool
	kit     *layers.Kit
	convs   map[string]*layers.Conv3x3
	fcs     map[string]*layers.FC
	plan    *plan
	profile bool
	closed  bool
}

// Load reads weights (a file or "random:vgg16"/"random:vgg19") and opens
// the network on the device that opts selects. The device is opened
// first, so a missing device fails before the weights are read, and on a
// Vulkan device each layer's host copy is dropped once it is uploaded:
// peak host memory is then about the file plus its largest layer, and
// after loading only the device holds the weights (Weights then keeps
// the shapes but no values).
func Load(path string, opts Options) (*Net, error) {
	return open(opts, true, func() (*Weights, error) { return LoadWeights(path) })
}

// Open checks weights and uploads them to the device that opts selects.
// The caller's weights are left untouched.
func Open(w *Weights, opts Options) (*Net, error) {
	if err := w.validate(); err != nil {
		return nil, err
	}
	return open(opts, false, func() (*Weights, error) { return w, nil })
}

// open opens the device that opts selects (none for the CPU), then gets
// the weights and uploads them; the net owns the device.
func open(opts Options, release bool, weights func() (*Weights, error)) (*Net, error) {
	if strings.EqualFold(opts.Device, DeviceCPU) {
		w, err := weights()
		if err != nil {
			return nil, err
		}
		return &Net{w: w}, nil
	}
	dev, err := gpu.Open(gpu.Options{Device: opts.Device, Validation: opts.Validation})
	if err != nil {
		return nil, err
	}
	w, err := weights()
	if err != nil {
		dev.Close()
		return nil, err
	}
	n, err := openOn(dev, w, release)
	if err != nil {
		dev.Close()
		return nil, err
	}
	n.ownDev = true
	n.profile = opts.Profile
	return n, nil
}

// OpenOn checks weights and uploads them to a device the caller owns (an
// application embedding the engine next to its own work); Close leaves
// the device open.
func OpenOn(dev *gpu.Device, w *Weights) (*Net, error) {
	if err := w.validate(); err != nil {
		return nil, err
	}
	return openOn(dev, w, false)
}

// openOn uploads the weights; with release it drops each layer's host
// values after their upload.
func openOn(dev *gpu.Device, w *Weights, release bool) (*Net, error) {
	n := &Net{w: w, dev: dev, kit: layers.NewKit(dev), convs: map[string]*layers.Conv3x3{}, fcs: map[string]*layers.FC{}}
	for _, s := range w.Arch.steps() {
		p := w.Params[s.param]
		var err error
		switch s.kind {
		case opConv:
			in := p.In
			if s.name == "conv1_1" { // reads the preprocessed input, which may have a zero 4th channel
				in = n.kit.InputChannels(p.In)
			}
			wt := layers.PadInputChannels(p.W, p.In, p.Out, in)
			n.convs[s.name], err = n.kit.NewConv3x3(in, p.Out, wt, p.B, true)
		case opFC:
			n.fcs[s.name], err = n.kit.NewFC(p.In, p.Out, p.W, p.B)
		default:
			continue
		}
		if err != nil {
			n.Close()
			return nil, fmt.Errorf("vgg: uploading %s: %w", s.param, err)
		}
		if release {
			big := len(p.W) > 1<<22
			p.W, p.B = nil, nil
			if big {
				debug.FreeOSMemory() // return it before the next layer's device memory
			}
		}
	}
	return n, nil
}

// SetProfile turns GPU timestamps on or off for the following runs.
func (n *Net) SetProfile(on bool) {
	if on != n.profile && n.plan != nil {
		n.plan.close()
		n.plan = nil
	}
	n.profile = on
}

// Timings returns the GPU time of each dispatch of the last Run, labelled
// with the layer, when profiling is on and the device has timestamps.
func (n *Net) Timings() ([]gpu.Timing, error) {
	if n.plan == nil || !n.profile {
		return nil, nil
	}
	t, err := n.plan.seq.Timings()
	if err != nil {
		return nil, err
	}
	for i := range t {
		if i < len(n.plan.labels) {
			t[i].Label = n.plan.labels[i] + " " + t[i].Label
		}
	}
	return t, nil
}

// Weights are the network's weights.
func (n *Net) Weights() *Weights { return n.w }

// Device is the Vulkan device, or nil on the CPU.
func (n *Net) Device() *gpu.Device { return n.dev }

// Close frees the device memory (and the device when Load or Open opened
// it). It is idempotent and nil-safe.
func (n *Net) Close() error {
	if n == nil || n.closed {
		return nil
	}
	n.closed = true
	var errs []error
	if n.plan != nil {
		errs = append(errs, n.plan.close())
	}
	for _, c := range n.convs {
		errs = append(errs, c.Close())
	}
	for _, f := range n.fcs {
		errs = append(errs, f.Close())
	}
	errs = append(errs, n.kit.Close())
	if n.ownDev {
		errs = append(errs, n.dev.Close())
	}
	return errors.Join(errs...)
}

// shapes returns the shape of every step's output for an input size.
func (n *Net) shapes(b Batch) []layers.Shape {
	steps := n.w.Arch.steps()
	out := make([]layers.Shape, len(steps))
	cur := layers.Shape{N: b.N, H: b.H, W: b.W, C: 3}
	for i, s := range steps {
		switch s.kind {
		case opConv:
			cur.C = n.w.Params[s.param].Out
		case opPool:
			cur = layers.PoolShape(cur)
		case opFC:
			cur = layers.Shape{N: b.N, H: 1, W: 1, C: n.w.Params[s.param].Out}
		}
		out[i] = cur
	}
	return out
}

// check validates the batch and the requested names before any work and
// returns the index of the deepest requested step.
func (n *Net) check(b Batch, names []string) (int, error) {
	if n.closed {
		return 0, errors.New("vgg: Run on a closed Net")
	}
	if len(names) == 0 {
		return 0, errors.New("vgg: no layer requested")
	}
	last := 0
	for _, name := range names {
		i, err := n.w.Arch.index(name)
		if err != nil {
			return 0, err
		}
		last = max(last, i)
	}
	if b.N < 1 || b.H < 1 || b.W < 1 {
		return 0, fmt.Errorf("vgg: input [%d,%d,%d,3]: every dimension must be at least 1", b.N, b.H, b.W)
	}
	if float64(b.N)*float64(b.H)*float64(b.W)*3 != float64(len(b.Data)) {
		return 0, fmt.Errorf("vgg: input [%d,%d,%d,3] needs %d values, got %d", b.N, b.H, b.W, b.N*b.H*b.W*3, len(b.Data))
	}
	for i, v := range b.Data {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return 0, fmt.Errorf("vgg: input value %d is %v: inputs must be finite", i, v)
		}
	}
	steps := n.w.Arch.steps()
	if steps[last].kind != opConv && steps[last].kind != opPool {
		pool5 := n.shapes(b)[n.pool5()]
		if got := pool5.Image(); got != n.w.FC6Inputs() {
			return 0, fmt.Errorf("vgg: %s needs fc6, whose weights take pool5 with H*W*C = %d%s; an input of %dx%d gives pool5 %dx%dx%d = %d (conv and pool layers work at any size)",
				steps[last].name, n.w.FC6Inputs(), n.fc6Hint(), b.H, b.W, pool5.H, pool5.W, pool5.C, got)
		}
	}
	return last, nil
}

func (n *Net) pool5() int {
	i, _ := n.w.Arch.index("pool5")
	return i
}

// fc6Hint describes the input size fc6 expects when pool5 is square.
func (n *Net) fc6Hint() string {
	c := n.w.pool5Channels()
	hw := n.w.FC6Inputs() / c
	s := int(math.Round(math.Sqrt(float64(hw))))
	if s*s != hw {
		return ""
	}
	return fmt.Sprintf(" (%dx%dx%d, a %dx%d input)", s, s, c, 32*s, 32*s)
}

// Run computes the network on a batch up to the deepest layer named and
// returns the named features (and nothing else: unnamed maps are never
// copied to the host). Names are checked before any work.
func (n *Net) Run(ctx context.Context, b Batch, names ...string) (*Result, error) {
	last, err := n.check(b, names)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	keep := map[string]bool{}
	for _, name := range names {
		keep[name] = true
	}
	if n.dev == nil {
		return n.runCPU(ctx, b, last, keep)
	}
	return n.runGPU(b, last, keep)
}

func (n *Net) result(b Batch, keep map[string]bool, get func(i int, s layers.Shape) ([]float32, error)) (*Result, error) {
	r := &Result{features: map[string]Feature{}}
	shapes := n.shapes(b)
	for i, s := range n.w.Arch.steps() {
		if !keep[s.name] {
			continue
		}
		sh := shapes[i]
		data, err := get(i, sh)
		if err != nil {
			return nil, err
		}
		shape := []int{sh.N, sh.H, sh.W, sh.C}
		if s.kind != opConv && s.kind != opPool {
			shape = []int{sh.N, sh.C}
		}
		r.features[s.name] = Feature{Name: s.name, Shape: shape, Data: data}
		r.order = append(r.order, s.name)
	}
	return r, nil
}
