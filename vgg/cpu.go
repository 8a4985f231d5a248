package vgg

import (
	"context"

	"github.com/vkvgg/vkvgg/layers"
)

// runCPU computes the network with the pure-Go references of package
// layers: the specification the GPU path is compared against.
func (n *Net) runCPU(ctx context.Context, b Batch, last int, keep map[string]bool) (*Result, error) {
	steps := n.w.Arch.steps()
	shapes := n.shapes(b)
	cur, err := layers.PreprocessCPU(b.Data, layers.Shape{N: b.N, H: b.H, W: b.W, C: 3})
	if err != nil {
		return nil, err
	}
	curShape := layers.Shape{N: b.N, H: b.H, W: b.W, C: 3}
	outs := map[int][]float32{}
	for i, s := range steps[:last+1] {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		p := n.w.Params[s.param]
		switch s.kind {
		case opConv:
			cur, err = layers.Conv3x3CPU(cur, curShape, p.W, p.B, p.Out, true)
		case opPool:
			cur, _, err = layers.MaxPool2x2CPU(cur, curShape)
		case opFC:
			cur, err = layers.FCCPU(cur, b.N, curShape.Image(), p.W, p.B, p.Out, false)
		case opReLU:
			cur = layers.ReLUCPU(cur)
		case opSoftmax:
			cur, err = layers.SoftmaxCPU(cur, b.N, curShape.Image())
		}
		if err != nil {
			return nil, err
		}
		curShape = shapes[i]
		if keep[s.name] {
			outs[i] = cur
		}
	}
	return n.result(b, keep, func(i int, _ layers.Shape) ([]float32, error) { return outs[i], nil })
}
