package vgg

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/vkvgg/vkvgg/gpu"
	"github.com/vkvgg/vkvgg/graph"
	"github.com/vkvgg/vkvgg/layers"
)

// DeviceCPU selects the pure-Go CPU reference in Options.Device.
const DeviceCPU = "cpu"

// Options configure Open and Load.
type Options struct {
	// Device is "cpu" for the CPU reference, or a Vulkan device: "" for
	// the best one, an index from gpu.Devices, or a name substring.
	Device string
	// Validation turns on the Khronos validation layer (Vulkan only).
	Validation bool
	// Profile records GPU timestamps around every dispatch; Net.Timings
	// returns them after each Run (Vulkan only).
	Profile bool
	// FCN runs the network fully convolutionally: fc6 as a 7x7
	// convolution over pool5 and fc7, fc8 as 1x1 convolutions, so that
	// an input larger than 224x224 gives score maps: fc6 ... prob are
	// [N,h,w,F] with h = pool5's height - 6 (and prob a softmax per
	// pixel). At 224x224 the values equal the ordinary path's.
	FCN bool
	// Precision is how a Vulkan device stores the weights and
	// activations (layers.FP32, the default, or layers.FP16; see
	// graph.NewOnPrecision). The CPU reference computes in float32.
	Precision layers.Precision
	// Kernels chooses among the kernels of a Vulkan device (see
	// layers.KernelOptions; the zero value chooses by device and by
	// measurement).
	Kernels layers.KernelOptions
}

// Batch is the network input: N RGB images of H x W, NHWC [N,H,W,3],
// values in [0,1], exactly what tensorflow-vgg's build(rgb) takes.
type Batch = graph.Batch

// Feature is a tensor returned to the host: NHWC [N,H,W,C] for conv and
// pool layers, [N,F] for fc6 ... prob.
type Feature = graph.Feature

// Result holds the features a Run kept.
type Result = graph.Result

// Net is a VGG network ready to run on a Vulkan device or on the CPU: a
// graph.Net of the network Graph describes. It is safe for concurrent
// use (runs are serialised) and honours the context of each Run.
type Net struct {
	*graph.Net
	w *Weights
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
	if err := opts.Kernels.Validate(); err != nil {
		return nil, fmt.Errorf("vgg: %w", err)
	}
	if strings.EqualFold(opts.Device, DeviceCPU) {
		if opts.Precision != layers.FP32 {
			return nil, fmt.Errorf("vgg: precision %v is for Vulkan devices; the CPU reference computes in float32", opts.Precision)
		}
		w, err := weights()
		if err != nil {
			return nil, err
		}
		g, err := Graph(w, opts.FCN)
		if err != nil {
			return nil, err
		}
		gn, err := graph.NewCPU(g)
		if err != nil {
			return nil, err
		}
		return &Net{gn, w}, nil
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
	n, err := openOn(dev, w, release, opts)
	if err != nil {
		dev.Close()
		return nil, err
	}
	n.Own()
	return n, nil
}

// OpenOn checks weights and uploads them to a device the caller owns (an
// application embedding the engine next to its own work); Close leaves
// the device open.
func OpenOn(dev *gpu.Device, w *Weights) (*Net, error) {
	return OpenOnOptions(dev, w, Options{})
}

// OpenOnOptions is OpenOn with the options that concern a network on a
// device: FCN, Precision, Kernels and Profile. Device and Validation
// belong to whoever opened dev, and setting them is an error.
func OpenOnOptions(dev *gpu.Device, w *Weights, opts Options) (*Net, error) {
	if opts.Device != "" || opts.Validation {
		return nil, errors.New("vgg: OpenOnOptions: Device and Validation are chosen when the device is opened (gpu.Options), not here")
	}
	if err := w.validate(); err != nil {
		return nil, err
	}
	if err := opts.Kernels.Validate(); err != nil {
		return nil, fmt.Errorf("vgg: %w", err)
	}
	return openOn(dev, w, false, opts)
}

// openOn uploads the weights; with release the host values are dropped
// layer by layer as they are uploaded.
func openOn(dev *gpu.Device, w *Weights, release bool, opts Options) (*Net, error) {
	g, err := Graph(w, opts.FCN)
	if err != nil {
		return nil, err
	}
	if release {
		// The graph's ops hold the arrays now; the Weights keep shapes only,
		// so that each array is freed once its op has uploaded it.
		for _, p := range w.Params {
			p.W, p.B = nil, nil
		}
	}
	gn, err := graph.NewOnOptions(dev, g, graph.Options{Release: release, Precision: opts.Precision, Kernels: opts.Kernels})
	if err != nil {
		return nil, fmt.Errorf("vgg: %w", err)
	}
	gn.SetProfile(opts.Profile)
	return &Net{gn, w}, nil
}

// Weights are the network's weights.
func (n *Net) Weights() *Weights { return n.w }

// Graph describes a VGG network with tensorflow-vgg's semantics and layer
// names: bgr (the preprocessed input), conv1_1 ... conv5_3 (after their
// ReLU), pool1 ... pool5 (2x2/2, SAME), fc6, relu6, fc7, relu7, fc8 and
// prob. With fcn, fc6 is a 7x7 convolution and fc7, fc8 1x1 convolutions
// (see Options.FCN); the weights are shared, not copied.
func Graph(w *Weights, fcn bool) (*graph.Graph, error) {
	if err := w.validate(); err != nil {
		return nil, err
	}
	g := &graph.Graph{Name: strings.ToLower(w.Arch.String()) + " (tensorflow-vgg)"}
	if fcn {
		g.Name = strings.ToLower(w.Arch.String()) + " (tensorflow-vgg, fully convolutional)"
	}
	add := func(name string, op layers.Op, in string) {
		g.Nodes = append(g.Nodes, graph.Node{Name: name, Op: op, Inputs: []string{in}})
	}
	add("bgr", layers.VGGInput(), graph.Input)
	prev := "bgr"
	c5 := w.pool5Channels()
	for _, s := range w.Arch.steps() {
		p := w.Params[s.param]
		switch s.kind {
		case opConv:
			add(s.name, &layers.Conv{Window: layers.Window{KH: 3, KW: 3, SH: 1, SW: 1, Same: true}, Cin: p.In, Cout: p.Out, W: p.W, B: p.B, ReLU: true}, prev)
		case opPool:
			add(s.name, &layers.Pool{Window: layers.Window{KH: 2, KW: 2, SH: 2, SW: 2, Same: true}}, prev)
		case opFC:
			if !fcn {
				add(s.name, &layers.FC{In: p.In, Out: p.Out, W: p.W, B: p.B}, prev)
				break
			}
			// fc6's rows are pool5 flattened in H,W,C order: as HWIO
			// weights they are a [k,k,C,out] convolution as they are.
			k := 1
			if s.name == "fc6" {
				k = int(math.Round(math.Sqrt(float64(p.In / c5))))
				if k*k*c5 != p.In {
					return nil, fmt.Errorf("vgg: fully convolutional: fc6 takes %d inputs, not a square map of %d channels", p.In, c5)
				}
			}
			add(s.name, &layers.Conv{Window: layers.Window{KH: k, KW: k, SH: 1, SW: 1}, Cin: p.In / (k * k), Cout: p.Out, W: p.W, B: p.B}, prev)
		case opReLU:
			add(s.name, layers.ReLU{}, prev)
		case opSoftmax:
			add(s.name, &layers.Softmax{Maps: fcn}, prev)
		}
		prev = s.name
	}
	g.SizeHint = func(in layers.Shape, node string, err error) error {
		if !strings.HasPrefix(node, "fc6") {
			return err
		}
		h, wd := in.H, in.W
		for range 5 {
			h, wd = (h+1)/2, (wd+1)/2
		}
		if fcn {
			k := int(math.Round(math.Sqrt(float64(w.FC6Inputs() / c5))))
			return fmt.Errorf("%w: fully convolutional fc6 is a %dx%d convolution over pool5, and an input of %dx%d gives pool5 %dx%d: use an input of at least %dx%d",
				graph.ErrShape, k, k, in.H, in.W, h, wd, 32*k, 32*k)
		}
		return fmt.Errorf("%w: fc6's weights take pool5 with H*W*C = %d%s; an input of %dx%d gives pool5 %dx%dx%d = %d (conv and pool layers work at any size; Options.FCN takes larger inputs)",
			graph.ErrShape, w.FC6Inputs(), fc6Hint(w), in.H, in.W, h, wd, c5, h*wd*c5)
	}
	return g, nil
}

// fc6Hint describes the input size fc6 expects when pool5 is square.
func fc6Hint(w *Weights) string {
	c := w.pool5Channels()
	hw := w.FC6Inputs() / c
	s := int(math.Round(math.Sqrt(float64(hw))))
	if s*s != hw {
		return ""
	}
	return fmt.Sprintf(" (%dx%dx%d, a %dx%d input)", s, s, c, 32*s, 32*s)
}

// Run computes the network on a batch up to the deepest layer named and
// returns the named features (and nothing else: unnamed maps are never
// copied to the host). Names and the input are checked before any work.
func (n *Net) Run(ctx context.Context, b Batch, names ...string) (*Result, error) {
	r, err := n.Net.Run(ctx, b, names...)
	if err != nil {
		return nil, fmt.Errorf("vgg: %w", err)
	}
	return r, nil
}
