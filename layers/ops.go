package layers

import (
	"context"
	"fmt"
	"math"

	"github.com/vkvgg/vkvgg/gpu"
)

// Preprocess is a network's input transform of RGB in [0,1], per output
// channel c: (in[Perm[c]] * Scale[c] - Mean[c]) / Std[c]. See VGGInput and
// TorchInput.
type Preprocess struct {
	Perm  [3]int
	Scale [3]float64
	Mean  [3]float64
	Std   [3]float64
}

// VGGInput is tensorflow-vgg's transform: BGR scaled by 255 minus Mean.
func VGGInput() *Preprocess {
	return &Preprocess{Perm: [3]int{2, 1, 0}, Scale: [3]float64{255, 255, 255}, Mean: Mean, Std: [3]float64{1, 1, 1}}
}

// TorchInput is torchvision's transform: RGB normalised with the ImageNet
// mean (0.485, 0.456, 0.406) and standard deviation (0.229, 0.224, 0.225).
func TorchInput() *Preprocess {
	return &Preprocess{Perm: [3]int{0, 1, 2}, Scale: [3]float64{1, 1, 1},
		Mean: [3]float64{0.485, 0.456, 0.406}, Std: [3]float64{0.229, 0.224, 0.225}}
}

// Kind implements Op.
func (p *Preprocess) Kind() string { return "preprocess" }

// Params implements Op.
func (p *Preprocess) Params() []Param { return nil }

// OutShape implements Op: the input must have 3 channels.
func (p *Preprocess) OutShape(in []Shape) (Shape, error) {
	if err := checkInputs("preprocess", in, 1); err != nil {
		return Shape{}, err
	}
	if in[0].C != 3 {
		return Shape{}, fmt.Errorf("layers: preprocess: input %v has %d channels, want 3 (RGB)", in[0], in[0].C)
	}
	return in[0], nil
}

func (p *Preprocess) check() error {
	for c := range 3 {
		if p.Perm[c] < 0 || p.Perm[c] > 2 || p.Std[c] == 0 {
			return fmt.Errorf("layers: preprocess: channel %d: source %d and std %v (sources 0..2, std non-zero)", c, p.Perm[c], p.Std[c])
		}
	}
	return nil
}

// CPU implements Op.
func (p *Preprocess) CPU(ctx context.Context, in []HostTensor) ([]float32, error) {
	if err := checkHost("preprocess", in, 1); err != nil {
		return nil, err
	}
	if err := p.check(); err != nil {
		return nil, err
	}
	x := in[0].Data
	out := make([]float32, len(x))
	for i := 0; i < len(x); i += 3 {
		for c := range 3 {
			out[i+c] = float32((float64(x[i+p.Perm[c]])*p.Scale[c] - p.Mean[c]) / p.Std[c])
		}
	}
	return out, ctx.Err()
}

// Upload implements Op.
func (p *Preprocess) Upload(k *Kit) (Kernel, error) {
	if err := p.check(); err != nil {
		return nil, err
	}
	var a Affine
	for c := range 3 {
		a.Perm[c] = p.Perm[c]
		a.Mul[c] = float32(p.Scale[c] / p.Std[c])
		a.Add[c] = float32(-p.Mean[c] / p.Std[c])
	}
	return &preprocessKernel{k, a}, nil
}

type preprocessKernel struct {
	kit *Kit
	a   Affine
}

func (pk *preprocessKernel) Record(s *gpu.Sequence, in []Tensor, out Tensor) error {
	if len(in) != 1 {
		return fmt.Errorf("layers: preprocess takes 1 input, got %d", len(in))
	}
	return pk.kit.Preprocess(s, in[0], out, pk.a)
}

func (pk *preprocessKernel) Close() error { return nil }

// Conv is a convolution: HWIO weights W [KH,KW,Cin,Cout], bias B [Cout],
// the geometry of Window, and an optional ReLU. A batch normalisation that
// follows it is folded in by FoldBatchNorm.
type Conv struct {
	Window
	Cin, Cout int
	W, B      []float32
	ReLU      bool
}

// Kind implements Op.
func (c *Conv) Kind() string {
	s := "conv " + c.Window.String()
	if c.ReLU {
		s += " relu"
	}
	return s
}

// Params implements Op.
func (c *Conv) Params() []Param {
	return []Param{{"weight", []int{c.KH, c.KW, c.Cin, c.Cout}, c.W}, {"bias", []int{c.Cout}, c.B}}
}

// ReleaseParams implements Releaser.
func (c *Conv) ReleaseParams() { c.W, c.B = nil, nil }

// WithReLU implements ReLUFuser.
func (c *Conv) WithReLU() Op { d := *c; d.ReLU = true; return &d }

// FLOPs implements Coster.
func (c *Conv) FLOPs(in []Shape) float64 {
	s, err := c.OutShape(in)
	if err != nil {
		return 0
	}
	return 2 * float64(s.Len()) * float64(c.KH*c.KW*c.Cin)
}

// OutShape implements Op.
func (c *Conv) OutShape(in []Shape) (Shape, error) {
	what := c.Kind()
	if err := checkInputs(what, in, 1); err != nil {
		return Shape{}, err
	}
	if in[0].C != c.Cin {
		return Shape{}, fmt.Errorf("layers: %s: input %v has %d channels, the layer takes %d", what, in[0], in[0].C, c.Cin)
	}
	oh, ow, _, err := c.Out(in[0].H, in[0].W)
	if err != nil {
		return Shape{}, fmt.Errorf("layers: %s: %w", what, err)
	}
	return Shape{in[0].N, oh, ow, c.Cout}, nil
}

// CPU implements Op.
func (c *Conv) CPU(ctx context.Context, in []HostTensor) ([]float32, error) {
	if err := checkHost(c.Kind(), in, 1); err != nil {
		return nil, err
	}
	if _, err := c.OutShape([]Shape{in[0].Shape}); err != nil {
		return nil, err
	}
	return ConvCPU(ctx, in[0].Data, in[0].Shape, c.Window, c.W, c.B, c.Cout, c.ReLU)
}

// is3x3 reports whether the fast stride-1 3x3 kernels apply.
func (c *Conv) is3x3() bool {
	return c.KH == 3 && c.KW == 3 && c.SH == 1 && c.SW == 1 && !c.Ceil && (c.Same || c.Pad == [4]int{1, 1, 1, 1})
}

// Upload implements Op: 3x3 stride-1 layers get the Conv3x3 kernels,
// others the general ones. On CPU devices an input of fewer than 4
// channels is padded to 4 (a small copy) so that the vec4 register
// kernels apply, with zero weight rows for the added channels.
func (c *Conv) Upload(k *Kit) (Kernel, error) {
	if c.W == nil {
		return nil, fmt.Errorf("layers: %s: weights already released", c.Kind())
	}
	if err := checkLen(c.Kind(), "weights", len(c.W), c.KH*c.KW*c.Cin*c.Cout); err != nil {
		return nil, err
	}
	if err := checkLen(c.Kind(), "bias", len(c.B), c.Cout); err != nil {
		return nil, err
	}
	cin := c.Cin
	if k.conv.Register && cin < 4 {
		cin = 4
	}
	w := padTaps(c.W, c.KH*c.KW, c.Cin, c.Cout, cin)
	ck := &convOpKernel{kit: k, op: c, cin: cin}
	var err error
	if c.is3x3() {
		ck.fast, err = k.NewConv3x3(cin, c.Cout, w, c.B, c.ReLU)
	} else {
		ck.gen, err = k.newGConv(c.Window, cin, c.Cout, w, c.B, c.ReLU)
	}
	if err != nil {
		return nil, err
	}
	return ck, nil
}

// padTaps returns weights [taps,cin,cout] padded with zero rows to
// [taps,to,cout].
func padTaps(w []float32, taps, cin, cout, to int) []float32 {
	if to == cin {
		return w
	}
	out := make([]float32, taps*to*cout)
	for tap := 0; tap < taps; tap++ {
		copy(out[tap*to*cout:], w[tap*cin*cout:(tap+1)*cin*cout])
	}
	return out
}

type convOpKernel struct {
	kit  *Kit
	op   *Conv
	cin  int // channels the kernel reads (padded from op.Cin)
	fast *Conv3x3
	gen  *GConv
	pad  *scratch
	pre  *scratch // the full output of a direct convolution before a fused pooling
}

func (ck *convOpKernel) Record(s *gpu.Sequence, in []Tensor, out Tensor) error {
	return ck.record(s, in, out, ck.op.ReLU)
}

func (ck *convOpKernel) RecordReLU(s *gpu.Sequence, in []Tensor, out Tensor) error {
	return ck.record(s, in, out, true)
}

func (ck *convOpKernel) record(s *gpu.Sequence, in []Tensor, out Tensor, relu bool) error {
	what := ck.op.Kind()
	if err := ck.kit.checkTensors(what, in, 1, out); err != nil {
		return err
	}
	x, err := ck.padded(s, in[0])
	if err != nil {
		return err
	}
	if ck.fast != nil {
		return ck.fast.record(s, x, out, relu)
	}
	return ck.gen.record(s, x, out, relu, nil)
}

// FusesAdd implements AddKernel: the general convolution kernels (1x1,
// strided and other windows) add a residual in their epilogue, when the
// convolution has no ReLU of its own.
func (ck *convOpKernel) FusesAdd(in []Shape) bool {
	return ck.gen != nil && !ck.op.ReLU && len(in) == 1
}

// RecordAdd implements AddKernel.
func (ck *convOpKernel) RecordAdd(s *gpu.Sequence, in []Tensor, res, out Tensor, relu bool) error {
	what := ck.op.Kind() + " + add"
	if err := ck.kit.checkTensors(what, in, 1, out); err != nil {
		return err
	}
	if err := res.check(what, "residual", ck.kit.es); err != nil {
		return err
	}
	if !ck.FusesAdd([]Shape{in[0].Shape}) {
		return fmt.Errorf("layers: %s: not a sum this convolution fuses", what)
	}
	x, err := ck.padded(s, in[0])
	if err != nil {
		return err
	}
	return ck.gen.record(s, x, out, relu, &res)
}

// FusesPool implements PoolKernel: a 3x3 stride-1 convolution that the
// Winograd kernels may run fuses a 2x2/2 max pooling whose windows start
// at row and column 0 (SAME, or no padding); so does one whose image
// exceeds the direct kernel's bindings, in row bands, so that its whole
// output never exists.
func (ck *convOpKernel) FusesPool(pool Op, in []Shape) bool {
	p, ok := pool.(*Pool)
	if !ok || ck.fast == nil || len(in) != 1 || p.Avg || p.Adaptive || p.KH != 2 || p.KW != 2 || p.SH != 2 || p.SW != 2 {
		return false
	}
	if _, _, pad, err := p.Out(in[0].H, in[0].W); err != nil || pad[0] != 0 || pad[1] != 0 {
		return false
	}
	k := ck.kit
	x := in[0]
	x.C = ck.cin
	y := Shape{N: x.N, H: x.H, W: x.W, C: ck.op.Cout}
	if !ck.fast.directFits(x, y) {
		return true // in row bands
	}
	return k.wino != "off" && k.winogradImageFits(x, y) && (k.winogradFits(algoF2, ck.cin, ck.op.Cout) || k.winogradFits(algoF4, ck.cin, ck.op.Cout))
}

// RecordPooled implements PoolKernel.
func (ck *convOpKernel) RecordPooled(s *gpu.Sequence, in []Tensor, out Tensor, relu bool, pool Op) error {
	what := ck.op.Kind() + " + " + pool.Kind()
	if err := ck.kit.checkTensors(what, in, 1, out); err != nil {
		return err
	}
	if !ck.FusesPool(pool, []Shape{in[0].Shape}) {
		return fmt.Errorf("layers: %s: not a pooling this convolution fuses", what)
	}
	is := in[0].Shape
	oh, ow, _, _ := pool.(*Pool).Out(is.H, is.W)
	if want := (Shape{is.N, oh, ow, ck.op.Cout}); out.Shape != want {
		return fmt.Errorf("layers: %s: output %v, want %v", what, out.Shape, want)
	}
	x, err := ck.padded(s, in[0])
	if err != nil {
		return err
	}
	return ck.fast.recordPooled(s, x, out, relu || ck.op.ReLU, pool.(*Pool), &ck.pre)
}

// padded pads an input of fewer than 4 channels to 4 (CPU devices).
func (ck *convOpKernel) padded(s *gpu.Sequence, x Tensor) (Tensor, error) {
	if ck.cin != ck.op.Cin {
		ps := x.Shape
		ps.C = ck.cin
		if ck.pad == nil {
			ck.pad = &scratch{kit: ck.kit}
		}
		buf, err := ck.pad.get(ps.Len())
		if err != nil {
			return Tensor{}, err
		}
		px := Tensor{Buf: buf, Shape: ps}
		if err := ck.kit.PadChannels(s, x, px); err != nil {
			return Tensor{}, err
		}
		x = px
	}
	return x, nil
}

func (ck *convOpKernel) Close() error {
	err := ck.fast.Close()
	if e := ck.gen.Close(); err == nil {
		err = e
	}
	if e := ck.pad.close(); err == nil {
		err = e
	}
	if e := ck.pre.close(); err == nil {
		err = e
	}
	return err
}

// scratch is a device buffer a kernel keeps between recordings, grown on
// demand. Buffers are kept until close because recorded sequences may
// still use them.
type scratch struct {
	kit  *Kit
	bufs []*gpu.Buffer
}

// get returns a buffer of at least n tensor elements.
func (sc *scratch) get(n int) (*gpu.Buffer, error) {
	size := sc.kit.tensorBytes(max(n, 4))
	if len(sc.bufs) > 0 {
		if b := sc.bufs[len(sc.bufs)-1]; b.Size() >= size {
			return b, nil
		}
	}
	b, err := sc.kit.dev.NewBuffer(size)
	if err != nil {
		return nil, err
	}
	sc.kit.held.Add(b.Size())
	sc.bufs = append(sc.bufs, b)
	return b, nil
}

func (sc *scratch) close() error {
	if sc == nil {
		return nil
	}
	var err error
	for _, b := range sc.bufs {
		sc.kit.held.Add(-b.Size())
		if e := b.Close(); err == nil {
			err = e
		}
	}
	sc.bufs = nil
	return err
}

// FoldBatchNorm folds an inference batch normalisation
// y = (x - mean) / sqrt(var + eps) * gamma + beta into the convolution
// before it, in place (float64 arithmetic). b may be nil for a
// convolution without bias.
func (c *Conv) FoldBatchNorm(gamma, beta, mean, variance []float32, eps float64) error {
	for _, p := range [][]float32{gamma, beta, mean, variance} {
		if len(p) != c.Cout {
			return fmt.Errorf("layers: batch norm of %d channels after a conv of %d", len(p), c.Cout)
		}
	}
	if c.B == nil {
		c.B = make([]float32, c.Cout)
	}
	scale := make([]float64, c.Cout)
	for o := range scale {
		if variance[o] < 0 {
			return fmt.Errorf("layers: batch norm channel %d has negative variance %v", o, variance[o])
		}
		scale[o] = float64(gamma[o]) / math.Sqrt(float64(variance[o])+eps)
	}
	// Row by row, in memory order (a channel's weights lie Cout apart).
	for t := 0; t < c.KH*c.KW*c.Cin; t++ {
		row := c.W[t*c.Cout : (t+1)*c.Cout]
		for o, s := range scale {
			row[o] = float32(float64(row[o]) * s)
		}
	}
	for o, s := range scale {
		c.B[o] = float32((float64(c.B[o])-float64(mean[o]))*s + float64(beta[o]))
	}
	return nil
}

// FC is a fully connected layer: y = x W + b with W [In, Out], optional
// ReLU. x is any tensor with In = H*W*C values per image, flattened in
// NHWC order (H,W,C); weights trained on C,H,W-flattened maps (PyTorch)
// are permuted once at load time by PermuteCHW.
type FC struct {
	In, Out int
	W, B    []float32
	ReLU    bool
}

// Kind implements Op.
func (f *FC) Kind() string {
	if f.ReLU {
		return "fc relu"
	}
	return "fc"
}

// Params implements Op.
func (f *FC) Params() []Param {
	return []Param{{"weight", []int{f.In, f.Out}, f.W}, {"bias", []int{f.Out}, f.B}}
}

// ReleaseParams implements Releaser.
func (f *FC) ReleaseParams() { f.W, f.B = nil, nil }

// WithReLU implements ReLUFuser.
func (f *FC) WithReLU() Op { g := *f; g.ReLU = true; return &g }

// Vector implements Vectorer.
func (f *FC) Vector([]bool) bool { return true }

// FLOPs implements Coster.
func (f *FC) FLOPs(in []Shape) float64 {
	if len(in) != 1 {
		return 0
	}
	return 2 * float64(in[0].N) * float64(f.In) * float64(f.Out)
}

// OutShape implements Op.
func (f *FC) OutShape(in []Shape) (Shape, error) {
	if err := checkInputs("fc", in, 1); err != nil {
		return Shape{}, err
	}
	if in[0].Image() != f.In {
		return Shape{}, fmt.Errorf("layers: fc: input %v has %d values per image, the layer takes %d", in[0], in[0].Image(), f.In)
	}
	return Shape{in[0].N, 1, 1, f.Out}, nil
}

// CPU implements Op.
func (f *FC) CPU(ctx context.Context, in []HostTensor) ([]float32, error) {
	if err := checkHost("fc", in, 1); err != nil {
		return nil, err
	}
	if f.W == nil {
		return nil, fmt.Errorf("layers: fc: weights released")
	}
	if _, err := f.OutShape([]Shape{in[0].Shape}); err != nil {
		return nil, err
	}
	return FCCPUContext(ctx, in[0].Data, in[0].Shape.N, f.In, f.W, f.B, f.Out, f.ReLU)
}

// Upload implements Op.
func (f *FC) Upload(k *Kit) (Kernel, error) {
	if f.W == nil {
		return nil, fmt.Errorf("layers: fc: weights already released")
	}
	fc, err := k.NewFC(f.In, f.Out, f.W, f.B)
	if err != nil {
		return nil, err
	}
	return &fcKernel{fc, f.ReLU}, nil
}

type fcKernel struct {
	fc   *FCKernel
	relu bool
}

func (fk *fcKernel) Record(s *gpu.Sequence, in []Tensor, out Tensor) error {
	return fk.record(s, in, out, fk.relu)
}

func (fk *fcKernel) RecordReLU(s *gpu.Sequence, in []Tensor, out Tensor) error {
	return fk.record(s, in, out, true)
}

func (fk *fcKernel) record(s *gpu.Sequence, in []Tensor, out Tensor, relu bool) error {
	if len(in) != 1 {
		return fmt.Errorf("layers: fc takes 1 input, got %d", len(in))
	}
	if relu {
		return fk.fc.Record(s, in[0], Tensor{}, out)
	}
	return fk.fc.Record(s, in[0], out, Tensor{})
}

func (fk *fcKernel) Close() error { return fk.fc.Close() }

// PermuteCHW reorders the rows of fc weights w [c*h*w, out] trained on
// maps flattened in C,H,W order (PyTorch) into the H,W,C order in which
// this package flattens NHWC maps.
func PermuteCHW(w []float32, c, h, wd, out int) ([]float32, error) {
	if len(w) != c*h*wd*out {
		return nil, fmt.Errorf("layers: permuting fc weights: %d values, want %d*%d*%d*%d", len(w), c, h, wd, out)
	}
	res := make([]float32, len(w))
	for ci := 0; ci < c; ci++ {
		for y := 0; y < h; y++ {
			for x := 0; x < wd; x++ {
				src := ((ci*h+y)*wd + x) * out
				dst := ((y*wd+x)*c + ci) * out
				copy(res[dst:dst+out], w[src:src+out])
			}
		}
	}
	return res, nil
}

// Pool is max or average pooling over fixed windows (Window) or adaptive
// ones (Adaptive: an OH x OW output, PyTorch's AdaptiveAvgPool2d and
// AdaptiveMaxPool2d; 1x1 is global pooling). Padding never wins a max;
// an average divides by the pixels inside the image unless CountPad
// (PyTorch's count_include_pad). Flat reports the result as vectors
// [N,C] (global pooling followed by flatten).
type Pool struct {
	Avg bool
	Window
	Adaptive bool
	OH, OW   int
	CountPad bool
	Flat     bool
}

// Kind implements Op.
func (p *Pool) Kind() string {
	k := "maxpool"
	if p.Avg {
		k = "avgpool"
	}
	if p.Adaptive {
		return fmt.Sprintf("adaptive %s %dx%d", k, p.OH, p.OW)
	}
	return k + " " + p.Window.String()
}

// Params implements Op.
func (p *Pool) Params() []Param { return nil }

// Vector implements Vectorer.
func (p *Pool) Vector([]bool) bool { return p.Flat }

// OutShape implements Op.
func (p *Pool) OutShape(in []Shape) (Shape, error) {
	what := p.Kind()
	if err := checkInputs(what, in, 1); err != nil {
		return Shape{}, err
	}
	s := in[0]
	if p.Adaptive {
		if p.OH < 1 || p.OW < 1 {
			return Shape{}, fmt.Errorf("layers: %s: output size must be positive", what)
		}
		return Shape{s.N, p.OH, p.OW, s.C}, nil
	}
	if p.Flat {
		return Shape{}, fmt.Errorf("layers: %s: only adaptive pooling can be flat", what)
	}
	oh, ow, pad, err := p.Out(s.H, s.W)
	if err != nil {
		return Shape{}, fmt.Errorf("layers: %s: %w", what, err)
	}
	// Every window must hold a pixel of the image (PyTorch's rule too).
	if pad[0] >= p.KH || pad[1] >= p.KW || pad[2] >= p.KH || pad[3] >= p.KW {
		return Shape{}, fmt.Errorf("layers: %s: padding %v must be smaller than the window", what, pad)
	}
	return Shape{s.N, oh, ow, s.C}, nil
}

// bounds returns the window of output (oy, ox) clipped to the image and
// the divisor of an average.
func (p *Pool) bounds(s Shape, pad [4]int, oh, ow, oy, ox int) (y0, y1, x0, x1 int, count float64) {
	if p.Adaptive {
		y0, y1 = oy*s.H/oh, ((oy+1)*s.H+oh-1)/oh
		x0, x1 = ox*s.W/ow, ((ox+1)*s.W+ow-1)/ow
		return y0, y1, x0, x1, float64((y1 - y0) * (x1 - x0))
	}
	y0, x0 = oy*p.SH-pad[0], ox*p.SW-pad[1]
	y1, x1 = y0+p.KH, x0+p.KW
	count = float64((min(y1, s.H+pad[2]) - y0) * (min(x1, s.W+pad[3]) - x0))
	y0, x0, y1, x1 = max(y0, 0), max(x0, 0), min(y1, s.H), min(x1, s.W)
	if !p.CountPad {
		count = float64((y1 - y0) * (x1 - x0))
	}
	return y0, y1, x0, x1, count
}

// CPU implements Op.
func (p *Pool) CPU(ctx context.Context, in []HostTensor) ([]float32, error) {
	if err := checkHost(p.Kind(), in, 1); err != nil {
		return nil, err
	}
	s := in[0].Shape
	os, err := p.OutShape([]Shape{s})
	if err != nil {
		return nil, err
	}
	var pad [4]int
	if !p.Adaptive {
		_, _, pad, _ = p.Out(s.H, s.W)
	}
	x := in[0].Data
	out := make([]float32, os.Len())
	err = parallelCtx(ctx, s.N*os.H, func(row int) {
		n, oy := row/os.H, row%os.H
		for ox := 0; ox < os.W; ox++ {
			y0, y1, x0, x1, count := p.bounds(s, pad, os.H, os.W, oy, ox)
			for c := 0; c < s.C; c++ {
				m := math.Inf(-1)
				if p.Avg {
					m = 0
				}
				for y := y0; y < y1; y++ {
					for xx := x0; xx < x1; xx++ {
						v := float64(x[((n*s.H+y)*s.W+xx)*s.C+c])
						if p.Avg {
							m += v
						} else {
							m = math.Max(m, v)
						}
					}
				}
				if p.Avg {
					m /= count
				}
				out[((n*os.H+oy)*os.W+ox)*s.C+c] = float32(m)
			}
		}
	})
	return out, err
}

// Upload implements Op.
func (p *Pool) Upload(k *Kit) (Kernel, error) { return &poolKernel{k, p}, nil }

type poolKernel struct {
	kit *Kit
	op  *Pool
}

func (pk *poolKernel) Record(s *gpu.Sequence, in []Tensor, out Tensor) error {
	what := pk.op.Kind()
	if err := pk.kit.checkTensors(what, in, 1, out); err != nil {
		return err
	}
	is := in[0].Shape
	want, err := pk.op.OutShape([]Shape{is})
	if err != nil {
		return err
	}
	if out.Shape != want {
		return fmt.Errorf("layers: %s: output %v, want %v", what, out.Shape, want)
	}
	if pk.op.Adaptive && pk.op.OH == 1 && pk.op.OW == 1 {
		return pk.kit.GlobalPool(s, in[0], out, pk.op.Avg)
	}
	var pad [4]int
	if !pk.op.Adaptive {
		_, _, pad, _ = pk.op.Out(is.H, is.W)
	}
	flags := uint32(0)
	if pk.op.Avg {
		flags |= 1
	}
	if pk.op.Adaptive {
		flags |= 2
	}
	if pk.op.CountPad {
		flags |= 4
	}
	kh, kw := pk.op.KH, pk.op.KW
	if pk.op.Adaptive {
		kh, kw = 0, 0
	}
	// Four channels per invocation where channels and every window's
	// start are multiples of 4 elements (as Eltwise).
	// On CPU devices the input is read as a texel buffer.
	name, per, texel := "pool", 1, false
	if is.C%4 == 0 && in[0].Off%4 == 0 && out.Off%4 == 0 && pk.kit.align()%16 == 0 {
		name, per = "pool4", 4
		if pk.kit.cpu {
			name, texel = "pool4t", true
		}
	}
	var texBits uint32
	if texel {
		texBits = 1
	}
	kern, err := pk.kit.kernelTexels(name, 2, texBits, 17, uint32(pk.kit.ewg()), flags, uint32(kh), uint32(kw))
	if err != nil {
		return err
	}
	w := pk.op.Window
	p := uint32(per)
	record := func(in, out Tensor, _ *Tensor, top, bottom int) error {
		is, os := in.Shape, out.Shape
		return pk.kit.imageChunksTexel(s, what, kern, in, out, os.Image()/per, texel, func(n int, ib, ob uint32) []uint32 {
			return []uint32{uint32(n), uint32(is.H), uint32(is.W), uint32(is.C) / p, uint32(os.H), uint32(os.W), ib / p, ob / p,
				uint32(w.KH), uint32(w.KW), uint32(w.SH), uint32(w.SW), uint32(top), uint32(pad[1]), uint32(bottom), uint32(pad[3]), flags}
		})
	}
	if pk.op.Adaptive { // windows that depend on the whole height
		return record(in[0], out, nil, 0, 0)
	}
	lim := pk.kit.maxWindow()
	if texel {
		lim = min(lim, pk.kit.maxTexelWindow())
	}
	return bandsOf(what, in[0], out, nil, rowWindow{kh: w.KH, sh: w.SH, top: pad[0], bottom: pad[2]}, lim, out.Shape.H, record)
}

func (pk *poolKernel) Close() error { return nil }

// Add is the element-wise sum of two tensors of one shape, with an
// optional ReLU (a residual connection).
type Add struct{ ReLU bool }

// ReLU is max(x, 0), element-wise.
type ReLU struct{}

// Kind implements Op.
func (a *Add) Kind() string {
	if a.ReLU {
		return "add relu"
	}
	return "add"
}

// Params implements Op.
func (a *Add) Params() []Param { return nil }

// WithReLU implements ReLUFuser.
func (a *Add) WithReLU() Op { return &Add{ReLU: true} }

// ResidualReLU implements Residual.
func (a *Add) ResidualReLU() bool { return a.ReLU }

// Vector implements Vectorer.
func (a *Add) Vector(in []bool) bool { return len(in) > 0 && in[0] }

// OutShape implements Op.
func (a *Add) OutShape(in []Shape) (Shape, error) {
	if err := checkInputs("add", in, 2); err != nil {
		return Shape{}, err
	}
	if in[0] != in[1] {
		return Shape{}, fmt.Errorf("layers: add: inputs %v and %v differ", in[0], in[1])
	}
	return in[0], nil
}

// CPU implements Op.
func (a *Add) CPU(ctx context.Context, in []HostTensor) ([]float32, error) {
	if err := checkHost("add", in, 2); err != nil {
		return nil, err
	}
	if _, err := a.OutShape([]Shape{in[0].Shape, in[1].Shape}); err != nil {
		return nil, err
	}
	out := make([]float32, len(in[0].Data))
	for i, v := range in[0].Data {
		s := float64(v) + float64(in[1].Data[i])
		if a.ReLU && s < 0 {
			s = 0
		}
		out[i] = float32(s)
	}
	return out, ctx.Err()
}

// Upload implements Op.
func (a *Add) Upload(k *Kit) (Kernel, error) { return &eltKernel{k, true, a.ReLU}, nil }

// Kind implements Op.
func (ReLU) Kind() string { return "relu" }

// IsReLU implements Activation: a planner may fuse a ReLU into the op
// before it (see ReLUFuser and ReLUKernel).
func (ReLU) IsReLU() bool { return true }

// Params implements Op.
func (ReLU) Params() []Param { return nil }

// Vector implements Vectorer.
func (ReLU) Vector(in []bool) bool { return len(in) > 0 && in[0] }

// OutShape implements Op.
func (ReLU) OutShape(in []Shape) (Shape, error) {
	if err := checkInputs("relu", in, 1); err != nil {
		return Shape{}, err
	}
	return in[0], nil
}

// CPU implements Op.
func (ReLU) CPU(ctx context.Context, in []HostTensor) ([]float32, error) {
	if err := checkHost("relu", in, 1); err != nil {
		return nil, err
	}
	return ReLUCPU(in[0].Data), ctx.Err()
}

// Upload implements Op.
func (ReLU) Upload(k *Kit) (Kernel, error) { return &eltKernel{k, false, true}, nil }

type eltKernel struct {
	kit       *Kit
	add, relu bool
}

func (ek *eltKernel) Record(s *gpu.Sequence, in []Tensor, out Tensor) error {
	return ek.record(s, in, out, ek.relu)
}

func (ek *eltKernel) RecordReLU(s *gpu.Sequence, in []Tensor, out Tensor) error {
	return ek.record(s, in, out, true)
}

func (ek *eltKernel) record(s *gpu.Sequence, in []Tensor, out Tensor, relu bool) error {
	n := 1
	if ek.add {
		n = 2
	}
	if err := ek.kit.checkTensors("eltwise", in, n, out); err != nil {
		return err
	}
	for _, t := range in {
		if t.Shape != out.Shape {
			return fmt.Errorf("layers: eltwise: input %v, output %v", t.Shape, out.Shape)
		}
	}
	b := in[0]
	if ek.add {
		b = in[1]
	}
	return ek.kit.Eltwise(s, in[0], b, out, ek.add, relu)
}

func (ek *eltKernel) Close() error { return nil }

// Softmax is a softmax over each image's vector, or with Maps over the
// channels of each pixel of a map (the score maps of a fully
// convolutional network).
type Softmax struct{ Maps bool }

// Kind implements Op.
func (sm *Softmax) Kind() string {
	if sm.Maps {
		return "softmax per pixel"
	}
	return "softmax"
}

// Params implements Op.
func (sm *Softmax) Params() []Param { return nil }

// Vector implements Vectorer.
func (sm *Softmax) Vector([]bool) bool { return !sm.Maps }

// rows is the number of softmax rows and their length for an input.
func (sm *Softmax) rows(s Shape) (int, int) {
	if sm.Maps {
		return s.N * s.H * s.W, s.C
	}
	return s.N, s.Image()
}

// OutShape implements Op: [N, F] for any input (H*W*C values per image),
// or the input's shape with Maps.
func (sm *Softmax) OutShape(in []Shape) (Shape, error) {
	if err := checkInputs("softmax", in, 1); err != nil {
		return Shape{}, err
	}
	if sm.Maps {
		return in[0], nil
	}
	return Shape{in[0].N, 1, 1, in[0].Image()}, nil
}

// CPU implements Op.
func (sm *Softmax) CPU(ctx context.Context, in []HostTensor) ([]float32, error) {
	if err := checkHost("softmax", in, 1); err != nil {
		return nil, err
	}
	rows, m := sm.rows(in[0].Shape)
	out, err := SoftmaxCPU(in[0].Data, rows, m)
	if err != nil {
		return nil, err
	}
	return out, ctx.Err()
}

// Upload implements Op.
func (sm *Softmax) Upload(k *Kit) (Kernel, error) { return softmaxKernel{k, sm}, nil }

type softmaxKernel struct {
	kit *Kit
	op  *Softmax
}

func (sk softmaxKernel) Record(s *gpu.Sequence, in []Tensor, out Tensor) error {
	if err := sk.kit.checkTensors("softmax", in, 1, out); err != nil {
		return err
	}
	rows, m := sk.op.rows(in[0].Shape)
	if out.Shape.Len() != rows*m {
		return fmt.Errorf("layers: softmax: output %v for input %v", out.Shape, in[0].Shape)
	}
	// The kernel takes one workgroup per row, at most 65535 rows and one
	// binding per dispatch.
	step := min(65535, max(1, sk.kit.maxWindow()/m))
	for r0 := 0; r0 < rows; r0 += step {
		n := min(step, rows-r0)
		x := Tensor{Buf: in[0].Buf, Off: in[0].Off + r0*m, Shape: Shape{n, 1, 1, m}}
		y := Tensor{Buf: out.Buf, Off: out.Off + r0*m, Shape: Shape{n, 1, 1, m}}
		if err := sk.kit.Softmax(s, x, y); err != nil {
			return err
		}
	}
	return nil
}

func (sk softmaxKernel) Close() error { return nil }

// Flatten makes each image's map a vector [N, H*W*C] in NHWC order. It
// moves no data: a planner gives it its input's memory (IsView).
type Flatten struct{}

// Kind implements Op.
func (Flatten) Kind() string { return "flatten" }

// Params implements Op.
func (Flatten) Params() []Param { return nil }

// IsView implements Viewer.
func (Flatten) IsView() bool { return true }

// Vector implements Vectorer.
func (Flatten) Vector([]bool) bool { return true }

// OutShape implements Op.
func (Flatten) OutShape(in []Shape) (Shape, error) {
	if err := checkInputs("flatten", in, 1); err != nil {
		return Shape{}, err
	}
	return Shape{in[0].N, 1, 1, in[0].Image()}, nil
}

// CPU implements Op.
func (Flatten) CPU(ctx context.Context, in []HostTensor) ([]float32, error) {
	if err := checkHost("flatten", in, 1); err != nil {
		return nil, err
	}
	return in[0].Data, ctx.Err()
}

// Upload implements Op.
func (Flatten) Upload(*Kit) (Kernel, error) { return viewKernel{}, nil }

type viewKernel struct{}

func (viewKernel) Record(s *gpu.Sequence, in []Tensor, out Tensor) error {
	if len(in) != 1 || in[0].Buf != out.Buf || in[0].Off != out.Off {
		return fmt.Errorf("layers: flatten is a view: its output must be its input's memory")
	}
	return nil
}

func (viewKernel) Close() error { return nil }

// Resize is bilinear resizing of a map to the height and width of a
// second input (its data is not read), as PyTorch's
// F.interpolate(mode='bilinear', align_corners=False): FCN's upsampling
// of class scores to the input image's size.
type Resize struct{}

// Kind implements Op.
func (Resize) Kind() string { return "resize bilinear" }

// Params implements Op.
func (Resize) Params() []Param { return nil }

// OutShape implements Op: inputs are the map and the tensor whose height
// and width the output takes.
func (Resize) OutShape(in []Shape) (Shape, error) {
	if err := checkInputs("resize", in, 2); err != nil {
		return Shape{}, err
	}
	if in[0].N != in[1].N {
		return Shape{}, fmt.Errorf("layers: resize: batches of %d and %d", in[0].N, in[1].N)
	}
	return Shape{in[0].N, in[1].H, in[1].W, in[0].C}, nil
}

// resizeTaps are the two source indices and the weight of the second for
// output index o of n (input m), PyTorch's align_corners=False rule.
func resizeTaps(o, n, m int) (int, int, float64) {
	s := max((float64(o)+0.5)*float64(m)/float64(n)-0.5, 0)
	i0 := min(int(s), m-1)
	return i0, min(i0+1, m-1), s - float64(i0)
}

// CPU implements Op.
func (Resize) CPU(ctx context.Context, in []HostTensor) ([]float32, error) {
	if err := checkHost("resize", in, 2); err != nil {
		return nil, err
	}
	is := in[0].Shape
	os, err := Resize{}.OutShape([]Shape{is, in[1].Shape})
	if err != nil {
		return nil, err
	}
	x := in[0].Data
	out := make([]float32, os.Len())
	err = parallelCtx(ctx, os.N*os.H, func(row int) {
		n, oy := row/os.H, row%os.H
		y0, y1, fy := resizeTaps(oy, os.H, is.H)
		for ox := 0; ox < os.W; ox++ {
			x0, x1, fx := resizeTaps(ox, os.W, is.W)
			for c := 0; c < is.C; c++ {
				at := func(y, xx int) float64 { return float64(x[((n*is.H+y)*is.W+xx)*is.C+c]) }
				v := (at(y0, x0)*(1-fx)+at(y0, x1)*fx)*(1-fy) + (at(y1, x0)*(1-fx)+at(y1, x1)*fx)*fy
				out[((n*os.H+oy)*os.W+ox)*is.C+c] = float32(v)
			}
		}
	})
	return out, err
}

// Upload implements Op.
func (Resize) Upload(k *Kit) (Kernel, error) { return resizeKernel{k}, nil }

type resizeKernel struct{ kit *Kit }

func (rk resizeKernel) Record(s *gpu.Sequence, in []Tensor, out Tensor) error {
	if err := rk.kit.checkTensors("resize", in, 2, out); err != nil {
		return err
	}
	is := in[0].Shape
	want, err := Resize{}.OutShape([]Shape{is, in[1].Shape})
	if err != nil {
		return err
	}
	if out.Shape != want {
		return fmt.Errorf("layers: resize: output %v, want %v", out.Shape, want)
	}
	kern, err := rk.kit.kernel("resize", 2, 11, uint32(rk.kit.ewg()))
	if err != nil {
		return err
	}
	os := out.Shape
	lim := rk.kit.maxWindow()
	if imageFits(is, os, lim) {
		return rk.kit.imageChunks(s, "resize", kern, in[0], out, os.Image(), func(n int, ib, ob uint32) []uint32 {
			return []uint32{uint32(n), uint32(is.H), uint32(is.W), uint32(is.C), uint32(os.H), uint32(os.W), ib, ob, uint32(os.H), 0, 0}
		})
	}
	bands, err := resizeBands(is, os, lim)
	if err != nil {
		return err
	}
	for n := 0; n < is.N; n++ {
		for _, b := range bands {
			y := out.rows(n, b.y0, b.y1)
			if err := rk.kit.imageChunks(s, "resize", kern, in[0].rows(n, b.a, b.b), y, y.Shape.Image(), func(_ int, ib, ob uint32) []uint32 {
				return []uint32{1, uint32(is.H), uint32(is.W), uint32(is.C), uint32(os.H), uint32(os.W), ib, ob, uint32(b.y1 - b.y0), uint32(b.y0), uint32(b.a)}
			}); err != nil {
				return err
			}
		}
	}
	return nil
}

// resizeBands splits an image's resizing from in to out into bands of
// output rows whose output and the input rows they read each fit lim
// elements (rowBand's n, y0, y1, a and b). The input rows are those
// resizeTaps gives, one more on each side, so that the kernel's float32
// arithmetic cannot step outside them.
func resizeBands(in, out Shape, lim int) ([]rowBand, error) {
	inRows := func(y0, y1 int) (int, int) {
		a, _, _ := resizeTaps(y0, out.H, in.H)
		_, b, _ := resizeTaps(y1-1, out.H, in.H)
		return max(a-1, 0), min(b+2, in.H)
	}
	rows := min(out.H, lim/(out.W*out.C))
	var bands []rowBand
	for y0 := 0; y0 < out.H; {
		r := min(rows, out.H-y0)
		for r > 0 {
			if a, b := inRows(y0, y0+r); (b-a)*in.W*in.C <= lim {
				break
			}
			r /= 2
		}
		if r < 1 {
			return nil, fmt.Errorf("layers: resize: rows of %dx%d to %dx%d do not fit one binding of %d elements on this device", in.W, in.C, out.W, out.C, lim)
		}
		a, b := inRows(y0, y0+r)
		bands = append(bands, rowBand{y0: y0, y1: y0 + r, a: a, b: b})
		y0 += r
	}
	return bands, nil
}

func (rk resizeKernel) Close() error { return nil }
