// Package models opens any network vkvgg knows from a weight file or a
// built-in random source, on a Vulkan device or the CPU reference:
//
//   - tensorflow-vgg VGG16/VGG19 (.npy/.npz, see package vgg);
//   - torchvision's vgg11 ... vgg19(_bn), alexnet and resnet18 ... resnet152
//     from a torch.save'd state dict (.pth, see package torchvision);
//   - random:vgg16 and random:vgg19 (tensorflow-vgg), random:alexnet,
//     random:resnet18 ... random:resnet152 and random:torchvision-vgg16
//     (and -vgg11, -vgg13, -vgg19): deterministic random weights of the
//     real shapes, whose outputs mean nothing.
package models

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/vkvgg/vkvgg/gpu"
	"github.com/vkvgg/vkvgg/graph"
	"github.com/vkvgg/vkvgg/layers"
	"github.com/vkvgg/vkvgg/npy"
	"github.com/vkvgg/vkvgg/torchvision"
	"github.com/vkvgg/vkvgg/vgg"
)

// Device selectors with a meaning of their own: the pure-Go CPU
// reference, and the best Vulkan device or else the CPU reference.
const (
	DeviceCPU  = "cpu"
	DeviceAuto = "auto"
)

// Options configure Load.
type Options struct {
	// Device is "cpu" for the CPU reference, "auto" for the best Vulkan
	// device or, where there is none (no loader, no driver, a build
	// without cgo), the CPU reference (Net.Fallback says why), or a Vulkan
	// device: "" for the best one, an index from gpu.Devices, or a name
	// substring.
	Device string
	// Validation turns on the Khronos validation layer.
	Validation bool
	// PipelineCache is a folder for the device's pipeline cache ("" for
	// none; see gpu.Options.PipelineCache).
	PipelineCache string
	// FCN runs a tensorflow-vgg network fully convolutionally (see
	// vgg.Options.FCN).
	FCN bool
	// Precision is how a Vulkan device stores weights and activations:
	// layers.FP32 (the zero value) or layers.FP16 (16-bit storage, fp32
	// arithmetic; the device must offer 16-bit storage buffers). The CPU
	// reference always computes in float32: FP16 with Device "cpu" is an
	// error, and where "auto" falls back to the CPU it runs in float32.
	Precision layers.Precision
	// Kernels chooses among the kernels of a Vulkan device (see
	// layers.KernelOptions; the zero value chooses by device and by
	// measurement). The vkvgg command reads them from VKVGG_KERNELS,
	// VKVGG_WINOGRAD and VKVGG_SUBGROUPS.
	Kernels layers.KernelOptions
	// Check, when set, is called with the network's graph once the file
	// is read and before anything is uploaded, so that a program can
	// refuse layer names or input sizes (graph.Graph.CheckRun) before the
	// expensive part.
	Check func(g *graph.Graph) error
	// Extend, when set, may return another graph to upload in place of
	// the network's own (a head attached to it, see package heads).
	Extend func(g *graph.Graph) (*graph.Graph, error)
}

// Net is an opened network.
type Net struct {
	*graph.Net
	// Name is the network and its family: "resnet50 (torchvision)".
	Name string
	// Classes is the number of outputs of the last layer.
	Classes int
	// Random says the weights are generated: results mean nothing.
	Random bool
	// Source is the file or random: name.
	Source string
	// Output is the name of the class probabilities ("prob").
	Output string
	// Fallback is why Device "auto" runs on the CPU reference, or nil.
	Fallback error
}

// RandomNames lists the random: sources.
func RandomNames() []string {
	out := []string{"random:vgg16", "random:vgg19"}
	for _, n := range torchvision.Names() {
		if strings.HasPrefix(n, "vgg") {
			n = "torchvision-" + n
		}
		out = append(out, vgg.RandomPrefix+n)
	}
	return out
}

// Load reads a weight file (or makes random weights, see RandomNames),
// recognises the network, and opens it on the device opts selects. The
// device is opened first, so that a missing device fails before the
// weights are read; on a device the host copy of each layer's weights is
// dropped once uploaded.
func Load(path string, opts Options) (*Net, error) {
	if opts.Precision != layers.FP32 && strings.EqualFold(opts.Device, DeviceCPU) {
		return nil, fmt.Errorf("models: precision %v is for Vulkan devices; the CPU reference computes in float32", opts.Precision)
	}
	if err := opts.Kernels.Validate(); err != nil {
		return nil, fmt.Errorf("models: %w", err)
	}
	var dev *gpu.Device
	var fallback error
	if !strings.EqualFold(opts.Device, DeviceCPU) {
		sel := opts.Device
		if strings.EqualFold(sel, DeviceAuto) {
			sel = ""
		}
		var err error
		dev, err = gpu.Open(gpu.Options{Device: sel, Validation: opts.Validation, PipelineCache: opts.PipelineCache})
		if err != nil && strings.EqualFold(opts.Device, DeviceAuto) && (errors.Is(err, gpu.ErrNoVulkan) || errors.Is(err, gpu.ErrNoDevice)) {
			dev, fallback = nil, err
		} else if err != nil {
			return nil, err
		}
	}
	if dev != nil {
		if err := layers.CheckPrecision(dev, opts.Precision); err != nil {
			dev.Close() // before the weights are read
			return nil, err
		}
	}
	n, err := load(path, opts, dev)
	if err != nil {
		dev.Close()
		return nil, err
	}
	n.Source = path
	n.Output = "prob"
	n.Fallback = fallback
	if dev != nil {
		n.Own()
	}
	return n, nil
}

// LoadOn is Load on a device the caller opened or adopted (gpu.Adopt, for
// an application's own Vulkan device); opts.Device and opts.Validation
// are ignored, and closing the Net leaves the device open.
func LoadOn(dev *gpu.Device, path string, opts Options) (*Net, error) {
	if dev == nil {
		return nil, errors.New("models: LoadOn needs a device")
	}
	n, err := load(path, opts, dev)
	if err != nil {
		return nil, err
	}
	n.Source, n.Output = path, "prob"
	return n, nil
}

func load(path string, opts Options, dev *gpu.Device) (*Net, error) {
	d, err := describe(path, opts)
	if err != nil {
		return nil, err
	}
	if opts.Extend != nil {
		if d.g, err = opts.Extend(d.g); err != nil {
			return nil, err
		}
	}
	if opts.Check != nil {
		if err := opts.Check(d.g); err != nil {
			return nil, err
		}
	}
	var gn *graph.Net
	if dev == nil {
		gn, err = graph.NewCPU(d.g)
	} else {
		gn, err = graph.NewOnOptions(dev, d.g, graph.Options{Release: true, Precision: opts.Precision, Kernels: opts.Kernels})
	}
	if err != nil {
		return nil, err
	}
	return &Net{Net: gn, Name: d.name, Classes: d.classes, Random: d.random}, nil
}

// described is a network read from a file or made at random.
type described struct {
	name    string
	g       *graph.Graph
	classes int
	random  bool
}

var errFCN = errors.New("models: the fully convolutional mode is for tensorflow-vgg networks")

// describe reads the weights and builds the graph.
func describe(path string, opts Options) (described, error) {
	rest, random := strings.CutPrefix(path, vgg.RandomPrefix)
	rest = strings.ToLower(rest)
	if random && (rest == "vgg16" || rest == "vgg19") || !random && !isTorch(path) {
		return describeVGG(path, opts.FCN)
	}
	if opts.FCN {
		return described{}, errFCN
	}
	var sd torchvision.StateDict
	if random {
		if !slices.Contains(RandomNames(), vgg.RandomPrefix+rest) {
			return described{}, fmt.Errorf("models: unknown network %q (known: %s)", path, strings.Join(RandomNames(), ", "))
		}
		var err error
		if sd, err = torchvision.Random(strings.TrimPrefix(rest, "torchvision-"), 1); err != nil {
			return described{}, err
		}
	} else {
		entries, err := npy.ReadTorchChecked(path, torchvision.CheckShape)
		if err != nil {
			return described{}, err
		}
		sd = torchvision.FromEntries(entries)
	}
	m, err := torchvision.Build(sd)
	if err != nil {
		return described{}, fmt.Errorf("%s: %w", path, err)
	}
	return described{m.Graph.Name, m.Graph, m.Classes, random}, nil
}

// describeVGG reads tensorflow-vgg weights (or makes random ones).
func describeVGG(path string, fcn bool) (described, error) {
	w, err := vgg.LoadWeights(path)
	if err != nil {
		return described{}, err
	}
	g, err := vgg.Graph(w, fcn)
	if err != nil {
		return described{}, err
	}
	// The graph's ops hold the arrays; drop the Weights' references so
	// that each is freed once uploaded.
	for _, p := range w.Params {
		p.W, p.B = nil, nil
	}
	return described{g.Name, g, w.Classes(), w.Random}, nil
}

// isTorch tells a torch.save file from a tensorflow-vgg one by its first
// bytes; a file that cannot be read is left to the tensorflow-vgg reader,
// whose error names it.
func isTorch(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	head := make([]byte, 4096)
	n, _ := io.ReadFull(f, head)
	return npy.IsTorch(head[:n])
}
