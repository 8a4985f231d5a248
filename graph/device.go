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
// (a buffer of the Net's device), either NHWC RGB [N,H,W,3] in [0,1] in
// the Net's precision (float32, or 16-bit floats for an FP16 Net), or
// with RGBA8 one 32-bit word per pixel (red in the low byte, as an
// R8G8B8A8 image or a camera frame stores them; alpha is dropped),
// converted on the device.
type DeviceInput struct {
	N, H, W int
	Buf     *gpu.Buffer
	Off     int // in elements: floats (of the Net's precision), or words with RGBA8
	RGBA8   bool
}

// DeviceFeature is a feature left in device memory: the values of Shape
// (NHWC maps, [N,F] vectors) from byte 0 of Buf, Bytes long, float32 or,
// when Half, 16-bit floats (an FP16 Net). Buf.Handle() is its VkBuffer;
// it is a multiple of 16 bytes, so that Buf.All() can be bound as a
// storage or texel buffer when Bytes (in fp16) is not a multiple of 4.
// Unlike Run, nothing reads an fp16 feature back to look for the
// infinities of a layer beyond fp16's range (65504).
type DeviceFeature struct {
	Name  string
	Shape []int
	Buf   *gpu.Buffer
	Bytes int64
	Half  bool
}

// DeviceResult holds the features of RunOnDevice until Release.
type DeviceResult struct {
	named[DeviceFeature]
	net *Net
}

// Wait waits until the device's work for the result is done (at once
// after RunOnDevice; RunOnDeviceAsync returns before). The Net's next
// call waits for it too.
func (r *DeviceResult) Wait() error {
	if r.net == nil {
		return nil
	}
	r.net.mu.lock()
	defer r.net.mu.unlock()
	return r.net.settle()
}

// Release waits for the device's work and frees the features' buffers;
// they must not be used after.
func (r *DeviceResult) Release() error {
	errs := []error{r.Wait()}
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
	return n.runOnDevice(ctx, in, nil, names)
}

// RunOnDeviceAsync is RunOnDevice that returns once the work is
// submitted, without waiting for the device: a renderer keeps drawing
// meanwhile. The work is done when sig's semaphore or fence (the
// application's, either may be 0) is signalled, or when the result's
// Wait returns; until then the application must not write the input or
// read the features except from commands that wait on the semaphore.
// The Net's next call (a run, Close, ...) waits for the work first.
func (n *Net) RunOnDeviceAsync(ctx context.Context, in DeviceInput, sig gpu.Signal, names ...string) (*DeviceResult, error) {
	return n.runOnDevice(ctx, in, &sig, names)
}

func (n *Net) runOnDevice(ctx context.Context, in DeviceInput, sig *gpu.Signal, names []string) (*DeviceResult, error) {
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
	inSize := int64(n.kit.ElemSize()) // of an input element
	if in.RGBA8 {
		inSize = 4
	}
	if (int64(in.Off)+count)*inSize > in.Buf.Size() {
		return nil, fmt.Errorf("%w: device input [%d,%d,%d,3] at element %d does not fit its %d-byte buffer", ErrInput, in.N, in.H, in.W, in.Off, in.Buf.Size())
	}
	if err := n.begin(ctx); err != nil {
		return nil, err
	}
	defer n.mu.unlock()
	s, err := newSchedule(n.g, layers.Shape{N: in.N, H: in.H, W: in.W, C: 3}, names, n.fusers())
	if err != nil {
		return nil, err
	}
	p, err := n.planFor(ctx, s)
	if err != nil {
		return nil, err
	}
	n.last = p
	r := &DeviceResult{net: n}
	// On failure: wait for what was started, and free the buffers (not
	// Release: it would wait for n.mu, held here).
	fail := func(err error) (*DeviceResult, error) {
		n.settle()
		for _, f := range r.features {
			f.Buf.Close()
		}
		return nil, err
	}
	var copies [][2]gpu.View
	for _, k := range s.kept {
		t := p.view(k.node)
		buf, err := n.dev.NewBuffer(s.bufBytes(s.shapes[k.node].Len()))
		if err != nil {
			return fail(fmt.Errorf("graph: a buffer for %s: %w", k.name, err))
		}
		r.add(k.name, DeviceFeature{Name: k.name, Shape: s.featureShape(k.node), Buf: buf, Bytes: t.Size, Half: s.prec == layers.FP16})
		copies = append(copies, [2]gpu.View{t, buf.Slice(0, t.Size)})
	}
	// The input goes into the plan's input buffer on the device (copied,
	// or unpacked from RGBA8), the network runs, and the features are
	// copied out: each step starts after the one before on the queue.
	if err := n.startOnDevice(func(seq *gpu.Sequence) error {
		if in.RGBA8 {
			return n.kit.UnpackRGBA8(seq, in.Buf, in.Off, p.tensor(-1).Buf, 0, int(pixels))
		}
		return seq.Copy(p.tensor(-1).Buf.Slice(0, count*inSize), in.Buf.Slice(int64(in.Off)*inSize, count*inSize))
	}); err != nil {
		return fail(err)
	}
	if sig == nil {
		if err := n.settle(); err != nil {
			return fail(err)
		}
		if err := p.run(ctx, n.kit, nil, nil, false); err != nil {
			return fail(err)
		}
	} else {
		if err := ctx.Err(); err != nil {
			return fail(err)
		}
		for _, q := range p.segs {
			if err := q.Start(); err != nil {
				return fail(fmt.Errorf("graph: running the network: %w", err))
			}
			n.inflight = append(n.inflight, q)
		}
	}
	if err := n.startOnDevice(func(seq *gpu.Sequence) error {
		for _, c := range copies {
			if err := seq.Copy(c[1], c[0]); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return fail(err)
	}
	if sig == nil {
		if err := n.settle(); err != nil {
			return fail(err)
		}
		return r, nil
	}
	if err := n.dev.SignalAfter(*sig); err != nil {
		return fail(err)
	}
	return r, nil
}

// settle waits for the work RunOnDeviceAsync left running and closes
// the sequences it made for it. The caller holds n.mu.
func (n *Net) settle() error {
	var errs []error
	for _, q := range n.inflight {
		errs = append(errs, q.Wait())
	}
	for _, q := range n.owned {
		errs = append(errs, q.Close())
	}
	n.inflight, n.owned = nil, nil
	return errors.Join(errs...)
}

// startOnDevice records work into a sequence of its own that runs after
// every earlier submission and starts it; settle waits for it and
// closes it.
func (n *Net) startOnDevice(record func(*gpu.Sequence) error) error {
	seq, err := n.dev.NewSequence(gpu.SequenceOptions{AfterPrevious: true})
	if err != nil {
		return err
	}
	if err := record(seq); err != nil {
		seq.Close()
		return err
	}
	if err := seq.Start(); err != nil {
		seq.Close()
		return err
	}
	n.inflight = append(n.inflight, seq)
	n.owned = append(n.owned, seq)
	return nil
}
