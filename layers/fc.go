package layers

import (
	"errors"
	"fmt"
	"slices"

	"github.com/vkvgg/vkvgg/gpu"
)

// FCKernel is a fully connected layer y = x W + b with W [K, M] on the GPU.
//
// W is stored as column blocks [K, mc] one after another, each small
// enough for one binding, so weights larger than the device's
// maxStorageBufferRange (fc6 of VGG16 is 411 MB) need no special case:
// every block is a separate dispatch writing its own columns. The K sum
// is split into slices computed in parallel and added by a second kernel,
// which also applies the bias and writes the output before and/or after
// the ReLU.
type FCKernel struct {
	K, M   int
	kit    *Kit
	w, b   *gpu.Buffer
	blocks [][2]int // column ranges [m0, m1)
	texels bool     // x and W are read as vec4 texel buffers (CPU devices)
	// texelOK: the texel kernel can read every block (K and M multiples
	// of 4, each block within a texel binding). On GPUs it is a candidate
	// beside the storage-buffer kernel, chosen by timing (see choose).
	texelOK bool
	parts   []*gpu.Buffer
}

// The fc kernels a device chooses between by timing: scalar loads from
// storage buffers (fc.comp, GPUs only), or vec4 texel fetches
// (fc_cpu.comp), each invocation owning one group of four columns or
// several (texelGroups).
const (
	fcStorage   = "storage"
	fcTexel     = "texel"
	fcTexelWide = "texel-wide"
)

const (
	fcWG   = 64 // invocations per workgroup, one column each
	fcRows = 8  // batch rows per invocation
	fcKT   = 64 // K tile staged in shared memory
)

// NewFC uploads w [k, m] (row-major) and b [m].
func (k *Kit) NewFC(kdim, m int, w, b []float32) (*FCKernel, error) {
	if kdim < 1 || m < 1 {
		return nil, fmt.Errorf("layers: fc: sizes k=%d m=%d must be positive", kdim, m)
	}
	if err := checkLen("fc", "weights", len(w), kdim*m); err != nil {
		return nil, err
	}
	if err := checkLen("fc", "bias", len(b), m); err != nil {
		return nil, err
	}
	f := &FCKernel{K: kdim, M: m, kit: k}
	f.texels = k.cpu && kdim%4 == 0 && m%4 == 0
	// A block must fit one binding: a storage buffer, or on CPU devices a
	// texel buffer, whose limit (maxTexelBufferElements vec4s) is usually
	// far larger, so fc6 needs no split there.
	lim := k.maxWindow()
	if f.texels {
		lim = k.maxTexelWindow()
	}
	mc := m
	if kdim*m > lim {
		// Block widths are multiples of 64 columns so that every block
		// starts at an offset aligned for any device (256 bytes at most).
		mc = lim / kdim / 64 * 64
		if mc < 64 {
			return nil, fmt.Errorf("layers: fc: K=%d is too large for this device's binding range", kdim)
		}
	}
	f.texelOK = kdim%4 == 0 && m%4 == 0
	for m0 := 0; m0 < m; m0 += mc {
		f.blocks = append(f.blocks, [2]int{m0, min(m, m0+mc)})
		f.texelOK = f.texelOK && kdim*min(mc, m-m0) <= k.maxTexelWindow()
	}
	var err error
	if f.w, err = k.dev.NewBuffer(k.tensorBytes(kdim * m)); err != nil {
		return nil, err
	}
	if err := f.uploadBlocks(w); err != nil {
		f.w.Close()
		return nil, err
	}
	if f.b, err = upload(k.dev, b); err != nil {
		f.w.Close()
		return nil, err
	}
	return f, nil
}

// uploadBlocks copies w into the column-block layout through a bounded
// host buffer.
func (f *FCKernel) uploadBlocks(w []float32) error {
	if len(f.blocks) == 1 {
		return f.kit.Write(f.w, 0, w)
	}
	const stage = 4 << 20 // floats per upload
	for _, bl := range f.blocks {
		mc := bl[1] - bl[0]
		rows := max(1, stage/mc)
		tmp := make([]float32, rows*mc)
		for r0 := 0; r0 < f.K; r0 += rows {
			r1 := min(f.K, r0+rows)
			for r := r0; r < r1; r++ {
				copy(tmp[(r-r0)*mc:(r-r0+1)*mc], w[r*f.M+bl[0]:r*f.M+bl[1]])
			}
			if err := f.kit.Write(f.w, f.K*bl[0]+r0*mc, tmp[:(r1-r0)*mc]); err != nil {
				return err
			}
		}
	}
	return nil
}

// Close frees the weights and scratch buffers. It is idempotent and nil-safe.
func (f *FCKernel) Close() error {
	if f == nil {
		return nil
	}
	errs := []error{f.w.Close(), f.b.Close()}
	for _, p := range f.parts {
		f.kit.held.Add(-p.Size())
		errs = append(errs, p.Close())
	}
	f.parts = nil
	return errors.Join(errs...)
}

// Blocks is the number of column blocks the weights are stored in.
func (f *FCKernel) Blocks() int { return len(f.blocks) }

// Record records y = x W + b. x holds rows of K elements (any shape with
// N rows and H*W*C = K, e.g. pool5 for fc6). pre receives the output
// before the ReLU and post after it; either may be a zero Tensor when not
// wanted. Both are [rows, M].
//
// The first Record of a shape may time the candidate kernels:
// it runs them on the device, writing the output tensors and waiting for
// them, so the tensors must not be in use by work still running.
func (f *FCKernel) Record(s *gpu.Sequence, x, pre, post Tensor) error {
	const what = "fc"
	if err := x.check(what, "input", f.kit.es); err != nil {
		return err
	}
	if x.Shape.Image() != f.K {
		return fmt.Errorf("layers: fc: input %v has %d features per row, the layer takes %d", x.Shape, x.Shape.Image(), f.K)
	}
	rows := x.Shape.N
	want := Shape{rows, 1, 1, f.M}
	outs := []Tensor{pre, post}
	flags := uint32(0)
	for i, o := range outs {
		if o.Buf == nil {
			continue
		}
		if err := o.check(what, "output", f.kit.es); err != nil {
			return err
		}
		if o.Shape != want {
			return fmt.Errorf("layers: fc: output %v, want %v", o.Shape, want)
		}
		flags |= 1 << i
	}
	if flags == 0 {
		return fmt.Errorf("layers: fc: no output tensor")
	}
	if pre.Buf == nil {
		pre = post
	}
	if post.Buf == nil {
		post = pre
	}
	kit := f.kit
	// CPU devices read x and W as vec4 texel buffers where the sizes allow.
	texels := f.texels && x.Off%4 == 0
	if f.texels && !texels {
		for _, bl := range f.blocks {
			if f.K*(bl[1]-bl[0]) > kit.maxWindow() {
				return fmt.Errorf("layers: fc: on this device the input must start at a multiple of 4 elements (it starts at %d)", x.Off)
			}
		}
	}
	var modes []string
	switch {
	case kit.cpu && texels:
		modes = []string{fcTexel}
	case !kit.cpu && f.texelOK && x.Off%4 == 0:
		modes = []string{fcStorage, fcTexel}
	}
	if len(modes) > 0 && f.texelGroups() > 1 {
		modes = append(modes, fcTexelWide)
	}
	mode := fcStorage
	if texels {
		mode = fcTexel
	}
	if len(modes) > 1 {
		var err error
		mode, err = f.choose(rows, modes, func(s *gpu.Sequence, mode string) error {
			return f.record(s, x, pre, post, flags, mode)
		})
		if err != nil {
			return err
		}
	}
	return f.record(s, x, pre, post, flags, mode)
}

// choose picks the fc kernel for a batch of rows among modes: the kit's
// override (tests), the saved choice, or the fastest, timed once per
// device, shape and precision and saved with the Winograd choices.
func (f *FCKernel) choose(rows int, modes []string, record func(s *gpu.Sequence, mode string) error) (string, error) {
	k := f.kit
	if k.fcMode != "" {
		// Forced wide where the blocks are too narrow for more than one
		// group: the texel kernel, which it then is.
		if !slices.Contains(modes, k.fcMode) && !(k.fcMode == fcTexelWide && slices.Contains(modes, fcTexel)) {
			return "", fmt.Errorf("layers: fc: kernel %q is not one of %v here", k.fcMode, modes)
		}
		return k.fcMode, nil
	}
	family := "gpu" // the families' candidates differ: one key each
	if k.cpu {
		family = "cpu"
	}
	key := fmt.Sprintf("fc %s-kernels %d rows %dx%d", family, rows, f.K, f.M)
	best, _, err := k.choice(key, modes, func(s *gpu.Sequence, i int) error { return record(s, modes[i]) })
	return best, err
}

// record records the product with the kernel of mode.
func (f *FCKernel) record(s *gpu.Sequence, x, pre, post Tensor, flags uint32, mode string) error {
	kit := f.kit
	rows := x.Shape.N
	// Rows per invocation: up to fcRows, no more than the batch (a batch
	// of one would otherwise do eight times the arithmetic it needs).
	rowsPer := min(rows, fcRows)
	var part *gpu.Kernel
	var err error
	colsPerGroup := fcWG
	texels := mode != fcStorage
	if texels {
		c := 1
		if mode == fcTexelWide {
			c = f.texelGroups()
		}
		colsPerGroup = 4 * c * fcWG
		part, err = kit.kernelTexels("fc_cpu", 3, 0b11, 8, fcWG, uint32(rowsPer), uint32(c))
	} else {
		part, err = kit.kernel("fc", 3, 8, fcWG, uint32(rowsPer), fcKT)
	}
	if err != nil {
		return err
	}
	red, err := kit.kernel("fcreduce", 4, 6, uint32(kit.ewg()))
	if err != nil {
		return err
	}
	colGroups := 0
	for _, bl := range f.blocks {
		colGroups += (bl[1] - bl[0] + colsPerGroup - 1) / colsPerGroup
	}
	// Split K into slices (of at least 256) until there are enough
	// workgroups in flight: about 1024 to fill a large GPU's memory
	// pipeline in this memory-bound product, 256 for a CPU's threads.
	target := 1024
	if kit.cpu {
		target = 256
	}
	slices := max(1, min((target+colGroups-1)/colGroups, f.K/256))
	kslice := ((f.K+slices-1)/slices + fcKT - 1) / fcKT * fcKT
	slices = (f.K + kslice - 1) / kslice
	lim := kit.maxWindow()
	xlim := lim
	if texels {
		xlim = min(lim, kit.maxTexelWindow())
	}
	chunk := min(rows, xlim/f.K, kit.maxFloats()/(slices*f.M), 65535*rowsPer)
	if chunk < 1 {
		return fmt.Errorf("layers: fc: K=%d, M=%d do not fit this device's binding range", f.K, f.M)
	}
	pbuf, err := f.partBuffer(slices * chunk * f.M)
	if err != nil {
		return err
	}
	for r0 := 0; r0 < rows; r0 += chunk {
		n := min(chunk, rows-r0)
		xv, xb := kit.window(x.Buf, x.Off+r0*f.K, n*f.K)
		pv := pbuf.Floats(0, slices*n*f.M)
		for _, bl := range f.blocks {
			mc := bl[1] - bl[0]
			wv, wb := kit.window(f.w, f.K*bl[0], f.K*mc)
			xa, wa := gpu.R(xv), gpu.R(wv)
			if texels {
				xa, wa = kit.texels(xv), kit.texels(wv)
			}
			groups := [3]int{(mc + colsPerGroup - 1) / colsPerGroup, slices, (n + rowsPer - 1) / rowsPer}
			push := []uint32{uint32(n), uint32(f.K), uint32(f.M), uint32(bl[0]), uint32(mc), uint32(kslice), wb, xb}
			if err := s.Dispatch(part, groups, push, xa, wa, gpu.W(pv)); err != nil {
				return err
			}
		}
		yv, yb := kit.window(pre.Buf, pre.Off+r0*f.M, n*f.M)
		zv, zb := kit.window(post.Buf, post.Off+r0*f.M, n*f.M)
		g, err := grid(n*f.M, kit.ewg())
		if err != nil {
			return err
		}
		push := []uint32{uint32(n), uint32(f.M), uint32(slices), flags, yb, zb}
		if err := s.Dispatch(red, g, push, gpu.R(pv), gpu.R(f.b.All()), gpu.W(yv), gpu.W(zv)); err != nil {
			return err
		}
	}
	return nil
}

// partBuffer returns a scratch buffer of at least n floats. Buffers are
// kept until Close because recorded sequences may still use them.
func (f *FCKernel) partBuffer(n int) (*gpu.Buffer, error) {
	if len(f.parts) > 0 {
		if p := f.parts[len(f.parts)-1]; p.Size() >= int64(n)*4 {
			return p, nil
		}
	}
	p, err := f.kit.dev.NewBuffer(int64(n) * 4)
	if err != nil {
		return nil, err
	}
	f.kit.held.Add(p.Size()) // the memory planner counts it (HeldBytes)
	f.parts = append(f.parts, p)
	return p, nil
}

// texelGroups is the number of vec4 column groups each invocation of the
// wide texel kernel owns: 8, or fewer where the blocks are too narrow to
// give every invocation of a workgroup its share. lavapipe runs each
// texel fetch with a fixed cost around it, and with fp32 weights 32
// fetches per loop iteration instead of 4 read them 1.9x faster (fc6 at
// batch 1: 28-29 -> 14.5-15.3 ms, where a buffer copy of as many bytes
// takes 22; BenchmarkFC6), while with fp16 weights the narrow kernel
// stays faster (26 against 43 ms): hence a timed choice.
func (f *FCKernel) texelGroups() int {
	mc := 0
	for _, bl := range f.blocks {
		mc = max(mc, bl[1]-bl[0])
	}
	c := 8
	for c > 1 && 4*c*fcWG > mc {
		c /= 2
	}
	return c
}
