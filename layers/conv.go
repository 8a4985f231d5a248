package layers

import (
	"errors"
	"fmt"

	"github.com/vkvgg/vkvgg/gpu"
)

// Conv3x3 is a 3x3 convolution (stride 1, SAME padding, bias, optional
// ReLU) with its weights on the GPU.
type Conv3x3 struct {
	Cin, Cout int
	ReLU      bool
	kit       *Kit
	w, b      *gpu.Buffer
	u         map[string]*gpu.Buffer // Winograd weights [A*A, cin, cout] by algorithm, made when first used
	keep      map[string]bool        // algorithms chosen for some shape: their weights stay
	preUsed   bool                   // some fused pooling took the direct path through scratch
}

// NewConv3x3 uploads HWIO weights w [3,3,cin,cout] and bias b [cout].
func (k *Kit) NewConv3x3(cin, cout int, w, b []float32, relu bool) (*Conv3x3, error) {
	if cin < 1 || cout < 1 {
		return nil, fmt.Errorf("layers: conv3x3: channels %d -> %d must be positive", cin, cout)
	}
	if err := checkLen("conv3x3", "weights", len(w), 9*cin*cout); err != nil {
		return nil, err
	}
	if err := checkLen("conv3x3", "bias", len(b), cout); err != nil {
		return nil, err
	}
	if 9*cin*cout > k.maxWindow() {
		return nil, fmt.Errorf("layers: conv3x3: %d x %d weights exceed one binding on this device", cin, cout)
	}
	c := &Conv3x3{Cin: cin, Cout: cout, ReLU: relu, kit: k}
	var err error
	if c.w, c.b, err = k.uploadWeights(w, b); err != nil {
		return nil, err
	}
	return c, nil
}

// uploadWeights copies a layer's weights (in the kit's precision) and
// bias (fp32) into new buffers, or leaves none behind.
func (k *Kit) uploadWeights(w, b []float32) (wbuf, bbuf *gpu.Buffer, err error) {
	if wbuf, err = k.uploadTensor(w); err != nil {
		return nil, nil, err
	}
	if bbuf, err = upload(k.dev, b); err != nil {
		wbuf.Close()
		return nil, nil, err
	}
	return wbuf, bbuf, nil
}

// upload copies fp32 data into a new buffer.
func upload(dev *gpu.Device, data []float32) (*gpu.Buffer, error) {
	buf, err := dev.NewBuffer(int64(len(data)) * 4)
	if err != nil {
		return nil, err
	}
	if err := buf.Upload(0, data); err != nil {
		buf.Close()
		return nil, err
	}
	return buf, nil
}

// tensorBytes is the size of a buffer for n elements of the kit's
// precision (Precision.Bytes).
func (k *Kit) tensorBytes(n int) int64 { return k.prec.Bytes(n) }

// uploadTensor copies data into a new buffer in the kit's precision.
func (k *Kit) uploadTensor(data []float32) (*gpu.Buffer, error) {
	buf, err := k.dev.NewBuffer(k.tensorBytes(len(data)))
	if err != nil {
		return nil, err
	}
	if err := k.Write(buf, 0, data); err != nil {
		buf.Close()
		return nil, err
	}
	return buf, nil
}

// Write copies data to tensor element off of buf in the kit's precision.
// In fp16 a finite value beyond fp16's range is an error
// (gpu.Buffer.UploadHalf).
func (k *Kit) Write(buf *gpu.Buffer, off int, data []float32) error {
	if k.prec == FP16 {
		return buf.UploadHalf(off, data)
	}
	return buf.Upload(off, data)
}

// Read copies len(dst) tensor elements from element off of buf, in the
// kit's precision, into dst.
func (k *Kit) Read(buf *gpu.Buffer, off int, dst []float32) error {
	if k.prec == FP16 {
		return buf.DownloadHalf(off, dst)
	}
	return buf.Download(off, dst)
}

// Close frees the weights. It is idempotent and nil-safe.
func (c *Conv3x3) Close() error {
	if c == nil {
		return nil
	}
	errs := []error{c.w.Close(), c.b.Close()}
	for _, u := range c.u {
		c.kit.held.Add(-u.Size())
		errs = append(errs, u.Close())
	}
	c.u = nil
	return errors.Join(errs...)
}

// Record records the convolution of in [N,H,W,Cin] into out [N,H,W,Cout].
//
// The first Record of a shape may time the candidate algorithms (see
// KernelOptions.Winograd): it runs them on the device, writing out and
// waiting for them, so in and out must not be in use by work still
// running.
func (c *Conv3x3) Record(s *gpu.Sequence, in, out Tensor) error {
	return c.record(s, in, out, c.ReLU)
}

// RecordReLU is Record with the ReLU applied whatever the layer's setting.
func (c *Conv3x3) RecordReLU(s *gpu.Sequence, in, out Tensor) error {
	return c.record(s, in, out, true)
}

func (c *Conv3x3) record(s *gpu.Sequence, in, out Tensor, withReLU bool) error {
	const what = "conv3x3"
	if err := c.kit.checkInOut(what, in, out); err != nil {
		return err
	}
	is := in.Shape
	if is.C != c.Cin {
		return fmt.Errorf("layers: conv3x3: input %v has %d channels, the layer takes %d", is, is.C, c.Cin)
	}
	if want := (Shape{is.N, is.H, is.W, c.Cout}); out.Shape != want {
		return fmt.Errorf("layers: conv3x3: output %v, want %v", out.Shape, want)
	}
	algo, err := c.algorithm(in, out, withReLU)
	if err != nil {
		return err
	}
	if algo != algoDirect {
		return c.recordWinograd(s, in, out, withReLU, algo, false)
	}
	return c.recordDirect(s, in, out, withReLU)
}

// recordDirect records the direct convolution (conv3x3.comp or
// conv3x3_cpu.comp).
func (c *Conv3x3) recordDirect(s *gpu.Sequence, in, out Tensor, withReLU bool) error {
	const what = "conv3x3"
	is := in.Shape
	relu := uint32(0)
	if withReLU {
		relu = 1
	}
	k, err := c.kernelFor(in, out)
	if err != nil {
		return err
	}
	if !imageFits(is, out.Shape, k.lim) || (is.H*is.W+k.pixTile-1)/k.pixTile > 65535 {
		g := c.general()
		cfg, lim, pix, err := g.config(what, in, out, nil)
		if err != nil {
			return err
		}
		return g.recordBands(s, what, in, out, relu, nil, cfg, lim, pix, [4]int{1, 1, 1, 1})
	}
	return c.kit.dispatchConv(s, what, k, in, out, c.w, c.b, nil, func(n int, ib, ob uint32) []uint32 {
		return []uint32{uint32(n), uint32(is.H), uint32(is.W), uint32(c.Cin), uint32(c.Cout), relu, ib, ob}
	})
}

// general is the layer as a general convolution on the same weights
// (HWIO both), whose kernels take any padding: images too large for the
// direct kernels' bindings run through it in row bands. It is not to be
// closed: the weights are the layer's.
func (c *Conv3x3) general() *GConv {
	return &GConv{win: Window{KH: 3, KW: 3, SH: 1, SW: 1, Same: true}, Cin: c.Cin, Cout: c.Cout, ReLU: c.ReLU, kit: c.kit, w: c.w, b: c.b}
}

// directFits reports whether one image of in and out fits the bindings
// of the direct kernel kernelFor picks for tensors at aligned offsets.
func (c *Conv3x3) directFits(in, out Shape) bool {
	lim := c.kit.maxWindow()
	if c.kit.registerReads(9, c.Cin, c.Cout) {
		lim = min(lim, c.kit.maxTexelWindow())
	}
	return imageFits(in, out, lim)
}

// registerReads reports whether the kit's tiling is a register one that
// a convolution of taps taps from cin to cout channels allows (vec4
// access to channels, weights within one texel binding), for tensors at
// offsets that are multiples of 4.
func (k *Kit) registerReads(taps, cin, cout int) bool {
	return k.conv.Register && cin%4 == 0 && cout%4 == 0 && taps*cin*cout <= k.maxTexelWindow()
}

// dispatchConv records a convolution kernel over chunks of images that
// fit its bindings, with the push constants push gives for each chunk (n
// images, element bases of the input and output windows). Kernels with a
// residual binding (k.resBinding) get res there, or the bias when res is
// nil, and its element base as one more push constant.
func (kit *Kit) dispatchConv(s *gpu.Sequence, what string, k convKernel, in, out Tensor, w, b *gpu.Buffer, res *Tensor, push func(n int, ib, ob uint32) []uint32) error {
	is, os := in.Shape, out.Shape
	ihw, ohw := is.H*is.W, os.H*os.W
	maxImgs := max(1, 65535*k.pixTile/ohw)
	chunks, err := kit.batchChunks(what, is.N, []int{ihw * is.C, ohw * os.C}, maxImgs, k.lim)
	if err != nil {
		return err
	}
	if (ohw+k.pixTile-1)/k.pixTile > 65535 {
		return fmt.Errorf("layers: %s: an output of %dx%d pixels is too large for one dispatch", what, os.H, os.W)
	}
	for _, ch := range chunks {
		n := ch[1] - ch[0]
		iv, ib := kit.window(in.Buf, in.Off+ch[0]*ihw*is.C, n*ihw*is.C)
		ov, ob := kit.window(out.Buf, out.Off+ch[0]*ohw*os.C, n*ohw*os.C)
		pixGroups, chanGroups := (n*ohw+k.pixTile-1)/k.pixTile, (os.C+k.chanTile-1)/k.chanTile
		groups := [3]int{chanGroups, pixGroups, 1}
		inArg, wArg := gpu.R(iv), gpu.R(w.All())
		if k.register {
			groups = [3]int{pixGroups, chanGroups, 1}
			inArg, wArg = kit.texels(iv), kit.texels(w.All())
		}
		args := []gpu.Arg{inArg, wArg, gpu.R(b.All()), gpu.W(ov)}
		pc := push(n, ib, ob)
		if k.resBinding {
			if res != nil {
				rv, rb := kit.window(res.Buf, res.Off+ch[0]*ohw*os.C, n*ohw*os.C)
				args = append(args, gpu.R(rv))
				pc = append(pc, rb)
			} else {
				args = append(args, gpu.R(b.All()))
				pc = append(pc, 0)
			}
		}
		if err := s.Dispatch(k.kern, groups, pc, args...); err != nil {
			return err
		}
	}
	return nil
}

// convKernel is the kernel a Record uses and its geometry.
type convKernel struct {
	kern              *gpu.Kernel
	register          bool // conv3x3_cpu: texel inputs, pixel blocks along x
	resBinding        bool // conv, conv_cpu: binding 4 is a residual
	pixTile, chanTile int  // pixels and output channels per workgroup
	lim               int  // elements one input or output binding may hold
}

// kernelFor picks the kernel: the register kernel where the tiling asks
// for it and the layer allows vec4 access (channels and offsets multiples
// of 4, weights within one texel binding), else the shared-memory one.
func (c *Conv3x3) kernelFor(in, out Tensor) (convKernel, error) {
	cfg := c.kit.conv
	if cfg.Register && (!c.kit.registerReads(9, c.Cin, c.Cout) || in.Off%4 != 0 || out.Off%4 != 0) {
		cfg = *cfg.Fallback
	}
	if !cfg.Register {
		kern, err := c.kit.kernel("conv3x3", 4, 8, uint32(cfg.workgroup()), uint32(cfg.BM), uint32(cfg.BN), uint32(cfg.BK), uint32(cfg.TM), uint32(cfg.TN))
		return convKernel{kern: kern, pixTile: cfg.BM, chanTile: cfg.BN, lim: c.kit.maxWindow()}, err
	}
	wg, tn := cfg.narrow(c.Cout)
	kern, err := c.kit.kernelTexels(c.kit.rowsKernel("conv3x3_cpu", wg, cfg.TM), 4, 0b11, 8, uint32(wg), uint32(cfg.TM), uint32(tn/4))
	return convKernel{kern: kern, register: true, pixTile: cfg.TM, chanTile: tn * wg,
		lim: min(c.kit.maxWindow(), c.kit.maxTexelWindow())}, err
}

// GConv is a convolution of any kernel size, stride and padding (bias,
// optional ReLU) with its weights on the GPU: conv.comp on GPUs,
// conv_cpu.comp (vec4 texel reads, register tiles) on CPU devices where
// the channel counts allow.
type GConv struct {
	win       Window
	Cin, Cout int
	ReLU      bool
	kit       *Kit
	w, b      *gpu.Buffer
	col       *scratch // the im2col rows of a chunk of images
}

// newGConv uploads HWIO weights w [KH,KW,cin,cout] and bias b [cout].
func (k *Kit) newGConv(win Window, cin, cout int, w, b []float32, relu bool) (*GConv, error) {
	if cin < 1 || cout < 1 {
		return nil, fmt.Errorf("layers: conv: channels %d -> %d must be positive", cin, cout)
	}
	taps := win.KH * win.KW
	if err := checkLen("conv", "weights", len(w), taps*cin*cout); err != nil {
		return nil, err
	}
	if err := checkLen("conv", "bias", len(b), cout); err != nil {
		return nil, err
	}
	if taps*cin*cout > max(k.maxWindow(), k.maxTexelWindow()) {
		return nil, fmt.Errorf("layers: conv %v: %d x %d weights exceed one binding on this device", win, cin, cout)
	}
	c := &GConv{win: win, Cin: cin, Cout: cout, ReLU: relu, kit: k}
	var err error
	if c.w, c.b, err = k.uploadWeights(w, b); err != nil {
		return nil, err
	}
	return c, nil
}

// Close frees the weights. It is idempotent and nil-safe.
func (c *GConv) Close() error {
	if c == nil {
		return nil
	}
	return errors.Join(c.w.Close(), c.b.Close(), c.col.close())
}

// Record records the convolution of in [N,H,W,Cin] into out [N,OH,OW,Cout].
//
// The first Record of a shape may time the candidate kernels (tilings
// on GPUs, im2col on CPU devices): it runs them on the device, writing
// the output tensors and waiting for them, so the tensors must not be in
// use by work still running.
func (c *GConv) Record(s *gpu.Sequence, in, out Tensor) error {
	return c.record(s, in, out, c.ReLU, nil)
}

// record records the convolution, with res (when not nil, of out's
// shape) added before the ReLU.
func (c *GConv) record(s *gpu.Sequence, in, out Tensor, withReLU bool, res *Tensor) error {
	what := "conv " + c.win.String()
	if err := c.kit.checkInOut(what, in, out); err != nil {
		return err
	}
	is := in.Shape
	if is.C != c.Cin {
		return fmt.Errorf("layers: %s: input %v has %d channels, the layer takes %d", what, is, is.C, c.Cin)
	}
	oh, ow, pad, err := c.win.Out(is.H, is.W)
	if err != nil {
		return fmt.Errorf("layers: %s: %w", what, err)
	}
	if want := (Shape{is.N, oh, ow, c.Cout}); out.Shape != want {
		return fmt.Errorf("layers: %s: output %v, want %v", what, out.Shape, want)
	}
	relu := uint32(0)
	if withReLU {
		relu = 1
	}
	if res != nil && res.Shape != out.Shape {
		return fmt.Errorf("layers: %s: residual %v, output %v", what, res.Shape, out.Shape)
	}
	cfg, lim, pix, err := c.config(what, in, out, res)
	if err != nil {
		return err
	}
	// An image over one binding, or over one dispatch's workgroups, runs
	// in row bands with the kit's tiling (see rowBand).
	if !imageFits(is, out.Shape, lim) || oh > 65535*pix/ow {
		return c.recordBands(s, what, in, out, relu, res, cfg, lim, pix, pad)
	}
	if !cfg.Register && !c.kit.cpu {
		cfg, err = c.tiling(what, in, out, cfg, func(s *gpu.Sequence, t ConvConfig) error {
			return c.recordTiled(s, what, in, out, relu, res, t, pad)
		})
		if err != nil {
			return err
		}
	}
	if cfg.Register && c.im2colFits(out.Shape) {
		direct := func(s *gpu.Sequence) error { return c.recordTiled(s, what, in, out, relu, res, cfg, pad) }
		cols := func(s *gpu.Sequence) error { return c.recordIm2col(s, what, in, out, relu, res, cfg, pad) }
		algo, err := c.im2colChoice(in.Shape, direct, cols)
		if err != nil {
			return err
		}
		if algo == convIm2col {
			return cols(s)
		}
	}
	return c.recordTiled(s, what, in, out, relu, res, cfg, pad)
}

// recordBands records the convolution, checked by the caller, with tiling
// cfg (whose kernel binds lim elements and computes pix pixels a
// workgroup) and the window's padding pad: whole where an image fits the
// bindings and a dispatch, else in row bands. It times nothing and needs
// no scratch.
func (c *GConv) recordBands(s *gpu.Sequence, what string, in, out Tensor, relu uint32, res *Tensor, cfg ConvConfig, lim, pix int, pad [4]int) error {
	return bandsOf(what, in, out, res, rowWindow{kh: c.win.KH, sh: c.win.SH, top: pad[0], bottom: pad[2]}, lim, 65535*pix/out.Shape.W,
		func(in, out Tensor, res *Tensor, top, bottom int) error {
			return c.recordTiled(s, what, in, out, relu, res, cfg, [4]int{top, pad[1], bottom, pad[3]})
		})
}

// config is the kit's tiling for a recording, or its fallback where the
// register kernels cannot read the layer (channels or bases not multiples
// of 4, weights over one texel binding), with the elements one binding
// of its kernel holds and the pixels a workgroup computes.
func (c *GConv) config(what string, in, out Tensor, res *Tensor) (cfg ConvConfig, lim, pix int, err error) {
	cfg = c.kit.conv
	taps := c.win.KH * c.win.KW
	if cfg.Register && (!c.kit.registerReads(taps, c.Cin, c.Cout) || in.Off%4 != 0 || out.Off%4 != 0 || (res != nil && res.Off%4 != 0)) {
		cfg = *cfg.Fallback
	}
	if !cfg.Register && taps*c.Cin*c.Cout > c.kit.maxWindow() {
		return cfg, 0, 0, fmt.Errorf("layers: %s: %d x %d weights exceed one storage binding on this device", what, c.Cin, c.Cout)
	}
	if cfg.Register {
		return cfg, min(c.kit.maxWindow(), c.kit.maxTexelWindow()), cfg.TM, nil
	}
	return cfg, c.kit.maxWindow(), cfg.BM, nil
}

// The two ways the register kernels run a general convolution: directly,
// or as im2col rows and a 1x1 convolution over them.
const (
	convDirect = "direct"
	convIm2col = "im2col"
)

// im2colFloats bounds the im2col rows of one chunk of images (64 MB in
// fp32), within a binding.
func (k *Kit) im2colFloats() int {
	return min(16<<20, k.maxWindow(), k.maxTexelWindow())
}

// im2colFits reports whether the layer may run through im2col rows: a
// window larger than 1x1, and one image's rows within a chunk.
func (c *GConv) im2colFits(out Shape) bool {
	taps := c.win.KH * c.win.KW
	return taps > 1 && out.H*out.W*taps*c.Cin <= c.kit.im2colFloats()
}

// im2colChoice picks direct or im2col for the layer at input shape is:
// the kit's override (tests), the saved choice, or the faster, timed once
// per device, shape and precision. On lavapipe a window over few input
// channels (a network's first layer: 3 channels padded to 4) spends more
// time per tap than it computes, while the 1x1 kernel over the rows runs
// at the rate of the network's 1x1 layers.
func (c *GConv) im2colChoice(is Shape, direct, cols func(*gpu.Sequence) error) (string, error) {
	k := c.kit
	switch k.colMode {
	case convDirect, convIm2col:
		return k.colMode, nil
	}
	key := fmt.Sprintf("conv %v cpu-kernels %dx%dx%d %d->%d im2col", c.win, is.N, is.H, is.W, c.Cin, c.Cout)
	ways := []func(*gpu.Sequence) error{direct, cols}
	best, _, err := k.choice(key, []string{convDirect, convIm2col}, func(s *gpu.Sequence, i int) error { return ways[i](s) })
	return best, err
}

// recordIm2col records the convolution (checked by record, register
// kernels) as im2col rows of a chunk of images at a time in the layer's
// scratch, each chunk followed by the 1x1 convolution over its rows with
// the layer's weights, whose [kh, kw, cin, cout] order is the rows'.
func (c *GConv) recordIm2col(s *gpu.Sequence, what string, in, out Tensor, relu uint32, res *Tensor, cfg ConvConfig, pad [4]int) error {
	k := c.kit
	is, os := in.Shape, out.Shape
	kdim := c.win.KH * c.win.KW * c.Cin
	rows := os.H * os.W * kdim // one image's
	per := max(1, min(is.N, k.im2colFloats()/rows))
	if c.col == nil {
		c.col = &scratch{kit: k}
	}
	buf, err := c.col.get(per * rows)
	if err != nil {
		return err
	}
	colK, err := k.kernelTexels("im2col", 2, 0b1, 14, 64)
	if err != nil {
		return err
	}
	gemm, err := c.kernel(cfg, res != nil)
	if err != nil {
		return err
	}
	w := c.win
	for i0 := 0; i0 < is.N; i0 += per {
		n := min(per, is.N-i0)
		iv, ib := k.window(in.Buf, in.Off+i0*is.Image(), n*is.Image())
		cv, cb := k.window(buf, 0, n*rows)
		g, err := grid(n*os.H*os.W, 64)
		if err != nil {
			return err
		}
		push := []uint32{uint32(n), uint32(is.H), uint32(is.W), uint32(c.Cin), uint32(os.H), uint32(os.W),
			uint32(w.KH), uint32(w.KW), uint32(w.SH), uint32(w.SW), uint32(pad[0]), uint32(pad[1]), ib, cb}
		if err := s.Dispatch(colK, g, push, k.texels(iv), gpu.W(cv)); err != nil {
			return err
		}
		cols := Tensor{Buf: buf, Shape: Shape{N: n, H: os.H, W: os.W, C: kdim}}
		yo := Tensor{Buf: out.Buf, Off: out.Off + i0*os.Image(), Shape: Shape{N: n, H: os.H, W: os.W, C: os.C}}
		var ro *Tensor
		if res != nil {
			r := Tensor{Buf: res.Buf, Off: res.Off + i0*os.Image(), Shape: yo.Shape}
			ro = &r
		}
		if err := k.dispatchConv(s, what, gemm, cols, yo, c.w, c.b, ro, func(n int, ib, ob uint32) []uint32 {
			return []uint32{uint32(n), uint32(os.H), uint32(os.W), uint32(kdim), uint32(c.Cout), relu, ib, ob,
				uint32(os.H), uint32(os.W), 1, 1, 1, 1, 0, 0}
		}); err != nil {
			return err
		}
	}
	return nil
}

// sameTiles reports whether two shared-memory tilings are the same.
func (c ConvConfig) sameTiles(o ConvConfig) bool {
	return c.BM == o.BM && c.BN == o.BN && c.BK == o.BK && c.TM == o.TM && c.TN == o.TN
}

// smallTiles is the GPU conv tiling for layers with few output pixels
// (ResNet's last stages, any layer at batch 1): 32x32 tiles of 64
// invocations make four times as many workgroups as the default 64x64.
var smallTiles = ConvConfig{BM: 32, BN: 32, BK: 8, TM: 4, TN: 4}

// tiling picks the GPU conv tiling of a layer: the kit's, or where that
// makes fewer workgroups than a large GPU runs at once (about a thousand)
// smallTiles if it is faster, timed once per device, shape and precision
// and saved with the other choices.
func (c *GConv) tiling(what string, in, out Tensor, cfg ConvConfig, record func(*gpu.Sequence, ConvConfig) error) (ConvConfig, error) {
	k := c.kit
	os := out.Shape
	groups := ((os.N*os.H*os.W + cfg.BM - 1) / cfg.BM) * ((os.C + cfg.BN - 1) / cfg.BN)
	if cfg.sameTiles(smallTiles) || smallTiles.Validate(k.info) != nil || (groups >= 1024 && k.tileMode == "") {
		return cfg, nil
	}
	switch k.tileMode {
	case "small":
		return smallTiles, nil
	case "large":
		return cfg, nil
	}
	is := in.Shape
	key := fmt.Sprintf("%s gpu-kernels %dx%dx%d %d->%d tiles %dx%dx%d/%dx%d", what, is.N, is.H, is.W, c.Cin, c.Cout, cfg.BM, cfg.BN, cfg.BK, cfg.TM, cfg.TN)
	tilings := []ConvConfig{cfg, smallTiles}
	best, _, err := k.choice(key, []string{"large", "small"}, func(s *gpu.Sequence, i int) error { return record(s, tilings[i]) })
	if err != nil {
		return cfg, err
	}
	if best == "small" {
		return smallTiles, nil
	}
	return cfg, nil
}

// kernel is the general convolution kernel of tiling cfg (conv_cpu for
// register tilings, conv otherwise), with or without a residual.
func (c *GConv) kernel(cfg ConvConfig, withRes bool) (convKernel, error) {
	res := uint32(0)
	if withRes {
		res = 1
	}
	k := convKernel{resBinding: true}
	var err error
	if cfg.Register {
		wg, tn := cfg.narrow(c.Cout)
		k.kern, err = c.kit.kernelTexels(c.kit.rowsKernel("conv_cpu", wg, cfg.TM), 5, 0b11, 17, uint32(wg), uint32(cfg.TM), uint32(tn/4), res)
		k.register, k.pixTile, k.chanTile, k.lim = true, cfg.TM, tn*wg, min(c.kit.maxWindow(), c.kit.maxTexelWindow())
	} else {
		k.kern, err = c.kit.kernel("conv", 5, 17, uint32(cfg.workgroup()), uint32(cfg.BM), uint32(cfg.BN), uint32(cfg.BK), uint32(cfg.TM), uint32(cfg.TN), res)
		k.pixTile, k.chanTile, k.lim = cfg.BM, cfg.BN, c.kit.maxWindow()
	}
	return k, err
}

// recordTiled records the convolution, checked by record, with tiling cfg
// and the window's padding pad.
func (c *GConv) recordTiled(s *gpu.Sequence, what string, in, out Tensor, relu uint32, res *Tensor, cfg ConvConfig, pad [4]int) error {
	is, oh, ow := in.Shape, out.Shape.H, out.Shape.W
	k, err := c.kernel(cfg, res != nil)
	if err != nil {
		return err
	}
	w := c.win
	return c.kit.dispatchConv(s, what, k, in, out, c.w, c.b, res, func(n int, ib, ob uint32) []uint32 {
		return []uint32{uint32(n), uint32(is.H), uint32(is.W), uint32(c.Cin), uint32(c.Cout), relu, ib, ob,
			uint32(oh), uint32(ow), uint32(w.KH), uint32(w.KW), uint32(w.SH), uint32(w.SW), uint32(pad[0]), uint32(pad[1])}
	})
}
