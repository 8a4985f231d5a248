package layers_test

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/vkvgg/vkvgg/gpu"
	"github.com/vkvgg/vkvgg/internal/testdev"
	"github.com/vkvgg/vkvgg/layers"
	"github.com/vkvgg/vkvgg/layers/layertest"
)

// Tolerances, |gpu - cpu| <= atol + rtol*|cpu|:
//   - conv3x3 and fc accumulate up to tens of thousands of float32 products
//     on the GPU, in an order that differs from the float64 reference. The
//     rounding error of such a sum grows like sqrt(K)*eps*sum|x*w| in
//     practice (K*eps in the worst case); inputs and weights here are
//     scaled so that sum|x*w| is O(1) to O(10), giving errors near 1e-5.
//     atol 2e-4 and rtol 1e-4 leave an order of magnitude of margin while
//     still catching any wrong term (which shifts a value by ~1e-2 or more).
//   - preprocess is one multiply-add in float32: a few ulps of 255 (3e-5).
//   - softmax uses exp in float32: relative 1e-5, plus 1e-7 absolute for
//     probabilities near zero.
//   - maxpool moves values unchanged: exact.
var (
	tolGEMM       = layertest.Tol{Atol: 2e-4, Rtol: 1e-4}
	tolPreprocess = layertest.Tol{Atol: 1e-4, Rtol: 1e-6}
	tolSoftmax    = layertest.Tol{Atol: 1e-7, Rtol: 1e-5}
)

// harness owns the device objects of one test.
type harness struct {
	t   *testing.T
	dev *gpu.Device
	kit *layers.Kit
}

func newHarness(t *testing.T) *harness {
	return newHarnessOptions(t, layers.KernelOptions{})
}

// newHarnessOptions is newHarness with a kit of the options o.
func newHarnessOptions(t *testing.T, o layers.KernelOptions) *harness {
	dev := testdev.Open(t)
	kit, err := layers.NewKitOptions(dev, layers.FP32, o)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, dev: dev, kit: kit}
	t.Cleanup(func() { h.kit.Close() })
	return h
}

// tensor places data (or NaNs when data is nil) at an odd element offset
// of a new buffer, so every kernel is exercised with unaligned bases.
func (h *harness) tensor(s layers.Shape, data []float32) layers.Tensor {
	h.t.Helper()
	return h.tensorAt(s, data, 5)
}

// tensorAt places the tensor at element off.
func (h *harness) tensorAt(s layers.Shape, data []float32, off int) layers.Tensor {
	h.t.Helper()
	buf, err := h.dev.NewBuffer(int64(off+s.Len()+3) * 4)
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { buf.Close() })
	if data == nil {
		data = layertest.NaNs(s.Len())
	}
	if err := buf.Upload(off, data); err != nil {
		h.t.Fatal(err)
	}
	return layers.Tensor{Buf: buf, Off: off, Shape: s}
}

// run records with rec, submits once and returns the outputs.
func (h *harness) run(rec func(s *gpu.Sequence) error, outs ...layers.Tensor) [][]float32 {
	h.t.Helper()
	seq, err := h.dev.NewSequence(gpu.SequenceOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	defer seq.Close()
	if err := rec(seq); err != nil {
		h.t.Fatal(err)
	}
	if err := seq.Submit(); err != nil {
		h.t.Fatal(err)
	}
	res := make([][]float32, len(outs))
	for i, o := range outs {
		res[i] = make([]float32, o.Shape.Len())
		if err := o.Buf.Download(o.Off, res[i]); err != nil {
			h.t.Fatal(err)
		}
	}
	return res
}

// Shapes of the conformance table: odd and even sizes, 1x1, non-square.
var spatial = [][2]int{{1, 1}, {2, 7}, {7, 13}, {13, 14}, {14, 1}, {31, 7}, {56, 56}}

func TestPreprocessCPUValues(t *testing.T) {
	got, err := layers.VGGInput().CPU(context.Background(), []layers.HostTensor{{Data: []float32{1, 0.5, 0}, Shape: layers.Shape{1, 1, 1, 3}}})
	if err != nil {
		t.Fatal(err)
	}
	want := []float32{-103.939, 0.5*255 - 116.779, 255 - 123.68}
	layertest.Check(t, "preprocess", got, want, layertest.Tol{Atol: 1e-4})
}

func TestConv3x3(t *testing.T) {
	h := newHarness(t)
	rng := layertest.Seed(t)
	// Odd channel counts, and multiples of 4 that CPU devices run on the
	// register-blocked kernel.
	channels := [][2]int{{3, 5}, {1, 3}, {5, 17}, {17, 64}, {64, 130}, {130, 17}, {8, 12}, {64, 36}}
	for _, n := range []int{1, 3} {
		for i, hw := range spatial {
			for j, ch := range channels {
				if (i+j)%2 == 1 && !(hw[0] == 56 && ch[0] == 64) {
					continue // half the grid, every size and channel pair still covered
				}
				s := layers.Shape{N: n, H: hw[0], W: hw[1], C: ch[0]}
				t.Run(fmt.Sprintf("%v->%d", s, ch[1]), func(t *testing.T) {
					checkConv(t, h, rng, s, ch[1], n == 1)
				})
			}
		}
	}
}

func checkConv(t *testing.T, h *harness, rng interface{ Float64() float64 }, s layers.Shape, cout int, relu bool) {
	t.Helper()
	k := 9 * s.C
	x := uniform(rng, s.Len(), -1, 1)
	scale := math.Sqrt(3.0 / float64(k)) // sum|x*w| stays O(1)
	w := uniform(rng, k*cout, -scale, scale)
	b := uniform(rng, cout, -0.5, 0.5)
	want, err := layers.ConvCPU(context.Background(), x, s, layers.Window{KH: 3, KW: 3, SH: 1, SW: 1, Same: true}, w, b, cout, relu)
	if err != nil {
		t.Fatal(err)
	}
	conv, err := h.kit.NewConv3x3(s.C, cout, w, b, relu)
	if err != nil {
		t.Fatal(err)
	}
	defer conv.Close()
	os := layers.Shape{N: s.N, H: s.H, W: s.W, C: cout}
	off := 5
	if s.C%4 == 0 && cout%4 == 0 {
		off = 8 // vec4-aligned, so CPU devices use the register kernel
	}
	in, out := h.tensorAt(s, x, off), h.tensorAt(os, nil, off)
	got := h.run(func(q *gpu.Sequence) error { return conv.Record(q, in, out) }, out)
	layertest.Check(t, "conv3x3", got[0], want, tolGEMM)
}

func uniform(rng interface{ Float64() float64 }, n int, lo, hi float64) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(lo + (hi-lo)*rng.Float64())
	}
	return out
}

// TestConv3x3Tilings runs awkward shapes under several tilings, since the
// tile sizes are specialization constants a device may change.
func TestConv3x3Tilings(t *testing.T) {
	h := newHarness(t)
	rng := layertest.Seed(t)
	fb := layers.ConvConfig{BM: 16, BN: 16, BK: 4, TM: 2, TN: 2}
	for _, cfg := range []layers.ConvConfig{
		{Register: true, TM: 16, TN: 12, WG: 32, Fallback: &fb},
		{Register: true, TM: 3, TN: 4, WG: 1, Fallback: &fb},
		{Register: true, TM: 8, TN: 8, WG: 8, Fallback: &fb},
		{BM: 64, BN: 64, BK: 8, TM: 4, TN: 4},
		{BM: 32, BN: 16, BK: 4, TM: 2, TN: 2},
		{BM: 16, BN: 64, BK: 16, TM: 4, TN: 8},
		{BM: 8, BN: 8, BK: 1, TM: 1, TN: 1},
	} {
		if err := h.kit.SetConvConfig(cfg); err != nil {
			t.Fatal(err)
		}
		t.Run(fmt.Sprintf("%+v", cfg), func(t *testing.T) {
			checkConv(t, h, rng, layers.Shape{N: 2, H: 9, W: 11, C: 7}, 19, true)
			checkConv(t, h, rng, layers.Shape{N: 1, H: 5, W: 3, C: 33}, 65, false)
			checkConv(t, h, rng, layers.Shape{N: 3, H: 7, W: 5, C: 12}, 44, true)
			checkConv(t, h, rng, layers.Shape{N: 1, H: 1, W: 1, C: 4}, 4, false)
		})
	}
}

func TestFC(t *testing.T) {
	h := newHarness(t)
	rng := layertest.Seed(t)
	for _, rows := range []int{1, 3, 9} {
		// Odd sizes, and multiples of 4 that CPU devices run on texel
		// buffers, with 2, 4 and 8 column groups per invocation there
		// (1000, 1028, 2052 and 4100 columns: the last invocations' later
		// groups fall past the end).
		for _, km := range [][2]int{{1, 1}, {3, 1000}, {17, 5}, {130, 64}, {1000, 17}, {4099, 130}, {256, 100}, {4096, 1000}, {260, 1028}, {36, 2052}, {512, 4100}} {
			t.Run(fmt.Sprintf("%dx%dx%d", rows, km[0], km[1]), func(t *testing.T) {
				checkFC(t, h, rng, rows, km[0], km[1])
			})
		}
	}
}

// TestFCKernels runs every fc kernel a kit chooses between (scalar
// storage-buffer loads on GPUs, vec4 texel fetches of one or several
// column groups per invocation) and the timed choice, in both kernel
// families, on one device: batches of 1 (one row per invocation), 3 and
// 9 (two groups of rows), sizes that are and are not multiples of 4,
// widths that give the wide texel kernel 1, 2, 4 and 8 groups, and column
// blocks split by a small binding limit.
func TestFCKernels(t *testing.T) {
	for _, family := range []string{"cpu", "gpu"} {
		t.Run(family, func(t *testing.T) {
			h := newHarnessOptions(t, layers.KernelOptions{Family: family})
			rng := layertest.Seed(t)
			modes := []string{"texel", "texel-wide", ""}
			if family == "gpu" {
				modes = append([]string{"storage"}, modes...)
			}
			for _, mode := range modes {
				name := mode
				if name == "" {
					name = "timed"
				}
				t.Run(name, func(t *testing.T) {
					h.kit.SetFCKernel(mode)
					h.kit.SetWindowLimit(0)
					for _, rows := range []int{1, 3, 9} {
						for _, km := range [][2]int{{3, 1000}, {17, 5}, {260, 68}, {4096, 1000}, {1000, 17}, {36, 2052}, {68, 1028}} {
							t.Run(fmt.Sprintf("%dx%dx%d", rows, km[0], km[1]), func(t *testing.T) {
								checkFC(t, h, rng, rows, km[0], km[1])
							})
						}
					}
					h.kit.SetWindowLimit(4000)
					t.Run("blocks", func(t *testing.T) { checkFC(t, h, rng, 5, 36, 300) })
					h.kit.SetWindowLimit(40000)
					t.Run("wide blocks", func(t *testing.T) { checkFC(t, h, rng, 3, 36, 2500) })
				})
			}
		})
	}
}

// TestFCHeldBytes: an fc layer's partial-sum buffers count in the kit's
// HeldBytes (which a device's memory limit subtracts) until it closes.
func TestFCHeldBytes(t *testing.T) {
	h := newHarness(t)
	rng := layertest.Seed(t)
	before := h.kit.HeldBytes()
	fc, err := h.kit.NewFC(256, 100, uniform(rng, 256*100, -0.1, 0.1), uniform(rng, 100, -0.1, 0.1))
	if err != nil {
		t.Fatal(err)
	}
	in := h.tensorAt(layers.Shape{N: 3, H: 1, W: 1, C: 256}, uniform(rng, 3*256, -1, 1), 8)
	out := h.tensor(layers.Shape{N: 3, H: 1, W: 1, C: 100}, nil)
	h.run(func(q *gpu.Sequence) error { return fc.Record(q, in, out, layers.Tensor{}) }, out)
	if held := h.kit.HeldBytes() - before; held < 3*100*4 {
		t.Errorf("an fc of 3 rows x 100 outputs holds %d bytes of partial sums, want at least %d", held, 3*100*4)
	}
	fc.Close()
	if held := h.kit.HeldBytes(); held != before {
		t.Errorf("after Close the kit holds %d bytes, %d before the layer", held, before)
	}
}

func checkFC(t *testing.T, h *harness, rng interface{ Float64() float64 }, rows, k, m int) {
	t.Helper()
	x := uniform(rng, rows*k, -1, 1)
	scale := math.Sqrt(3.0 / float64(k))
	w := uniform(rng, k*m, -scale, scale)
	b := uniform(rng, m, -0.5, 0.5)
	want, err := layers.FCCPU(x, rows, k, w, b, m, false)
	if err != nil {
		t.Fatal(err)
	}
	fc, err := h.kit.NewFC(k, m, w, b)
	if err != nil {
		t.Fatal(err)
	}
	defer fc.Close()
	os := layers.Shape{N: rows, H: 1, W: 1, C: m}
	off := 5
	if k%4 == 0 {
		off = 8 // aligned, so CPU devices read texel buffers
	}
	in := h.tensorAt(layers.Shape{N: rows, H: 1, W: 1, C: k}, x, off)
	pre, post := h.tensor(os, nil), h.tensor(os, nil)
	got := h.run(func(q *gpu.Sequence) error { return fc.Record(q, in, pre, post) }, pre, post)
	layertest.Check(t, "fc", got[0], want, tolGEMM)
	layertest.Check(t, "fc+relu", got[1], layers.ReLUCPU(want), tolGEMM)
}

// TestSplitting makes the kit pretend a binding holds few elements, so
// batches are split into chunks and fc weights into column blocks whose
// windows start at unaligned elements.
func TestSplitting(t *testing.T) {
	h := newHarness(t)
	rng := layertest.Seed(t)
	h.kit.SetWindowLimit(3000)
	t.Run("conv", func(t *testing.T) { checkConv(t, h, rng, layers.Shape{N: 5, H: 7, W: 9, C: 6}, 5, true) })
	t.Run("fc", func(t *testing.T) { checkFC(t, h, rng, 11, 37, 300) })
	h.kit.SetWindowLimit(40000)
	// Texel blocks of 1088 columns and one of 324 on CPU devices: four
	// column groups per invocation, chosen from the widest block.
	t.Run("fc texel blocks", func(t *testing.T) { checkFC(t, h, rng, 3, 36, 2500) })
	h.kit.SetWindowLimit(3000)
	for _, c := range []layertest.OpCase{
		{Name: "pool", Op: &layers.Pool{Window: layers.Window{KH: 3, KW: 3, SH: 2, SW: 2, Pad: [4]int{1, 1, 1, 1}}}, In: []layers.Shape{{N: 7, H: 9, W: 13, C: 5}}},
		{Name: "conv 7x7/2", Op: convCase(rng, layers.Window{KH: 7, KW: 7, SH: 2, SW: 2, Pad: [4]int{3, 3, 3, 3}}, 5, 9, 7, 4, 8).Op, In: []layers.Shape{{N: 5, H: 9, W: 7, C: 4}}, Tol: tolGEMM},
		{Name: "add", Op: &layers.Add{ReLU: true}, In: []layers.Shape{{N: 3, H: 30, W: 41, C: 7}, {N: 3, H: 30, W: 41, C: 7}}},
		{Name: "softmax maps", Op: &layers.Softmax{Maps: true}, In: []layers.Shape{{N: 2, H: 30, W: 41, C: 7}}, Tol: tolSoftmax},
	} {
		t.Run(c.Name, func(t *testing.T) { layertest.CheckOp(t, h.kit, rng, c) })
	}
}

// TestFCLargerThanBinding uses weights over the device's
// maxStorageBufferRange, as fc6 of VGG16 is on lavapipe (411 MB > 128 MiB).
func TestFCLargerThanBinding(t *testing.T) {
	if testing.Short() {
		t.Skip("uploads a weight matrix larger than the binding range")
	}
	h := newHarness(t)
	rng := layertest.Seed(t)
	lim := h.dev.Info().MaxStorageBufferRange
	if lim > 1<<29 {
		t.Skipf("maxStorageBufferRange %d: a larger matrix would be too big for a test", lim)
	}
	k := 25088
	m := int(lim/4/uint64(k)) + 97 // just over one binding
	checkFC(t, h, rng, 2, k, m)
	checkFC(t, h, rng, 3, k, m/4*4) // multiples of 4: texel buffers on CPU devices
}

func TestSoftmax(t *testing.T) {
	h := newHarness(t)
	rng := layertest.Seed(t)
	for _, rows := range []int{1, 3} {
		for _, m := range []int{1, 5, 1000, 1001, 4099} {
			t.Run(fmt.Sprintf("%dx%d", rows, m), func(t *testing.T) {
				// Large logits: a softmax without the max shift overflows.
				x := layertest.Uniform(rng, rows*m, -500, 500)
				want, err := layers.SoftmaxCPU(x, rows, m)
				if err != nil {
					t.Fatal(err)
				}
				s := layers.Shape{N: rows, H: 1, W: 1, C: m}
				in, out := h.tensor(s, x), h.tensor(s, nil)
				got := h.run(func(q *gpu.Sequence) error { return h.kit.Softmax(q, in, out) }, out)
				layertest.Check(t, "softmax", got[0], want, tolSoftmax)
			})
		}
	}
}

func TestBadArguments(t *testing.T) {
	h := newHarness(t)
	s := layers.Shape{N: 1, H: 4, W: 4, C: 3}
	good := h.tensor(s, make([]float32, s.Len()))
	small := layers.Tensor{Buf: good.Buf, Off: 0, Shape: layers.Shape{N: 1, H: 40, W: 40, C: 3}}
	zero := layers.Tensor{Buf: good.Buf, Shape: layers.Shape{N: 0, H: 4, W: 4, C: 3}}
	conv, err := h.kit.NewConv3x3(3, 4, make([]float32, 9*3*4), make([]float32, 4), true)
	if err != nil {
		t.Fatal(err)
	}
	defer conv.Close()
	fc, err := h.kit.NewFC(48, 2, make([]float32, 96), make([]float32, 2))
	if err != nil {
		t.Fatal(err)
	}
	defer fc.Close()
	seq, err := h.dev.NewSequence(gpu.SequenceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer seq.Close()
	out4 := h.tensor(layers.Shape{N: 1, H: 4, W: 4, C: 4}, nil)
	aff := layers.Affine{Perm: [3]int{2, 1, 0}}
	pool := &layers.Pool{Window: layers.Window{KH: 3, KW: 3, SH: 2, SW: 2}}
	poolK, _ := (&layers.Pool{Window: layers.Window{KH: 2, KW: 2, SH: 2, SW: 2, Same: true}}).Upload(h.kit)
	for _, c := range []struct {
		name string
		err  error
		want string
	}{
		{"preprocess buffer too small", h.kit.Preprocess(seq, small, good, aff), "does not fit"},
		{"preprocess zero batch", h.kit.Preprocess(seq, zero, good, aff), "below 1"},
		{"preprocess shape mismatch", h.kit.Preprocess(seq, good, h.tensor(layers.Shape{N: 1, H: 4, W: 5, C: 3}, nil), aff), "must be equal"},
		{"preprocess five channels", h.kit.Preprocess(seq, good, h.tensor(layers.Shape{N: 1, H: 4, W: 4, C: 5}, nil), aff), "must be equal"},
		{"pool wrong output", poolK.Record(seq, []layers.Tensor{good}, good), "want [1,2,2,3]"},
		{"pool window larger than input", errOf(pool.OutShape([]layers.Shape{{N: 1, H: 1, W: 1, C: 3}})), "smaller than the window"},
		{"add shapes", errOf((&layers.Add{}).OutShape([]layers.Shape{s, {N: 1, H: 4, W: 4, C: 4}})), "differ"},
		{"conv op channels", errOf((&layers.Conv{Window: layers.Window{KH: 1, KW: 1, SH: 1, SW: 1}, Cin: 5, Cout: 2}).OutShape([]layers.Shape{s})), "takes 5"},
		{"conv wrong channels", conv.Record(seq, out4, out4), "has 4 channels"},
		{"conv wrong output", conv.Record(seq, good, good), "want [1,4,4,4]"},
		{"fc wrong K", fc.Record(seq, out4, layers.Tensor{}, out4), "takes 48"},
		{"fc no output", fc.Record(seq, good, layers.Tensor{}, layers.Tensor{}), "no output"},
		{"softmax mismatch", h.kit.Softmax(seq, good, out4), "differ"},
		{"conv zero channels", errOf(h.kit.NewConv3x3(0, 4, nil, nil, true)), "must be positive"},
		{"conv short weights", errOf(h.kit.NewConv3x3(3, 4, make([]float32, 10), make([]float32, 4), true)), "weights has 10 elements"},
		{"fc short bias", errOf(h.kit.NewFC(2, 3, make([]float32, 6), make([]float32, 2))), "bias has 2 elements"},
		{"cpu conv negative", errOf(layers.ConvCPU(context.Background(), nil, layers.Shape{1, -1, 2, 3}, layers.Window{KH: 3, KW: 3, SH: 1, SW: 1, Same: true}, nil, nil, 2, true)), "below 1"},
		{"cpu fc mismatch", errOf(layers.FCCPU(make([]float32, 3), 1, 4, nil, nil, 1, true)), "input has 3 elements"},
	} {
		if c.err == nil || !strings.Contains(c.err.Error(), c.want) {
			t.Errorf("%s: got error %v, want one containing %q", c.name, c.err, c.want)
		}
	}
}

func errOf[T any](_ T, err error) error { return err }
