package graph

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/vkvgg/vkvgg/gpu"
	"github.com/vkvgg/vkvgg/layers"
)

// gpuPlan is a schedule made real on a device: its buffers and its
// recorded submissions, reused by every run of the same input shape and
// requested names.
type gpuPlan struct {
	limit  int64 // the Net's transferLimit
	s      *schedule
	g      *Graph
	idx    map[string]int
	bufs   []*gpu.Buffer
	segs   []*gpu.Sequence
	labels [][]string // per segment, the layer of each dispatch
	// perSeq is the wall time of one sequence (a segment or a transfer)
	// in the last complete run (0 before the first): run keeps as many
	// in flight as fit in queueAhead.
	perSeq time.Duration
	// On devices whose memory the host does not map (discrete GPUs), the
	// input and the kept tensors travel through host buffers of the
	// plan's own (host memory, up to transferLimit each way, which no
	// memory limit counts), copied by sequences recorded with it: a run
	// queues the upload, the segments and the readback together, where
	// each transfer would be a submission and a wait of its own through
	// the device's staging buffer. nil where the host maps the device's
	// buffers, or for a side larger than transferLimit; the readback is
	// made by the first run that reads features back to the host
	// (downTried), not for plans that only RunOnDevice uses.
	upHost, downHost *gpu.Buffer
	up, down         *gpu.Sequence
	downAt           []int // element offset in downHost of each kept tensor, in s.kept order
	downTried        bool
}

// defaultTransferLimit bounds each of a plan's host transfer buffers
// (Net.transferLimit, which tests change): larger inputs or outputs go
// through the device's staging buffer, where the round trip of a
// submission is small beside the copy.
const defaultTransferLimit = 64 << 20

// queueAhead is how much work, by the last run's pace, run keeps queued
// on the device. The host waits only when the queue holds more, so a
// fast GPU (segments of a tenth of a millisecond, where a host's wake-up
// is as long) gets the whole network in one go and never idles between
// segments, while a slow device (lavapipe: tens of milliseconds per
// segment) keeps two in flight and stops within about this long of a
// cancellation.
const queueAhead = 20 * time.Millisecond

// depth is how many of n sequences run keeps in flight: two at first
// (and at least two, so that the device never waits for the host), then
// as many as fit in queueAhead at the last run's pace.
func (p *gpuPlan) depth(n int) int {
	if p.perSeq <= 0 {
		return 2
	}
	return max(2, min(n, int(queueAhead/p.perSeq)))
}

func (p *gpuPlan) close() error {
	var errs []error
	for _, q := range append([]*gpu.Sequence{p.up, p.down}, p.segs...) {
		if q != nil {
			errs = append(errs, q.Close())
		}
	}
	for _, b := range append([]*gpu.Buffer{p.upHost, p.downHost}, p.bufs...) {
		if b != nil {
			errs = append(errs, b.Close())
		}
	}
	p.segs, p.bufs, p.up, p.down, p.upHost, p.downHost = nil, nil, nil, nil, nil, nil
	return errors.Join(errs...)
}

// hostTransfer makes a host buffer of at least bytes and a sequence of
// copies between it and the device, which copies records.
func hostTransfer(dev *gpu.Device, bytes int64, copies func(q *gpu.Sequence, h *gpu.Buffer) error) (*gpu.Buffer, *gpu.Sequence, error) {
	h, err := dev.NewHostBuffer((bytes + 3) / 4 * 4)
	if err != nil {
		return nil, nil, err
	}
	q, err := dev.NewSequence(gpu.SequenceOptions{AfterPrevious: true})
	if err == nil {
		if err = copies(q, h); err == nil {
			return h, q, nil
		}
		q.Close()
	}
	h.Close()
	return nil, nil, err
}

// recordUpload makes the plan's upload buffer and sequence where the
// device's buffers are not mapped (see gpuPlan).
func (p *gpuPlan) recordUpload(dev *gpu.Device) error {
	in := p.view(-1)
	if in.Buf.Mapped() || in.Size > p.limit {
		return nil
	}
	var err error
	p.upHost, p.up, err = hostTransfer(dev, in.Size, func(q *gpu.Sequence, h *gpu.Buffer) error {
		return q.Copy(in, h.Slice(0, in.Size))
	})
	if err != nil {
		return fmt.Errorf("graph: the input's transfer buffer: %w", err)
	}
	return nil
}

// recordReadback makes the plan's readback buffer and sequence (see
// gpuPlan), once: the first run that reads features back calls it.
func (p *gpuPlan) recordReadback(dev *gpu.Device) error {
	if p.downTried || p.view(-1).Buf.Mapped() {
		return nil
	}
	p.downTried = true
	es := int64(p.s.prec.Size())
	total := 0
	at := make([]int, len(p.s.kept))
	for i, k := range p.s.kept {
		at[i] = total
		total += (p.s.shapes[k.node].Len() + 63) / 64 * 64
	}
	if total == 0 || int64(total)*es > p.limit {
		return nil
	}
	var err error
	p.downHost, p.down, err = hostTransfer(dev, int64(total)*es, func(q *gpu.Sequence, h *gpu.Buffer) error {
		for i, k := range p.s.kept {
			t := p.view(k.node)
			if err := q.Copy(h.Slice(int64(at[i])*es, t.Size), t); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("graph: the features' transfer buffer: %w", err)
	}
	p.downAt = at
	return nil
}

// view is the device memory of tensor(i), in bytes of the plan's
// precision.
func (p *gpuPlan) view(i int) gpu.View {
	t := p.tensor(i)
	es := int64(p.s.prec.Size())
	return t.Buf.Slice(int64(t.Off)*es, int64(t.Shape.Len())*es)
}

// tensor is the output of node i (-1: the input) in the plan's buffers.
func (p *gpuPlan) tensor(i int) layers.Tensor {
	if i < 0 {
		return layers.Tensor{Buf: p.bufs[p.s.bufOf[-1]], Shape: p.s.in}
	}
	return layers.Tensor{Buf: p.bufs[p.s.bufOf[p.s.storage[i]]], Shape: p.s.shapes[i]}
}

// newGPUPlan allocates and records a plan. Recording may time kernels
// (the first plan of a shape tunes its convolutions), so it stops, and
// returns ctx.Err(), when ctx ends.
func newGPUPlan(ctx context.Context, n *Net, s *schedule) (*gpuPlan, error) {
	p := &gpuPlan{limit: n.transferLimit, s: s, g: n.g, idx: n.g.index()}
	ok := false
	defer func() {
		if !ok {
			p.close()
		}
	}()
	for _, elems := range s.bufSize {
		b, err := n.dev.NewBuffer(s.bufBytes(elems))
		if err != nil {
			return nil, fmt.Errorf("graph: allocating %d MiB of activations: %w", s.bufBytes(elems)>>20, err)
		}
		p.bufs = append(p.bufs, b)
	}
	for _, seg := range s.segments {
		// Every segment, the first too, waits for the work submitted
		// before it: RunOnDeviceAsync fills the input on the device just
		// before without a host wait.
		q, err := n.dev.NewSequence(gpu.SequenceOptions{Timestamps: n.profile, AfterPrevious: true})
		if err != nil {
			return nil, err
		}
		p.segs = append(p.segs, q)
		var labels []string
		for _, e := range seg {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			nd := n.g.Nodes[e]
			var ins []layers.Tensor
			for _, name := range s.inputs(n.g, e) {
				if name == Input {
					ins = append(ins, p.tensor(-1))
				} else {
					ins = append(ins, p.tensor(p.idx[name]))
				}
			}
			out := p.tensor(e)
			k := n.kernels[e]
			if c, ok := s.absorbed[e]; ok {
				if _, sum := s.residual[e]; sum {
					relu := s.fuse[e] || nd.Op.(layers.Residual).ResidualReLU()
					err = n.kernels[c].(layers.AddKernel).RecordAdd(q, ins[:len(ins)-1], ins[len(ins)-1], out, relu)
				} else {
					err = n.kernels[c].(layers.PoolKernel).RecordPooled(q, ins, out, s.fuse[c], nd.Op)
				}
			} else if s.fuse[e] {
				err = k.(layers.ReLUKernel).RecordReLU(q, ins, out)
			} else {
				err = k.Record(q, ins, out)
			}
			if err != nil {
				return nil, fmt.Errorf("graph: recording %s (%s): %w", s.label(n.g, e), nd.Op.Kind(), err)
			}
			for len(labels) < q.Dispatches() {
				labels = append(labels, s.label(n.g, e))
			}
		}
		p.labels = append(p.labels, labels)
	}
	if err := p.recordUpload(n.dev); err != nil {
		return nil, err
	}
	ok = true
	return p, nil
}

// run uploads the input and submits the segments in order, keeping
// depth() of them in flight so that the device never waits for the host,
// and with readback the copies of the kept tensors into the plan's host
// buffer where it has one. It starts no further segment once ctx is
// done, waits for those running, and returns ctx.Err() then.
func (p *gpuPlan) run(ctx context.Context, kit *layers.Kit, input []float32, st *RunStats, readback bool) error {
	t0 := time.Now()
	var queue []*gpu.Sequence
	if input != nil { // nil: the caller filled the input buffer on the device
		dst := p.tensor(-1).Buf
		if p.up != nil {
			dst = p.upHost
			queue = append(queue, p.up)
		}
		if err := kit.Write(dst, 0, input); err != nil {
			return err
		}
	}
	if st != nil {
		st.Upload = time.Since(t0)
	}
	queue = append(queue, p.segs...)
	if readback && p.down != nil {
		queue = append(queue, p.down)
	}
	var running []*gpu.Sequence
	var first error
	depth := p.depth(len(queue))
	start := time.Now()
	wait := func() {
		if err := running[0].Wait(); err != nil && first == nil {
			first = fmt.Errorf("graph: running the network: %w", err)
		}
		running = running[1:]
	}
	started := 0
	for _, q := range queue {
		if ctx.Err() != nil || first != nil {
			break
		}
		if err := q.Start(); err != nil {
			first = fmt.Errorf("graph: running the network: %w", err)
			break
		}
		started++
		running = append(running, q)
		if len(running) == depth {
			wait()
		}
	}
	for len(running) > 0 {
		wait()
	}
	if first != nil {
		return first
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	took := time.Since(start)
	if st != nil {
		st.Device = took
		st.Submissions = started
	}
	if started > 0 { // none when every name asked for is a view of the input (on mapped memory)
		p.perSeq = took / time.Duration(started)
	}
	return nil
}

// timings gathers the dispatch times of every segment.
func (p *gpuPlan) timings() ([]gpu.Timing, error) {
	var all []gpu.Timing
	for si, q := range p.segs {
		t, err := q.Timings()
		if err != nil {
			return nil, err
		}
		for i := range t {
			if i < len(p.labels[si]) {
				t[i].Label = p.labels[si][i] + " " + t[i].Label
			}
		}
		all = append(all, t...)
	}
	return all, nil
}
