package vgg

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/vkvgg/vkvgg/gpu"
	"github.com/vkvgg/vkvgg/layers"
)

// plan is the memory layout and the recorded command sequence of one
// input size and one set of kept layers. Kept features get buffers of
// their own, never reused; every other intermediate tensor alternates
// between two scratch buffers. A Net keeps its last plan, so repeated
// runs of the same shape only upload, submit and download.
type plan struct {
	key     string
	in      *gpu.Buffer
	scratch [2]*gpu.Buffer
	kept    map[int]layers.Tensor // step -> its own buffer
	buffers []*gpu.Buffer
	seq     *gpu.Sequence
	labels  []string // the layer of each dispatch, for Timings
}

func (p *plan) close() error {
	var errs []error
	if p.seq != nil {
		errs = append(errs, p.seq.Close())
	}
	for _, b := range p.buffers {
		errs = append(errs, b.Close())
	}
	return errors.Join(errs...)
}

func planKey(b Batch, last int, keep map[string]bool) string {
	names := make([]string, 0, len(keep))
	for k := range keep {
		names = append(names, k)
	}
	sort.Strings(names)
	return fmt.Sprintf("%dx%dx%d/%d/%s", b.N, b.H, b.W, last, strings.Join(names, ","))
}

// newPlan allocates the buffers and records the sequence.
func (n *Net) newPlan(b Batch, last int, keep map[string]bool) (*plan, error) {
	p := &plan{key: planKey(b, last, keep), kept: map[int]layers.Tensor{}}
	ok := false
	defer func() {
		if !ok {
			p.close()
		}
	}()
	alloc := func(elems int) (*gpu.Buffer, error) {
		buf, err := n.dev.NewBuffer(int64(max(elems, 4)) * 4)
		if err != nil {
			return nil, fmt.Errorf("vgg: allocating %d floats: %w", elems, err)
		}
		p.buffers = append(p.buffers, buf)
		return buf, nil
	}
	steps := n.w.Arch.steps()
	shapes := n.shapes(b)
	inShape := layers.Shape{N: b.N, H: b.H, W: b.W, C: 3}
	bgrShape := inShape
	bgrShape.C = n.kit.InputChannels(3)

	// Sizes: the largest intermediate that is not kept goes to scratch.
	need := bgrShape.Len()
	for i, s := range steps[:last+1] {
		if !keep[s.name] {
			need = max(need, shapes[i].Len())
		}
	}
	var err error
	if p.in, err = alloc(inShape.Len()); err != nil {
		return nil, err
	}
	for i := range p.scratch {
		if p.scratch[i], err = alloc(need); err != nil {
			return nil, err
		}
	}
	for i, s := range steps[:last+1] {
		if keep[s.name] {
			buf, err := alloc(shapes[i].Len())
			if err != nil {
				return nil, err
			}
			p.kept[i] = layers.Tensor{Buf: buf, Shape: shapes[i]}
		}
	}
	if p.seq, err = n.dev.NewSequence(gpu.SequenceOptions{Timestamps: n.profile}); err != nil {
		return nil, err
	}

	// Record. cur is the tensor the next step reads; slot is the scratch
	// buffer that holds it (or held the last scratch tensor), so the next
	// scratch output goes to the other one.
	slot := 0
	place := func(i int, s layers.Shape) layers.Tensor {
		if t, ok := p.kept[i]; ok {
			return t
		}
		slot = 1 - slot
		return layers.Tensor{Buf: p.scratch[slot], Shape: s}
	}
	in := layers.Tensor{Buf: p.in, Shape: inShape}
	cur := layers.Tensor{Buf: p.scratch[slot], Shape: bgrShape}
	if err := n.kit.Preprocess(p.seq, in, cur); err != nil {
		return nil, err
	}
	label := func(name string) {
		for len(p.labels) < p.seq.Dispatches() {
			p.labels = append(p.labels, name)
		}
	}
	label("input")
	for i := 0; i <= last; i++ {
		s := steps[i]
		var out layers.Tensor
		switch s.kind {
		case opConv:
			out = place(i, shapes[i])
			err = n.convs[s.name].Record(p.seq, cur, out)
		case opPool:
			out = place(i, shapes[i])
			err = n.kit.MaxPool2x2(p.seq, cur, out)
		case opFC:
			// One dispatch pair writes fcN before and reluN after the
			// ReLU, each only where it is kept or read later.
			var pre, post layers.Tensor
			reluNext := i+1 <= last && steps[i+1].kind == opReLU
			if keep[s.name] || !reluNext {
				pre = place(i, shapes[i])
			}
			if reluNext {
				post = place(i+1, shapes[i+1])
			}
			err = n.fcs[s.name].Record(p.seq, cur, pre, post)
			out = pre
			if reluNext {
				out = post
				i++ // the ReLU step is done
			}
		case opSoftmax:
			out = place(i, shapes[i])
			err = n.kit.Softmax(p.seq, cur, out)
		}
		if err != nil {
			return nil, fmt.Errorf("vgg: recording %s: %w", s.name, err)
		}
		label(s.name)
		cur = out
	}
	ok = true
	return p, nil
}

// runGPU uploads the batch, submits the plan's one sequence and copies
// the kept features back.
func (n *Net) runGPU(b Batch, last int, keep map[string]bool) (*Result, error) {
	if n.plan == nil || n.plan.key != planKey(b, last, keep) {
		if n.plan != nil {
			if err := n.plan.close(); err != nil {
				return nil, err
			}
			n.plan = nil
		}
		p, err := n.newPlan(b, last, keep)
		if err != nil {
			return nil, err
		}
		n.plan = p
	}
	p := n.plan
	if err := p.in.Upload(0, b.Data); err != nil {
		return nil, err
	}
	if err := p.seq.Submit(); err != nil {
		return nil, fmt.Errorf("vgg: running the network: %w", err)
	}
	return n.result(b, keep, func(i int, s layers.Shape) ([]float32, error) {
		t := p.kept[i]
		out := make([]float32, s.Len())
		if err := t.Buf.Download(t.Off, out); err != nil {
			return nil, err
		}
		return out, nil
	})
}
