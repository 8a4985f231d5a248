package layers

import (
	"context"
	"fmt"

	"github.com/vkvgg/vkvgg/gpu"
)

// Op is one operation of a network, in the spirit of ncnn's Layer: it
// knows its output shape, holds its parameters, computes itself with the
// pure-Go reference, and uploads itself to a device as a Kernel that
// records GPU work. Every operation of a network graph is an Op; nothing
// outside an Op's own code knows what kind of operation it is.
type Op interface {
	// Kind describes the operation for messages: "conv 7x7/2", "maxpool".
	Kind() string
	// OutShape is the output shape for the given input shapes, or an error
	// that says what does not fit.
	OutShape(in []Shape) (Shape, error)
	// Params lists the parameter arrays the operation holds (none for
	// most), with their shapes.
	Params() []Param
	// CPU computes the operation with the reference implementation
	// (float64 accumulation). It checks ctx inside long loops and returns
	// ctx.Err() when it is done.
	CPU(ctx context.Context, in []HostTensor) ([]float32, error)
	// Upload prepares the operation on a kit's device (uploading its
	// parameters) and returns the kernel that records it.
	Upload(k *Kit) (Kernel, error)
}

// Kernel is the GPU half of an Op on one device.
type Kernel interface {
	// Record records the operation from in to out into s; it never
	// submits. The tensors' shapes are those OutShape agreed to.
	Record(s *gpu.Sequence, in []Tensor, out Tensor) error
	// Close frees what Upload allocated. It is idempotent.
	Close() error
}

// HostTensor is an activation in host memory, NHWC.
type HostTensor struct {
	Data  []float32
	Shape Shape
}

// Param is one parameter array of an Op.
type Param struct {
	Name  string
	Shape []int
	Data  []float32
}

// The optional interfaces below describe properties a graph planner uses.

// ReLUFuser is an Op that can apply a ReLU to its output at no cost:
// WithReLU returns that Op.
type ReLUFuser interface {
	WithReLU() Op
}

// ReLUKernel is a Kernel that can apply a ReLU to its output whatever its
// Op's setting, so that a planner can fuse a following ReLU without a
// second upload of the weights.
type ReLUKernel interface {
	RecordReLU(s *gpu.Sequence, in []Tensor, out Tensor) error
}

// PoolKernel is a Kernel that can apply the max pooling of the Op that
// reads its output while it writes it, so that its full output never
// exists in memory: a planner fuses the two where FusesPool says so.
type PoolKernel interface {
	// FusesPool reports whether the kernel fuses pool (the reader's Op)
	// for inputs of shapes in.
	FusesPool(pool Op, in []Shape) bool
	// RecordPooled records the kernel with the pooling applied: out has
	// the pooling's output shape; relu applies a ReLU first (as
	// RecordReLU).
	RecordPooled(s *gpu.Sequence, in []Tensor, out Tensor, relu bool, pool Op) error
}

// AddKernel is a Kernel that can add a residual to its output (then apply
// a ReLU) while it writes it: a planner fuses an element-wise sum into the
// node that computes one of its terms where FusesAdd says so.
type AddKernel interface {
	// FusesAdd reports whether the kernel fuses a sum for inputs of
	// shapes in.
	FusesAdd(in []Shape) bool
	// RecordAdd records relu?(kernel(in) + res) into out (res and out of
	// the kernel's output shape).
	RecordAdd(s *gpu.Sequence, in []Tensor, res, out Tensor, relu bool) error
}

// Residual is an Op that sums its two inputs, with a ReLU after when
// ResidualReLU says so (Add): a planner may fuse it into an AddKernel.
type Residual interface {
	ResidualReLU() bool
}

// Activation is an Op that is a ReLU: a planner may fuse it into the Op
// before it when that one is a ReLUFuser (on the CPU) and its kernel a
// ReLUKernel (on a device).
type Activation interface {
	IsReLU() bool
}

// Viewer is an Op whose output is its first input with another shape:
// no work and no memory of its own (Flatten).
type Viewer interface {
	IsView() bool
}

// Vectorer is an Op whose output is a vector per image, reported as
// [N,F] rather than as an [N,1,1,F] map; in tells which inputs are
// vectors (element-wise ops keep their input's form).
type Vectorer interface {
	Vector(in []bool) bool
}

// Releaser is an Op that can drop its host parameters once uploaded; its
// CPU method then fails.
type Releaser interface {
	ReleaseParams()
}

// Coster is an Op that can estimate its work, in floating-point
// operations (a multiply-add counts 2), for benchmarks and for splitting
// a run into submissions.
type Coster interface {
	FLOPs(in []Shape) float64
}

// IsVector reports whether op's output is a vector given its inputs'.
func IsVector(op Op, in []bool) bool {
	if v, ok := op.(Vectorer); ok {
		return v.Vector(in)
	}
	return false
}

// FLOPs is op's estimated work, or the output size when it does not say.
func FLOPs(op Op, in []Shape, out Shape) float64 {
	if c, ok := op.(Coster); ok {
		return c.FLOPs(in)
	}
	return float64(out.Len())
}

// checkInputs checks the number of inputs and their shapes.
func checkInputs(what string, in []Shape, n int) error {
	if len(in) != n {
		return fmt.Errorf("layers: %s takes %d input(s), got %d", what, n, len(in))
	}
	for _, s := range in {
		if err := s.check(what); err != nil {
			return err
		}
	}
	return nil
}

// checkHost checks host inputs against their shapes.
func checkHost(what string, in []HostTensor, n int) error {
	if len(in) != n {
		return fmt.Errorf("layers: %s takes %d input(s), got %d", what, n, len(in))
	}
	for i, t := range in {
		if err := t.Shape.check(what); err != nil {
			return err
		}
		if len(t.Data) != t.Shape.Len() {
			return fmt.Errorf("layers: %s: input %d has %d values for shape %v", what, i, len(t.Data), t.Shape)
		}
	}
	return nil
}

// checkTensors checks GPU inputs and output.
func (k *Kit) checkTensors(what string, in []Tensor, n int, out Tensor) error {
	if len(in) != n {
		return fmt.Errorf("layers: %s takes %d input(s), got %d", what, n, len(in))
	}
	for _, t := range in {
		if err := t.check(what, "input", k.es); err != nil {
			return err
		}
	}
	return out.check(what, "output", k.es)
}

// Window is the geometry of a convolution or pooling window: KH x KW,
// stride SH x SW, and padding either explicit (Pad: top, left, bottom,
// right) or TensorFlow's SAME (Same: the output is ceil(H/S) and the
// padding is split with the extra row or column at the bottom/right).
// Ceil rounds the output size up as PyTorch's ceil_mode does.
type Window struct {
	KH, KW, SH, SW int
	Pad            [4]int
	Same, Ceil     bool
}

func (w Window) String() string {
	s := fmt.Sprintf("%dx%d/%d", w.KH, w.KW, w.SH)
	if w.SW != w.SH {
		s += fmt.Sprintf("x%d", w.SW)
	}
	switch {
	case w.Same:
		s += " same"
	case w.Pad != [4]int{}:
		s += fmt.Sprintf(" pad %v", w.Pad)
	}
	return s
}

// Out is the output size for an input of h x w and the padding used
// (top, left, bottom, right).
func (w Window) Out(h, wd int) (oh, ow int, pad [4]int, err error) {
	if w.KH < 1 || w.KW < 1 || w.SH < 1 || w.SW < 1 || w.Pad[0] < 0 || w.Pad[1] < 0 || w.Pad[2] < 0 || w.Pad[3] < 0 {
		return 0, 0, pad, fmt.Errorf("window %v: sizes and strides must be positive, padding not negative", w)
	}
	if w.Same {
		oh, ow = (h+w.SH-1)/w.SH, (wd+w.SW-1)/w.SW
		th := max((oh-1)*w.SH+w.KH-h, 0)
		tw := max((ow-1)*w.SW+w.KW-wd, 0)
		return oh, ow, [4]int{th / 2, tw / 2, th - th/2, tw - tw/2}, nil
	}
	pad = w.Pad
	oh, err = outDim(h, w.KH, w.SH, pad[0], pad[2], w.Ceil)
	if err != nil {
		return 0, 0, pad, fmt.Errorf("window %v on height %d: %w", w, h, err)
	}
	ow, err = outDim(wd, w.KW, w.SW, pad[1], pad[3], w.Ceil)
	if err != nil {
		return 0, 0, pad, fmt.Errorf("window %v on width %d: %w", w, wd, err)
	}
	return oh, ow, pad, nil
}

// outDim is PyTorch's output size rule.
func outDim(n, k, s, lo, hi int, ceil bool) (int, error) {
	span := n + lo + hi - k
	if span < 0 {
		return 0, fmt.Errorf("the padded input (%d) is smaller than the window (%d)", n+lo+hi, k)
	}
	o := span/s + 1
	if ceil && span%s != 0 {
		o++
		// The last window must start inside the input or its left padding.
		if (o-1)*s >= n+lo {
			o--
		}
	}
	// A convolution's window may lie wholly in the padding (a 1x1 conv
	// with padding 1 gives a border of biases, as PyTorch's does); a
	// pooling's may not, which Pool.OutShape checks.
	return o, nil
}

// parallelCtx runs f(i) for i in [0, n) on all CPUs, skipping the rest
// once ctx is done; it returns ctx.Err() then.
func parallelCtx(ctx context.Context, n int, f func(i int)) error {
	parallel(n, func(i int) {
		if ctx.Err() == nil {
			f(i)
		}
	})
	return ctx.Err()
}
