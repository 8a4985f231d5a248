package graph

import (
	"context"
	"errors"
	"fmt"

	"github.com/vkvgg/vkvgg/gpu"
	"github.com/vkvgg/vkvgg/layers"
)

// DeviceInput is a batch already in device memory, for an application
// whose images are on the GPU: N images of H x W from element Off of Buf
// (a buffer of the Net's device), either float32 NHWC RGB [N,H,W,3] in
// [0,1], or with RGBA8 one 32-bit word per pixel (red in the low byte,
// as an R8G8B8A8 image or a camera frame stores them; alpha is dropped),
// converted on the device.
type DeviceInput struct {
	N, H, W int
	Buf     *gpu.Buffer
	Off     int // in elements: floats, or words with RGBA8
	RGBA8   bool
}

// DeviceFeature is a feature left in device memory: float32 values of
// Shape (NHWC maps, [N,F] vectors) from byte 0 of Buf, Bytes long.
// Buf.Handle() is its VkBuffer.
type DeviceFeature struct {
	Name  string
	Shape []int
	Buf   *gpu.Buffer
	Bytes int64
}

// DeviceResult holds the features of RunOnDevice until Release.
type DeviceResult struct {
	features map[string]DeviceFeature
	order    []string
}

// Feature returns a feature by name.
func (r *DeviceResult) Feature(name string) (DeviceFeature, bool) {
	f, ok := r.features[name]
	return f, ok
}

// Names lists the features in network order.
func (r *DeviceResult) Names() []string { return append([]string(nil), r.order...) }

// Release frees the features' buffers; they must not be used after.
func (r *DeviceResult) Release() error {
	var errs []error
	for _, f := range r.features {
		errs = append(errs, f.Buf.Close())
	}
	r.features = nil
	return errors.Join(errs...)
}

// RunOnDevice runs the network on an input in device memory and leaves
// the named features in device buffers of their own, valid until
// Release: nothing goes through the host. The device's work is complete
// when it returns (the features can be read, and the input written, by
// the application at once). Names and sizes are checked before any work;
// the input's values are not read, so they are not checked.
func (n *Net) RunOnDevice(ctx context.Context, in DeviceInput, names ...string) (*DeviceResult, error) {
	if n.dev == nil {
		return nil, errors.New("graph: RunOnDevice needs a Net on a Vulkan device")
	}
	if in.N < 1 || in.H < 1 || in.W < 1 || in.Buf == nil || in.Off < 0 {
		return nil, fmt.Errorf("%w: device input [%d,%d,%d,3] at element %d", ErrInput, in.N, in.H, in.W, in.Off)
	}
	pixels := int64(in.N) * int64(in.H) * int64(in.W)
	count := pixels * 3
	if in.RGBA8 {
		count = pixels
	}
	if (int64(in.Off)+count)*4 > in.Buf.Size() {
		return nil, fmt.Errorf("%w: device input [%d,%d,%d,3] at element %d does not fit its %d-byte buffer", ErrInput, in.N, in.H, in.W, in.Off, in.Buf.Size())
	}
	if err := n.mu.lockCtx(ctx); err != nil {
		return nil, err
	}
	defer n.mu.unlock()
	if n.closed {
		return nil, ErrClosed
	}
	s, err := newSchedule(n.g, layers.Shape{N: in.N, H: in.H, W: in.W, C: 3}, names, n.fusable)
	if err != nil {
		return nil, err
	}
	p, err := n.planFor(s)
	if err != nil {
		return nil, err
	}
	n.last = p
	// The input goes into the plan's input buffer on the device: copied,
	// or unpacked from RGBA8.
	if in.RGBA8 {
		if err := n.onDevice(func(seq *gpu.Sequence) error {
			return n.kit.UnpackRGBA8(seq, in.Buf, in.Off, p.tensor(-1).Buf, 0, int(pixels))
		}); err != nil {
			return nil, err
		}
	} else if err := n.copyOnDevice([][2]gpu.View{{in.Buf.Floats(in.Off, int(count)), p.tensor(-1).Buf.Floats(0, int(count))}}); err != nil {
		return nil, err
	}
	if err := p.run(ctx, nil); err != nil {
		return nil, err
	}
	r := &DeviceResult{features: map[string]DeviceFeature{}}
	var copies [][2]gpu.View
	for _, k := range s.kept {
		t := p.tensor(k.node)
		buf, err := n.dev.NewBuffer(int64(max(t.Shape.Len(), 1)) * 4)
		if err != nil {
			r.Release()
			return nil, fmt.Errorf("graph: a buffer for %s: %w", k.name, err)
		}
		r.features[k.name] = DeviceFeature{Name: k.name, Shape: s.featureShape(k.node), Buf: buf, Bytes: int64(t.Shape.Len()) * 4}
		r.order = append(r.order, k.name)
		copies = append(copies, [2]gpu.View{t.Buf.Floats(t.Off, t.Shape.Len()), buf.Floats(0, t.Shape.Len())})
	}
	if err := n.copyOnDevice(copies); err != nil {
		r.Release()
		return nil, err
	}
	return r, nil
}

// copyOnDevice records and runs device-to-device copies (src, dst).
func (n *Net) copyOnDevice(copies [][2]gpu.View) error {
	return n.onDevice(func(seq *gpu.Sequence) error {
		for _, c := range copies {
			if err := seq.Copy(c[1], c[0]); err != nil {
				return err
			}
		}
		return nil
	})
}

// onDevice records work into a sequence that runs after every earlier
// submission, submits it and waits for it.
func (n *Net) onDevice(record func(*gpu.Sequence) error) error {
	seq, err := n.dev.NewSequence(gpu.SequenceOptions{AfterPrevious: true})
	if err != nil {
		return err
	}
	defer seq.Close()
	if err := record(seq); err != nil {
		return err
	}
	return seq.Submit()
}
