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
	s      *schedule
	g      *Graph
	idx    map[string]int
	bufs   []*gpu.Buffer
	segs   []*gpu.Sequence
	labels [][]string // per segment, the layer of each dispatch
	// perSeg is the wall time of one segment in the last complete run
	// (0 before the first): run keeps as many segments in flight as
	// fit in queueAhead.
	perSeg time.Duration
}

// queueAhead is how much work, by the last run's pace, run keeps queued
// on the device. The host waits only when the queue holds more, so a
// fast GPU (segments of a tenth of a millisecond, where a host's wake-up
// is as long) gets the whole network in one go and never idles between
// segments, while a slow device (lavapipe: tens of milliseconds per
// segment) keeps two in flight and stops within about this long of a
// cancellation.
const queueAhead = 20 * time.Millisecond

// depth is how many segments run keeps in flight: two at first (and at
// least two, so that the device never waits for the host), then as many
// as fit in queueAhead at the last run's pace.
func (p *gpuPlan) depth() int {
	if p.perSeg <= 0 {
		return 2
	}
	return max(2, min(len(p.segs), int(queueAhead/p.perSeg)))
}

func (p *gpuPlan) close() error {
	var errs []error
	for _, q := range p.segs {
		errs = append(errs, q.Close())
	}
	for _, b := range p.bufs {
		errs = append(errs, b.Close())
	}
	p.segs, p.bufs = nil, nil
	return errors.Join(errs...)
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
	p := &gpuPlan{s: s, g: n.g, idx: n.g.index()}
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
	ok = true
	return p, nil
}

// run uploads the input and submits the segments in order, keeping
// depth() of them in flight so that the device never waits for the host.
// It starts no further segment once ctx is done, waits for those running,
// and returns ctx.Err() then.
func (p *gpuPlan) run(ctx context.Context, kit *layers.Kit, input []float32, st *RunStats) error {
	t0 := time.Now()
	if input != nil { // nil: the caller filled the input buffer on the device
		if err := kit.Write(p.tensor(-1).Buf, 0, input); err != nil {
			return err
		}
	}
	if st != nil {
		st.Upload = time.Since(t0)
	}
	var running []*gpu.Sequence
	var first error
	depth := p.depth()
	start := time.Now()
	wait := func() {
		if err := running[0].Wait(); err != nil && first == nil {
			first = fmt.Errorf("graph: running the network: %w", err)
		}
		running = running[1:]
	}
	for _, q := range p.segs {
		if ctx.Err() != nil || first != nil {
			break
		}
		if err := q.Start(); err != nil {
			first = fmt.Errorf("graph: running the network: %w", err)
			break
		}
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
	}
	if len(p.segs) > 0 { // none when every name asked for is a view of the input
		p.perSeg = took / time.Duration(len(p.segs))
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
