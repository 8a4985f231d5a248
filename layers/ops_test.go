package layers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vkvgg/vkvgg/gpu"
	"github.com/vkvgg/vkvgg/internal/testdev"
	"github.com/vkvgg/vkvgg/layers"
	"github.com/vkvgg/vkvgg/layers/layertest"
)

// convCase makes a conv op with random weights scaled so that each
// output sums O(1) products (see tolGEMM).
func convCase(rng interface{ Float64() float64 }, win layers.Window, n, h, w, cin, cout int) layertest.OpCase {
	k := win.KH * win.KW * cin
	scale := 1 / math.Sqrt(float64(k))
	op := &layers.Conv{Window: win, Cin: cin, Cout: cout, W: uniform(rng, k*cout, -scale, scale), B: uniform(rng, cout, -0.5, 0.5)}
	return layertest.OpCase{
		Name: fmt.Sprintf("conv %v %dx%dx%dx%d->%d", win, n, h, w, cin, cout),
		Op:   op, In: []layers.Shape{{N: n, H: h, W: w, C: cin}}, Tol: tolGEMM,
	}
}

// opTable is the conformance table: every op over awkward shapes (odd
// sizes, channel counts that are not multiples of 4, batch 1 and 3).
func opTable(rng interface{ Float64() float64 }) []layertest.OpCase {
	var cases []layertest.OpCase
	pad := func(p int) [4]int { return [4]int{p, p, p, p} }
	wins := []layers.Window{
		{KH: 3, KW: 3, SH: 1, SW: 1, Pad: pad(1)},             // the fast 3x3 kernels
		{KH: 3, KW: 3, SH: 1, SW: 1, Same: true},              // the same, as TensorFlow says it
		{KH: 11, KW: 11, SH: 4, SW: 4, Pad: pad(2)},           // AlexNet conv1
		{KH: 7, KW: 7, SH: 2, SW: 2, Pad: pad(3)},             // ResNet conv1
		{KH: 1, KW: 1, SH: 1, SW: 1},                          // bottleneck 1x1
		{KH: 1, KW: 1, SH: 2, SW: 2},                          // downsample 1x1/2
		{KH: 3, KW: 3, SH: 2, SW: 2, Pad: pad(1)},             // ResNet 3x3/2
		{KH: 5, KW: 3, SH: 1, SW: 2, Pad: [4]int{2, 0, 1, 1}}, // asymmetric everything
		{KH: 3, KW: 3, SH: 2, SW: 2, Same: true},              // TensorFlow SAME, stride 2
		{KH: 7, KW: 7, SH: 1, SW: 1},                          // fully convolutional fc6
	}
	shapes := [][5]int{ // n, h, w, cin, cout
		{1, 13, 11, 3, 5},
		{3, 9, 16, 17, 12},
		{1, 23, 19, 5, 130},
		{3, 15, 7, 8, 8},
	}
	for _, w := range wins {
		for _, s := range shapes {
			if s[1]+w.Pad[0]+w.Pad[2] < w.KH || s[2]+w.Pad[1]+w.Pad[3] < w.KW {
				continue
			}
			cases = append(cases, convCase(rng, w, s[0], s[1], s[2], s[3], s[4]))
		}
	}
	pools := []layers.Pool{
		{Window: layers.Window{KH: 2, KW: 2, SH: 2, SW: 2, Same: true}},             // tensorflow-vgg
		{Window: layers.Window{KH: 3, KW: 3, SH: 2, SW: 2}},                         // AlexNet
		{Window: layers.Window{KH: 3, KW: 3, SH: 2, SW: 2, Pad: pad(1)}},            // ResNet
		{Window: layers.Window{KH: 2, KW: 2, SH: 2, SW: 2, Ceil: true}},             // ceil_mode
		{Window: layers.Window{KH: 3, KW: 2, SH: 2, SW: 1, Same: true}, Avg: true},  // SAME average
		{Window: layers.Window{KH: 3, KW: 3, SH: 2, SW: 2, Pad: pad(1)}, Avg: true}, // average excluding padding
		{Window: layers.Window{KH: 3, KW: 3, SH: 2, SW: 2, Pad: pad(1)}, Avg: true, CountPad: true},
		{Adaptive: true, OH: 7, OW: 7, Avg: true},             // torchvision VGG
		{Adaptive: true, OH: 6, OW: 6, Avg: true},             // AlexNet
		{Adaptive: true, OH: 3, OW: 2},                        // adaptive max
		{Adaptive: true, OH: 1, OW: 1, Avg: true, Flat: true}, // global average
		{Adaptive: true, OH: 1, OW: 1, Flat: true},            // global max
	}
	for _, p := range pools {
		for _, s := range [][4]int{{1, 13, 11, 3}, {3, 8, 5, 17}, {1, 1, 1, 5}, {3, 16, 17, 6}, {2, 9, 11, 12}} {
			if !p.Adaptive && !p.Same && (s[1]+2*p.Pad[0] < p.KH || s[2]+2*p.Pad[1] < p.KW) {
				continue
			}
			p := p
			cases = append(cases, layertest.OpCase{Name: fmt.Sprintf("%s %v", p.Kind(), s), Op: &p,
				In: []layers.Shape{{N: s[0], H: s[1], W: s[2], C: s[3]}}, Tol: tolPool})
		}
	}
	// Bilinear resizing: up (FCN's x32), down, odd factors, to 1x1.
	for _, r := range [][2][4]int{{{2, 3, 4, 5}, {2, 96, 128, 3}}, {{1, 13, 7, 17}, {1, 5, 9, 3}}, {{3, 5, 5, 2}, {3, 1, 1, 3}}, {{1, 1, 1, 4}, {1, 6, 5, 3}}} {
		a, b := r[0], r[1]
		cases = append(cases, layertest.OpCase{Name: fmt.Sprintf("resize %v to %v", a, b), Op: layers.Resize{},
			In: []layers.Shape{{N: a[0], H: a[1], W: a[2], C: a[3]}, {N: b[0], H: b[1], W: b[2], C: b[3]}}, Tol: layertest.Tol{Atol: 1e-6, Rtol: 1e-5}})
	}
	// Global pooling of larger maps: several channel blocks and pixel
	// groups of the reduction kernel.
	for _, avg := range []bool{true, false} {
		cases = append(cases, layertest.OpCase{Name: fmt.Sprintf("global pool avg=%v", avg), Op: &layers.Pool{Avg: avg, Adaptive: true, OH: 1, OW: 1, Flat: true},
			In: []layers.Shape{{N: 3, H: 29, W: 41, C: 70}}, Tol: layertest.Tol{Atol: 1e-6, Rtol: 1e-5}})
	}
	for _, s := range []layers.Shape{{N: 1, H: 7, W: 5, C: 3}, {N: 3, H: 4, W: 9, C: 17}} {
		cases = append(cases,
			layertest.OpCase{Name: fmt.Sprintf("add %v", s), Op: &layers.Add{}, In: []layers.Shape{s, s}, Tol: layertest.Exact},
			layertest.OpCase{Name: fmt.Sprintf("relu %v", s), Op: layers.ReLU{}, In: []layers.Shape{s}, Tol: layertest.Exact},
			layertest.OpCase{Name: fmt.Sprintf("vgg preprocess %v", s), Op: layers.VGGInput(), In: []layers.Shape{{N: s.N, H: s.H, W: s.W, C: 3}}, Tol: tolPreprocess, Lo: 0, Hi: 1},
			layertest.OpCase{Name: fmt.Sprintf("torch preprocess %v", s), Op: layers.TorchInput(), In: []layers.Shape{{N: s.N, H: s.H, W: s.W, C: 3}}, Tol: tolPreprocess, Lo: 0, Hi: 1},
			layertest.OpCase{Name: fmt.Sprintf("softmax %v", s), Op: &layers.Softmax{}, In: []layers.Shape{s}, Tol: tolSoftmax, Lo: -5, Hi: 5},
			layertest.OpCase{Name: fmt.Sprintf("softmax maps %v", s), Op: &layers.Softmax{Maps: true}, In: []layers.Shape{s}, Tol: tolSoftmax, Lo: -5, Hi: 5},
		)
	}
	// Odd sizes, and multiples of 4 that texel kernels read.
	for _, s := range [][3]int{{1, 7, 5}, {3, 130, 17}, {2, 3 * 5 * 7, 9}, {1, 260, 68}, {3, 512, 36}} { // rows, k, m
		k, m := s[1], s[2]
		scale := 1 / math.Sqrt(float64(k))
		op := &layers.FC{In: k, Out: m, W: uniform(rng, k*m, -scale, scale), B: uniform(rng, m, -0.5, 0.5)}
		in := layers.Shape{N: s[0], H: 1, W: 1, C: k}
		if k == 105 {
			in = layers.Shape{N: s[0], H: 3, W: 5, C: 7} // a map, flattened in H,W,C order
		}
		cases = append(cases, layertest.OpCase{Name: fmt.Sprintf("fc %v->%d", in, m), Op: op, In: []layers.Shape{in}, Tol: tolGEMM})
	}
	return cases
}

// tolPool: max pooling moves values; an average divides a float32 sum of
// at most a few dozen values.
var tolPool = layertest.Tol{Atol: 1e-6, Rtol: 1e-6}

// TestOps runs the conformance table with both kernel families: the ones
// a GPU gets (shared memory, storage buffers) and the ones a CPU device
// gets (register tiles, texel buffers).
func TestOps(t *testing.T) {
	for _, family := range []string{"gpu", "cpu"} {
		t.Run(family, func(t *testing.T) {
			_, kit, rng := familyKit(t, family)
			for _, c := range opTable(rng) {
				layertest.CheckOp(t, kit, rng, c)
			}
			if family == "gpu" {
				checkForcedTiles(t, kit, rng)
			} else {
				checkForcedIm2col(t, kit, rng)
			}
		})
	}
}

// checkForcedIm2col runs the table's general convolutions both ways a
// CPU-family kit chooses between: direct, and as im2col rows and a 1x1
// convolution (every window larger than 1x1 whose channels allow).
// Both without the kernels that share rows through subgroup shuffles and
// with them, where the device has them.
func checkForcedIm2col(t *testing.T, kit *layers.Kit, rng *rand.Rand) {
	for _, sub := range []bool{false, true} {
		kit.SetSubgroups(sub)
		before := kit.KernelNames()
		for _, mode := range []string{"direct", "im2col"} {
			kit.SetIm2col(mode)
			for _, c := range opTable(rng) {
				if _, ok := c.Op.(*layers.Conv); ok {
					c.Name += fmt.Sprintf(" %s subgroups=%v", mode, sub)
					layertest.CheckOp(t, kit, rng, c)
				}
			}
		}
		checkSubgroupKernels(t, kit, sub, before)
	}
	kit.SetIm2col("")
}

// checkSubgroupKernels checks that a CPU-family kit built no kernel that
// shares rows through subgroup shuffles (an _sg variant) since before
// while they were off, and that it has some while they are on and the
// device has them.
func checkSubgroupKernels(t *testing.T, kit *layers.Kit, on bool, before []string) {
	t.Helper()
	var sg []string
	for _, name := range kit.KernelNames() {
		if strings.Contains(name, "_sg") && (on || !slices.Contains(before, name)) {
			sg = append(sg, name)
		}
	}
	if !on && len(sg) > 0 {
		t.Errorf("subgroups off, yet built %v", sg)
	}
	if on && kit.Device().Info().SubgroupShuffle && len(sg) == 0 {
		t.Errorf("subgroups on: no _sg kernel among %v", kit.KernelNames())
	}
}

// checkForcedTiles runs the table's convolutions with each tiling a GPU
// kit chooses between, not only the one timing picks.
func checkForcedTiles(t *testing.T, kit *layers.Kit, rng *rand.Rand) {
	for _, tiles := range []string{"small", "large"} {
		kit.SetConvTiles(tiles)
		for _, c := range opTable(rng) {
			if _, ok := c.Op.(*layers.Conv); ok {
				c.Name += " " + tiles + " tiles"
				layertest.CheckOp(t, kit, rng, c)
			}
		}
	}
	kit.SetConvTiles("")
}

// TestWindowShapes checks output sizes against PyTorch's and
// TensorFlow's formulas on known cases.
func TestWindowShapes(t *testing.T) {
	for _, c := range []struct {
		win          layers.Window
		h, w, oh, ow int
	}{
		{layers.Window{KH: 11, KW: 11, SH: 4, SW: 4, Pad: [4]int{2, 2, 2, 2}}, 224, 224, 55, 55},
		{layers.Window{KH: 3, KW: 3, SH: 2, SW: 2}, 55, 55, 27, 27},
		{layers.Window{KH: 7, KW: 7, SH: 2, SW: 2, Pad: [4]int{3, 3, 3, 3}}, 224, 224, 112, 112},
		{layers.Window{KH: 3, KW: 3, SH: 2, SW: 2, Pad: [4]int{1, 1, 1, 1}}, 112, 112, 56, 56},
		{layers.Window{KH: 2, KW: 2, SH: 2, SW: 2, Same: true}, 7, 5, 4, 3},
		{layers.Window{KH: 2, KW: 2, SH: 2, SW: 2, Ceil: true}, 7, 5, 4, 3},
		{layers.Window{KH: 2, KW: 2, SH: 2, SW: 2}, 7, 5, 3, 2},
		{layers.Window{KH: 3, KW: 3, SH: 2, SW: 2, Pad: [4]int{1, 1, 1, 1}, Ceil: true}, 6, 6, 4, 4},
	} {
		oh, ow, _, err := c.win.Out(c.h, c.w)
		if err != nil || oh != c.oh || ow != c.ow {
			t.Errorf("%v on %dx%d: got %dx%d (%v), want %dx%d", c.win, c.h, c.w, oh, ow, err, c.oh, c.ow)
		}
	}
	if _, _, _, err := (layers.Window{KH: 11, KW: 11, SH: 4, SW: 4}).Out(10, 30); err == nil {
		t.Error("an 11x11 window on a 10-row input: no error")
	}
}

// TestFoldBatchNorm compares a folded convolution with the convolution
// followed by the batch normalisation, both on the CPU.
func TestFoldBatchNorm(t *testing.T) {
	rng := layertest.Seed(t)
	c := convCase(rng, layers.Window{KH: 3, KW: 3, SH: 2, SW: 2, Pad: [4]int{1, 1, 1, 1}}, 2, 9, 7, 5, 6)
	conv := c.Op.(*layers.Conv)
	gamma, beta := uniform(rng, 6, 0.5, 1.5), uniform(rng, 6, -0.5, 0.5)
	mean, variance := uniform(rng, 6, -0.3, 0.3), uniform(rng, 6, 0.5, 2)
	in := []layers.HostTensor{{Data: uniform(rng, c.In[0].Len(), -1, 1), Shape: c.In[0]}}
	ctx := context.Background()
	raw, err := conv.CPU(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]float32, len(raw))
	for i, v := range raw {
		o := i % 6
		want[i] = float32((float64(v)-float64(mean[o]))/math.Sqrt(float64(variance[o])+1e-5)*float64(gamma[o]) + float64(beta[o]))
	}
	folded := *conv
	folded.W = append([]float32(nil), conv.W...)
	folded.B = append([]float32(nil), conv.B...)
	if err := folded.FoldBatchNorm(gamma, beta, mean, variance, 1e-5); err != nil {
		t.Fatal(err)
	}
	got, err := folded.CPU(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	layertest.Check(t, "folded batch norm", got, want, layertest.Tol{Atol: 1e-5, Rtol: 1e-5})
}

// TestPermuteCHW: an fc layer on a map flattened C,H,W (PyTorch) equals
// the permuted layer on the same map flattened H,W,C (ours).
func TestPermuteCHW(t *testing.T) {
	rng := layertest.Seed(t)
	c, h, w, out := 5, 3, 2, 4
	x := uniform(rng, h*w*c, -1, 1) // NHWC
	wt := uniform(rng, c*h*w*out, -1, 1)
	chw := make([]float32, len(x))
	for y := 0; y < h; y++ {
		for xx := 0; xx < w; xx++ {
			for ci := 0; ci < c; ci++ {
				chw[(ci*h+y)*w+xx] = x[(y*w+xx)*c+ci]
			}
		}
	}
	b := make([]float32, out)
	want, _ := layers.FCCPU(chw, 1, c*h*w, wt, b, out, false)
	pw, err := layers.PermuteCHW(wt, c, h, w, out)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := layers.FCCPU(x, 1, c*h*w, pw, b, out, false)
	layertest.Check(t, "permuted fc", got, want, layertest.Tol{Atol: 1e-5, Rtol: 1e-5})
}

// TestCPUCancel: a long CPU layer returns the context's error.
func TestCPUCancel(t *testing.T) {
	rng := layertest.Seed(t)
	c := convCase(rng, layers.Window{KH: 3, KW: 3, SH: 1, SW: 1, Same: true}, 1, 64, 64, 64, 64)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := c.Op.CPU(ctx, []layers.HostTensor{{Data: make([]float32, c.In[0].Len()), Shape: c.In[0]}})
	if err != context.Canceled {
		t.Errorf("got %v, want context.Canceled", err)
	}
}

func TestOpTableSize(t *testing.T) {
	t.Logf("%d cases", len(opTable(layertest.Seed(t))))
}

// TestWinograd runs the 3x3 stride-1 convolutions through Winograd
// F(2x2,3x3) and F(4x4,3x3) with both kernel families and each of their
// GEMM kernels (GPUs: register, tiled, tiled-small; CPU devices: with and
// without subgroup shuffles, 2 to 8 invocations sharing the tiles' rows):
// channels that are
// multiples of 4, odd sizes, 1x1 and 1x2 images, batches, padding as
// numbers and as SAME, once with scratch buffers so small that the tiles
// go through them in many chunks, and the direct kernels for comparison
// (off; the CPU family's shares rows as the Winograd GEMM does). The
// channel counts give the CPU
// family's F(4x4,3x3) transforms 1, 2 and 4 channel groups per
// invocation. The auto mode is checked to decide once per shape.
func TestWinograd(t *testing.T) {
	pad := [4]int{1, 1, 1, 1}
	for _, family := range []string{"gpu register", "gpu tiled", "gpu tiled-small", "cpu", "cpu no-subgroups"} {
		for _, c := range []struct {
			algo    string
			scratch int
		}{{"f2", 0}, {"f4", 0}, {"f2", 16 * 20 * 7}, {"f4", 36 * 64 * 3}, {"off", 0}} {
			t.Run(fmt.Sprintf("%s %s scratch %d", family, c.algo, c.scratch), func(t *testing.T) {
				fam, variant, _ := strings.Cut(family, " ")
				_, kit, rng := familyKitOptions(t, layers.KernelOptions{Family: fam, Winograd: c.algo})
				kit.SetWinogradScratch(c.scratch)
				if variant == "no-subgroups" {
					kit.SetSubgroups(false)
				} else {
					kit.SetWinogradGEMM(variant)
				}
				before := kit.KernelNames()
				if fam == "cpu" {
					defer func() { checkSubgroupKernels(t, kit, variant == "", before) }()
				}
				for _, s := range [][5]int{{2, 17, 13, 12, 20}, {1, 1, 1, 4, 4}, {3, 2, 1, 8, 4}, {1, 31, 33, 64, 36}, {3, 15, 7, 8, 8}, {1, 6, 10, 16, 8}} {
					for _, win := range []layers.Window{{KH: 3, KW: 3, SH: 1, SW: 1, Pad: pad}, {KH: 3, KW: 3, SH: 1, SW: 1, Same: true}} {
						layertest.CheckOp(t, kit, rng, convCase(rng, win, s[0], s[1], s[2], s[3], s[4]))
					}
				}
			})
		}
	}
	t.Run("auto", func(t *testing.T) {
		dev := testdev.Open(t)
		kit := layers.NewKit(dev)
		defer kit.Close()
		rng := layertest.Seed(t)
		c := convCase(rng, layers.Window{KH: 3, KW: 3, SH: 1, SW: 1, Pad: pad}, 1, 20, 18, 16, 32)
		layertest.CheckOp(t, kit, rng, c)
		if got := kit.Tuning(); len(got) != 1 {
			t.Errorf("tuning after one layer and shape: %v", got)
		}
		// The layer is closed: what the kit still holds is its two
		// scratch buffers at most, and nothing once it is closed.
		if held := kit.HeldBytes(); held < 0 || held > 2*4*int64(layers.WinogradScratchFor(dev.Info())) {
			t.Errorf("the kit holds %d bytes after its layer closed", held)
		}
		kit.Close()
		if held := kit.HeldBytes(); held != 0 {
			t.Errorf("a closed kit holds %d bytes", held)
		}
	})
}

// TestConvPoolFused: a 3x3 convolution with a 2x2/2 max pooling fused in
// (RecordPooled) equals the convolution then the pooling on the CPU, for
// Winograd F(2x2,3x3), F(4x4,3x3) and the direct fallback, both kernel
// families, SAME and unpadded poolings on odd and even sizes, batches,
// with and without the ReLU; paddings that do not start at 0 are not
// fused.
func TestConvPoolFused(t *testing.T) {
	ctx := context.Background()
	for _, family := range []string{"gpu", "cpu"} {
		for _, mode := range []string{"f2", "f4", "direct", "auto"} {
			t.Run(family+" "+mode, func(t *testing.T) {
				dev, kit, rng := familyKit(t, family)
				kit.SetWinogradMode(mode)
				for _, s := range [][5]int{{2, 9, 7, 8, 12}, {1, 16, 14, 12, 8}, {3, 5, 6, 4, 4}, {1, 1, 1, 4, 8}, {2, 11, 13, 16, 32}} {
					for _, pool := range []*layers.Pool{
						{Window: layers.Window{KH: 2, KW: 2, SH: 2, SW: 2, Same: true}},
						{Window: layers.Window{KH: 2, KW: 2, SH: 2, SW: 2}},
					} {
						if _, err := pool.OutShape([]layers.Shape{{N: s[0], H: s[1], W: s[2], C: s[4]}}); err != nil {
							continue // a 1x1 map has no unpadded 2x2 window
						}
						for _, relu := range []bool{false, true} {
							c := convCase(rng, layers.Window{KH: 3, KW: 3, SH: 1, SW: 1, Same: true}, s[0], s[1], s[2], s[3], s[4])
							conv := c.Op.(*layers.Conv)
							conv.ReLU = relu
							x := layers.HostTensor{Data: layertest.Uniform(rng, c.In[0].Len(), -1, 1), Shape: c.In[0]}
							y, err := conv.CPU(ctx, []layers.HostTensor{x})
							if err != nil {
								t.Fatal(err)
							}
							ys, _ := conv.OutShape(c.In)
							want, err := pool.CPU(ctx, []layers.HostTensor{{Data: y, Shape: ys}})
							if err != nil {
								t.Fatal(err)
							}
							ps, _ := pool.OutShape([]layers.Shape{ys})
							k, pk := fusingKernel(t, kit, c, pool)
							in := tensorAt(t, dev, x.Data, x.Shape, 0)
							out := tensorAt(t, dev, layertest.NaNs(ps.Len()), ps, 0)
							got := submitted(t, dev, out, func(seq *gpu.Sequence) error {
								return pk.RecordPooled(seq, []layers.Tensor{in}, out, false, pool)
							})
							layertest.Check(t, fmt.Sprintf("%s relu=%v + %s", c.Name, relu, pool.Kind()), got, want, tolGEMM)
							k.Close()
						}
					}
				}
				conv := convCase(rng, layers.Window{KH: 3, KW: 3, SH: 1, SW: 1, Same: true}, 1, 8, 8, 4, 4).Op
				k, _ := conv.Upload(kit)
				defer k.Close()
				for _, p := range []*layers.Pool{
					{Window: layers.Window{KH: 2, KW: 2, SH: 2, SW: 2, Pad: [4]int{1, 1, 1, 1}}},
					{Window: layers.Window{KH: 3, KW: 3, SH: 2, SW: 2}},
					{Window: layers.Window{KH: 2, KW: 2, SH: 2, SW: 2, Same: true}, Avg: true},
				} {
					if k.(layers.PoolKernel).FusesPool(p, []layers.Shape{{N: 1, H: 8, W: 8, C: 4}}) {
						t.Errorf("%s %+v fused", p.Kind(), p.Window)
					}
				}
			})
		}
	}
}

// fusingKernel uploads case c's convolution to kit and returns its
// kernel, which must fuse pool.
func fusingKernel(t *testing.T, kit *layers.Kit, c layertest.OpCase, pool *layers.Pool) (layers.Kernel, layers.PoolKernel) {
	t.Helper()
	k, err := c.Op.Upload(kit)
	if err != nil {
		t.Fatal(err)
	}
	pk := k.(layers.PoolKernel)
	if !pk.FusesPool(pool, c.In) {
		k.Close()
		t.Fatalf("%s: %s not fused", c.Name, pool.Kind())
	}
	return k, pk
}

// familyKit opens the test device with the kernel family given
// ("gpu" or "cpu", as KernelOptions.Family), a kit on it closed at the
// test's end, and the test's random source.
func familyKit(t *testing.T, family string) (*gpu.Device, *layers.Kit, *rand.Rand) {
	t.Helper()
	return familyKitOptions(t, layers.KernelOptions{Family: family})
}

// familyKitOptions is familyKit with a kit of the options o.
func familyKitOptions(t *testing.T, o layers.KernelOptions) (*gpu.Device, *layers.Kit, *rand.Rand) {
	t.Helper()
	dev := testdev.Open(t)
	kit, err := layers.NewKitOptions(dev, layers.FP32, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kit.Close() })
	return dev, kit, layertest.Seed(t)
}

// submitted records into a new sequence, submits it and returns out's
// values.
func submitted(t *testing.T, dev *gpu.Device, out layers.Tensor, record func(*gpu.Sequence) error) []float32 {
	t.Helper()
	return kitRecorded(t, dev, nil, out, record)
}

// kitRecorded is submitted for out in the precision of kit (nil: fp32).
func kitRecorded(t *testing.T, dev *gpu.Device, kit *layers.Kit, out layers.Tensor, record func(*gpu.Sequence) error) []float32 {
	t.Helper()
	seq, err := dev.NewSequence(gpu.SequenceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer seq.Close()
	if err := record(seq); err != nil {
		t.Fatal(err)
	}
	if err := seq.Submit(); err != nil {
		t.Fatal(err)
	}
	got := make([]float32, out.Shape.Len())
	read := out.Buf.Download
	if kit != nil {
		read = func(off int, dst []float32) error { return kit.Read(out.Buf, off, dst) }
	}
	if err := read(out.Off, got); err != nil {
		t.Fatal(err)
	}
	return got
}

// cachedKits returns a function that opens a device keeping its pipeline
// cache and tuning in dir, and an fp32 kit on it.
func cachedKits(t *testing.T, dir string, o layers.KernelOptions) func() (*gpu.Device, *layers.Kit) {
	return func() (*gpu.Device, *layers.Kit) {
		t.Helper()
		dev, err := gpu.Open(gpu.Options{Device: testdev.DeviceName(), PipelineCache: dir})
		if err != nil {
			t.Fatal(err)
		}
		kit, err := layers.NewKitOptions(dev, layers.FP32, o)
		if err != nil {
			dev.Close()
			t.Fatal(err)
		}
		return dev, kit
	}
}

// reluCandidate is the tuner tests' work: a kit of the options o, a ReLU
// kernel on it (closed at the test's end) and its 1x128x128x64 input and
// output.
func reluCandidate(t *testing.T, o layers.KernelOptions) (*gpu.Device, *layers.Kit, layers.Kernel, layers.Tensor, layers.Tensor) {
	t.Helper()
	dev, kit, rng := familyKitOptions(t, o)
	s := layers.Shape{N: 1, H: 128, W: 128, C: 64}
	x := tensorAt(t, dev, layertest.Uniform(rng, s.Len(), -1, 1), s, 0)
	y := tensorAt(t, dev, make([]float32, s.Len()), s, 0)
	relu, err := layers.ReLU{}.Upload(kit)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { relu.Close() })
	return dev, kit, relu, x, y
}

// TestTimeCandidates: the tuner records each candidate once and times the
// one that does far more work (40 ReLUs against 1) as slower, whichever
// comes first: one untimed run of each, then a first round of both, after
// which the slow one usually sits out the other two rounds (6
// submissions; 8 where noise hid the gap). Which candidates sit out is
// TestContenders'.
func TestTimeCandidates(t *testing.T) {
	dev, kit, relu, x, y := reluCandidate(t, layers.KernelOptions{Family: "cpu"})
	for _, reps := range [][2]int{{1, 40}, {40, 1}} {
		var recorded []int
		subs := dev.Submissions()
		times, err := kit.TimeCandidates(2, func(seq *gpu.Sequence, i int) error {
			recorded = append(recorded, i)
			for range reps[i] {
				if err := relu.Record(seq, []layers.Tensor{x}, y); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(recorded, []int{0, 1}) {
			t.Errorf("%v ReLUs: recorded %v, want each candidate once, in order", reps, recorded)
		}
		if n := dev.Submissions() - subs; n != 6 && n != 8 {
			t.Errorf("%v ReLUs: %d submissions, want 2 untimed, 2 in the first round and 2 or 4 after", reps, n)
		}
		heavy := 0
		if reps[1] > reps[0] {
			heavy = 1
		}
		if times[heavy] <= times[1-heavy] {
			t.Errorf("%v ReLUs timed %v", reps, times)
		}
	}
}

// TestTuneRounds: a kit with TuneRounds times each candidate that many
// rounds: two equal candidates take 2 untimed and 2x6 timed submissions
// with 6 rounds (9 if noise made one sit out after the first; the
// default 3 rounds would make 8 or 6).
func TestTuneRounds(t *testing.T) {
	dev, kit, relu, x, y := reluCandidate(t, layers.KernelOptions{Family: "cpu", TuneRounds: 6})
	subs := dev.Submissions()
	if _, err := kit.TimeCandidates(2, func(seq *gpu.Sequence, i int) error {
		return relu.Record(seq, []layers.Tensor{x}, y)
	}); err != nil {
		t.Fatal(err)
	}
	if n := dev.Submissions() - subs; n != 14 && n != 9 {
		t.Errorf("%d submissions, want 2 untimed and 12 timed (or 7)", n)
	}
}

// TestContenders: after the tuner's first round, the candidates within 4x
// of the fastest stay, in order.
func TestContenders(t *testing.T) {
	ms := time.Millisecond
	for _, c := range []struct {
		times []time.Duration
		want  []int
	}{
		{[]time.Duration{10 * ms, 12 * ms, 35 * ms}, []int{0, 1, 2}},
		{[]time.Duration{10 * ms, 41 * ms, 40 * ms}, []int{0, 2}},
		{[]time.Duration{90 * ms, 20 * ms, 5 * ms}, []int{1, 2}},
		{[]time.Duration{7 * ms}, []int{0}},
	} {
		if got := layers.Contenders(c.times); !slices.Equal(got, c.want) {
			t.Errorf("Contenders(%v) = %v, want %v", c.times, got, c.want)
		}
	}
}

// TestTuningSavedGPUChoices: the choices the GPU kernel family times (the
// fc kernel, the tiles of a general convolution) are saved and a new kit
// starts from them.
func TestTuningSavedGPUChoices(t *testing.T) {
	testdev.Open(t) // skips or fails as the GPU tests do
	open := cachedKits(t, filepath.Join(t.TempDir(), "cache"), layers.KernelOptions{Family: "gpu"})
	dev, kit := open()
	rng := layertest.Seed(t)
	fc := &layers.FC{In: 64, Out: 12, W: uniform(rng, 64*12, -0.2, 0.2), B: uniform(rng, 12, -0.5, 0.5)}
	layertest.CheckOp(t, kit, rng, layertest.OpCase{Name: "fc", Op: fc, In: []layers.Shape{{N: 2, H: 1, W: 1, C: 64}}, Tol: tolGEMM})
	layertest.CheckOp(t, kit, rng, convCase(rng, layers.Window{KH: 1, KW: 1, SH: 1, SW: 1}, 1, 5, 7, 8, 20))
	tuned := kit.Tuning()
	kit.Close()
	if err := dev.Close(); err != nil {
		t.Fatal(err)
	}
	var fcKey, tileKey bool
	for key, v := range tuned {
		fcKey = fcKey || (strings.HasPrefix(key, "fc gpu-kernels 2 rows 64x12") && (v == "storage" || v == "texel"))
		tileKey = tileKey || (strings.Contains(key, " tiles ") && (v == "small" || v == "large"))
	}
	if !fcKey || !tileKey {
		t.Fatalf("tuning %v: want an fc kernel and a tiling", tuned)
	}
	dev, kit = open()
	defer dev.Close()
	defer kit.Close()
	if got := kit.Tuning(); !maps.Equal(got, tuned) {
		t.Errorf("a new kit starts from %v, want %v", got, tuned)
	}
}

// TestWinogradScratchSize: each scratch buffer takes 1/64 of the
// device's memory, between 16 and 256 MB, within a binding.
func TestWinogradScratchSize(t *testing.T) {
	const gib = 1 << 30
	dev := func(typ gpu.DeviceType, mem, storage uint64) gpu.DeviceInfo {
		return gpu.DeviceInfo{Type: typ, DeviceLocalBytes: mem, MaxStorageBufferRange: storage, MaxTexelElements: 1 << 27, MinStorageAlignment: 64, MinTexelAlignment: 64}
	}
	for _, c := range []struct {
		name string
		info gpu.DeviceInfo
		want int // floats
	}{
		{"lavapipe", dev(gpu.CPU, 2*gib, 128<<20), 8 << 20},
		{"CPU, 64 GiB", dev(gpu.CPU, 64*gib, 128<<20), (128<<20 - 64) / 4},
		{"H200", dev(gpu.Discrete, 139*gib, 4*gib-1), 64 << 20},
		{"8 GiB", dev(gpu.Discrete, 8*gib, 4*gib-1), 32 << 20},
		{"512 MiB", dev(gpu.Integrated, gib/2, 4*gib-1), 4 << 20},
		{"128 MiB bindings", dev(gpu.Discrete, 24*gib, 128<<20), (128<<20 - 64) / 4},
	} {
		if got := layers.WinogradScratchFor(c.info); got != c.want {
			t.Errorf("%s: %d floats, want %d", c.name, got, c.want)
		}
	}
}

// TestTuningSaved: auto mode writes its choices beside the device's
// pipeline cache (creating the folder), a new kit on a device of the
// same driver starts from them, and a corrupt file, or one timed with
// other kernels, is ignored.
func TestTuningSaved(t *testing.T) {
	testdev.Open(t) // skips or fails as the GPU tests do
	dir := filepath.Join(t.TempDir(), "cache")
	// The CPU family on any device: a GPU kit also chooses an f2 or f4
	// layer's Winograd GEMM kernel, which would add choices.
	open := cachedKits(t, dir, layers.KernelOptions{Family: "cpu"})
	dev, kit := open()
	rng := layertest.Seed(t)
	layertest.CheckOp(t, kit, rng, convCase(rng, layers.Window{KH: 3, KW: 3, SH: 1, SW: 1, Same: true}, 1, 12, 10, 8, 16))
	tuned := kit.Tuning()
	path := dev.TuningFile()
	kit.Close()
	if err := dev.Close(); err != nil {
		t.Fatal(err)
	}
	if len(tuned) != 1 || path == "" {
		t.Fatalf("tuning %v in %q", tuned, path)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("no tuning file: %v", err)
	}
	dev, kit = open()
	if got := kit.Tuning(); !maps.Equal(got, tuned) {
		t.Errorf("a new kit starts from %v, want %v", got, tuned)
	}
	kit.Close()
	dev.Close()
	// Two kits open at once (bench loads fp32 and fp16 Nets together):
	// each saves what it tuned without dropping the other's choices.
	if dev.Half() {
		devA, a := open()
		devB, err := gpu.Open(gpu.Options{Device: testdev.DeviceName(), PipelineCache: dir})
		if err != nil {
			t.Fatal(err)
		}
		b, err := layers.NewKitOptions(devB, layers.FP16, layers.KernelOptions{Family: "cpu"})
		if err != nil {
			t.Fatal(err)
		}
		layertest.CheckOp(t, b, rng, convCase(rng, layers.Window{KH: 3, KW: 3, SH: 1, SW: 1, Same: true}, 1, 12, 10, 8, 16))
		layertest.CheckOp(t, a, rng, convCase(rng, layers.Window{KH: 3, KW: 3, SH: 1, SW: 1, Same: true}, 1, 14, 10, 8, 16))
		a.Close()
		b.Close()
		devA.Close()
		devB.Close()
		dev, kit = open()
		if got := kit.Tuning(); len(got) != 3 {
			t.Errorf("after two kits tuned one shape each: %v", got)
		}
		kit.Close()
		dev.Close()
	}
	os.WriteFile(path, []byte("{not json"), 0o644)
	dev, kit = open()
	if got := kit.Tuning(); len(got) != 0 {
		t.Errorf("from a corrupt file: %v", got)
	}
	kit.Close()
	dev.Close()
	// Choices timed with other kernels (an older build) are not reused.
	stale := map[string]string{"kernels": "0123456789abcdef"}
	for key, v := range tuned {
		stale[key] = v
	}
	b, _ := json.Marshal(stale)
	os.WriteFile(path, b, 0o644)
	dev, kit = open()
	if got := kit.Tuning(); len(got) != 0 {
		t.Errorf("from a file of other kernels: %v", got)
	}
	kit.Close()
	dev.Close()
}

// TestRetune: a kit opened with Retune ignores the saved choices, times
// every candidate again (with the rounds asked for) and saves its choice
// over the old one; a kit without it takes the saved choice untimed.
func TestRetune(t *testing.T) {
	testdev.Open(t) // skips or fails as the GPU tests do
	dir := filepath.Join(t.TempDir(), "cache")
	// The CPU family on any device: GPU kits also choose the Winograd
	// GEMM kernel of an f2 or f4 layer, which would add choices.
	cpu := layers.KernelOptions{Family: "cpu"}
	c := func(rng *rand.Rand, h int) layertest.OpCase {
		return convCase(rng, layers.Window{KH: 3, KW: 3, SH: 1, SW: 1, Same: true}, 1, h, 10, 8, 16)
	}
	rng := layertest.Seed(t)
	dev, kit := cachedKits(t, dir, cpu)()
	layertest.CheckOp(t, kit, rng, c(rng, 12))
	first := kit.Tuned()
	path := dev.TuningFile()
	kit.Close()
	dev.Close()
	if len(first) != 1 || len(first[0].Times) != 3 {
		t.Fatalf("first tuning: %+v", first)
	}
	key := first[0].Key
	// plant writes a choice the timing did not make into the file.
	plant := func(not ...string) string {
		v := "direct"
		for _, o := range []string{"direct", "f2", "f4"} {
			if !slices.Contains(not, o) {
				v = o
				break
			}
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var saved map[string]string
		if err := json.Unmarshal(b, &saved); err != nil {
			t.Fatal(err)
		}
		saved[key] = v
		b, _ = json.Marshal(saved)
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return v
	}
	planted := plant(first[0].Choice)

	dev, kit = cachedKits(t, dir, cpu)()
	layertest.CheckOp(t, kit, rng, c(rng, 12))
	if got := kit.Tuned(); len(got) != 1 || got[0].Choice != planted || got[0].Times != nil {
		t.Errorf("without Retune: %+v, want the saved %s, untimed", got, planted)
	}
	// Another process changes the choice (vkvgg tune); this kit then
	// times a new shape and saves only that, not its stale copy.
	newer := plant(planted)
	layertest.CheckOp(t, kit, rng, c(rng, 14))
	if err := kit.TuningError(); err != nil {
		t.Fatal(err)
	}
	kit.Close()
	dev.Close()
	dev, kit = cachedKits(t, dir, cpu)()
	if saved := kit.Tuning(); saved[key] != newer || len(saved) != 2 {
		t.Errorf("after another process's change and a new shape: %v, want %s for %s", saved, newer, key)
	}
	kit.Close()
	dev.Close()

	dev, kit = cachedKits(t, dir, layers.KernelOptions{Family: "cpu", Retune: true, TuneRounds: 2})()
	if got := kit.Tuned(); len(got) != 0 {
		t.Errorf("a retuning kit starts from %+v, want nothing", got)
	}
	layertest.CheckOp(t, kit, rng, c(rng, 12))
	got := kit.Tuned()
	kit.Close()
	dev.Close()
	if len(got) != 1 || len(got[0].Times) != 3 || got[0].Times[got[0].Choice] != slices.Min(slices.Collect(maps.Values(got[0].Times))) {
		t.Fatalf("with Retune: %+v, want the fastest of three timed candidates", got)
	}
	dev, kit = cachedKits(t, dir, cpu)()
	if saved := kit.Tuning(); saved[key] != got[0].Choice || len(saved) != 2 {
		t.Errorf("saved after retuning: %v, want %s for %s and the other shape kept", saved, got[0].Choice, key)
	}
	kit.Close()
	dev.Close()

	// A folder that cannot be made: the choice holds, the error is told.
	file := filepath.Join(t.TempDir(), "a-file")
	os.WriteFile(file, nil, 0o644)
	if dev, err := gpu.Open(gpu.Options{Device: testdev.DeviceName(), PipelineCache: filepath.Join(file, "cache")}); err == nil {
		kit, err := layers.NewKitOptions(dev, layers.FP32, cpu)
		if err != nil {
			t.Fatal(err)
		}
		layertest.CheckOp(t, kit, rng, c(rng, 12))
		if kit.TuningError() == nil {
			t.Errorf("a tuning file under %s saved without error", file)
		}
		kit.Close()
		dev.Close()
	} else {
		t.Logf("gpu.Open refused the cache folder: %v", err)
	}
}

// TestConvAddFused: the general convolution with a residual added in its
// epilogue (RecordAdd) equals the convolution plus the residual (then
// the ReLU) on the CPU, for 1x1, strided and large windows, odd channel
// counts, both kernel families, aligned and odd offsets; a convolution
// with a ReLU of its own does not fuse a sum.
func TestConvAddFused(t *testing.T) {
	ctx := context.Background()
	for _, family := range []string{"gpu", "cpu"} {
		t.Run(family, func(t *testing.T) {
			dev, kit, rng := familyKit(t, family)
			modes := []string{""}
			if family == "cpu" {
				modes = []string{"direct", "im2col"}
			}
			for _, mode := range modes {
				kit.SetIm2col(mode)
				for _, win := range []layers.Window{{KH: 1, KW: 1, SH: 1, SW: 1}, {KH: 1, KW: 1, SH: 2, SW: 2}, {KH: 3, KW: 3, SH: 2, SW: 2, Pad: [4]int{1, 1, 1, 1}}, {KH: 7, KW: 7, SH: 2, SW: 2, Pad: [4]int{3, 3, 3, 3}}} {
					for _, s := range [][5]int{{2, 9, 11, 8, 12}, {1, 7, 5, 5, 17}, {3, 4, 4, 16, 8}} {
						for _, off := range []int{0, 5} {
							for _, relu := range []bool{false, true} {
								c := convCase(rng, win, s[0], s[1], s[2], s[3], s[4])
								conv := c.Op.(*layers.Conv)
								os, err := conv.OutShape(c.In)
								if err != nil {
									continue
								}
								x := layertest.Uniform(rng, c.In[0].Len(), -1, 1)
								r := layertest.Uniform(rng, os.Len(), -1, 1)
								y, err := conv.CPU(ctx, []layers.HostTensor{{Data: x, Shape: c.In[0]}})
								if err != nil {
									t.Fatal(err)
								}
								want := make([]float32, len(y))
								for i := range y {
									want[i] = y[i] + r[i]
									if relu {
										want[i] = max(want[i], 0)
									}
								}
								k, err := conv.Upload(kit)
								if err != nil {
									t.Fatal(err)
								}
								ak := k.(layers.AddKernel)
								if !ak.FusesAdd(c.In) {
									t.Fatalf("%s: no sum fused", c.Name)
								}
								in := tensorAt(t, dev, x, c.In[0], off)
								res := tensorAt(t, dev, r, os, off)
								out := tensorAt(t, dev, layertest.NaNs(os.Len()), os, off)
								got := submitted(t, dev, out, func(seq *gpu.Sequence) error {
									return ak.RecordAdd(seq, []layers.Tensor{in}, res, out, relu)
								})
								layertest.Check(t, fmt.Sprintf("%s %s + residual, relu=%v, offset %d", c.Name, mode, relu, off), got, want, tolGEMM)
								k.Close()
							}
						}
					}
				}
			}
			kit.SetIm2col("")
			withReLU := convCase(rng, layers.Window{KH: 1, KW: 1, SH: 1, SW: 1}, 1, 4, 4, 4, 4).Op.(*layers.Conv)
			withReLU.ReLU = true
			k, _ := withReLU.Upload(kit)
			defer k.Close()
			if k.(layers.AddKernel).FusesAdd([]layers.Shape{{N: 1, H: 4, W: 4, C: 4}}) {
				t.Error("a convolution with its own ReLU fuses a sum")
			}
		})
	}
}

// tensorAt uploads data at element offset off of a new buffer.
func tensorAt(t *testing.T, dev *gpu.Device, data []float32, s layers.Shape, off int) layers.Tensor {
	t.Helper()
	buf, err := dev.NewBuffer(int64(len(data)+off) * 4)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { buf.Close() })
	if err := buf.Upload(off, data); err != nil {
		t.Fatal(err)
	}
	return layers.Tensor{Buf: buf, Off: off, Shape: s}
}

// TestOpsFP16 runs the conformance table and the Winograd cases with
// FP16 kits of both kernel families, at fp16's tolerance
// (layertest.Half).
func TestOpsFP16(t *testing.T) {
	for _, family := range []string{"gpu", "cpu"} {
		for _, algo := range []string{"off", "f2", "f4"} {
			t.Run(family+" winograd "+algo, func(t *testing.T) {
				dev := testdev.Open(t)
				if !dev.Half() {
					t.Skipf("%s has no fp16 storage", dev.Info().Name)
				}
				kit, err := layers.NewKitOptions(dev, layers.FP16, layers.KernelOptions{Family: family, Winograd: algo})
				if err != nil {
					t.Fatal(err)
				}
				defer kit.Close()
				rng := layertest.Seed(t)
				if algo == "off" {
					for _, c := range opTable(rng) {
						layertest.CheckOp(t, kit, rng, c)
					}
					// Every fc kernel and both conv tilings, not only what timing picks.
					modes := []string{"texel", "texel-wide"}
					if family == "gpu" {
						modes = append(modes, "storage")
					}
					wide := &layers.FC{In: 36, Out: 2052, W: uniform(rng, 36*2052, -0.3, 0.3), B: uniform(rng, 2052, -0.5, 0.5)}
					for _, mode := range modes {
						kit.SetFCKernel(mode)
						for _, c := range append(opTable(rng), layertest.OpCase{Name: "fc 36->2052", Op: wide, In: []layers.Shape{{N: 3, H: 1, W: 1, C: 36}}, Tol: tolGEMM}) {
							if strings.HasPrefix(c.Name, "fc ") {
								c.Name += " " + mode
								layertest.CheckOp(t, kit, rng, c)
							}
						}
					}
					kit.SetFCKernel("")
					if family == "gpu" {
						checkForcedTiles(t, kit, rng)
					} else {
						checkForcedIm2col(t, kit, rng)
					}
					return
				}
				pad := [4]int{1, 1, 1, 1}
				gemms := []string{"register", "tiled", "tiled-small"}
				if family == "cpu" {
					gemms = []string{"subgroups", "no-subgroups"}
				}
				for _, gemm := range gemms {
					if family == "cpu" {
						kit.SetSubgroups(gemm == "subgroups")
					} else {
						kit.SetWinogradGEMM(gemm)
					}
					for _, s := range [][5]int{{2, 17, 13, 12, 20}, {1, 31, 33, 64, 36}, {3, 15, 7, 8, 8}} {
						c := convCase(rng, layers.Window{KH: 3, KW: 3, SH: 1, SW: 1, Pad: pad}, s[0], s[1], s[2], s[3], s[4])
						c.Name += " " + gemm
						if algo == "f4" {
							c.HalfAtol = 4e-2 // see layertest.Half
						}
						layertest.CheckOp(t, kit, rng, c)
					}
				}
			})
		}
	}
}
