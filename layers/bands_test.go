package layers_test

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/vkvgg/vkvgg/gpu"
	"github.com/vkvgg/vkvgg/internal/testdev"
	"github.com/vkvgg/vkvgg/layers"
	"github.com/vkvgg/vkvgg/layers/layertest"
)

// windowRows is a one-channel convolution with all-ones weights as the
// GPU kernels compute it: output rows [0, oh) of an input of h rows with
// top rows of padding above it, any row outside [0, h) reading zero.
// Columns are left out: bands split rows only.
func windowRows(x []float64, h, kh, sh, top, oh int) []float64 {
	out := make([]float64, oh)
	for oy := range out {
		for ky := 0; ky < kh; ky++ {
			if y := oy*sh - top + ky; y >= 0 && y < h {
				out[oy] += x[y] * float64(ky+1) // weights that tell the taps apart
			}
		}
	}
	return out
}

// TestRowBandsSplit: for every window height, stride and padding (up
// to more than the window's height, which only convolutions allow) on
// every height up to 24 and binding limits from below the smallest a
// window allows, the bands cover each image's output rows once, in
// order, each band reads a row of the image, its input and output rows
// fit the limit and the dispatch, and computing each band as a layer of
// its own (its input rows, its padding) gives the rows the whole image
// gives. Where no split exists the error says so.
func TestRowBandsSplit(t *testing.T) {
	rng := layertest.Seed(t)
	const c = 3 // channels: a row is 3 elements of each column
	bands := 0
	for kh := 1; kh <= 7; kh++ {
		for sh := 1; sh <= 3; sh++ {
			for _, pad := range [][2]int{{0, 0}, {kh / 2, kh / 2}, {kh - 1, 0}, {0, kh - 1}, {1, 2}, {kh, 0}, {0, kh + 1}, {kh + 3, kh + 2}} {
				for h := 1; h <= 24; h++ {
					win := layers.Window{KH: kh, KW: 1, SH: sh, SW: 1, Pad: [4]int{pad[0], 0, pad[1], 0}}
					oh, _, _, err := win.Out(h, 1)
					if err != nil {
						continue
					}
					x := make([]float64, h)
					for i := range x {
						x[i] = rng.Float64()
					}
					want := windowRows(x, h, kh, sh, pad[0], oh)
					onlyPad := 0 // output rows that read no row of the image
					for oy := range oh {
						if oy*sh-pad[0]+kh <= 0 || oy*sh-pad[0] >= h {
							onlyPad++
						}
					}
					for _, lim := range []int{kh*c - 1, kh * c, (kh + sh) * c, 5 * kh * c, max(h, kh) * c, (kh + oh) * c} {
						for _, maxRows := range []int{1, 2, 3, 1 << 20} {
							name := fmt.Sprintf("%v on %d rows, limit %d, %d rows a dispatch", win, h, lim, maxRows)
							got, err := layers.RowBands(layers.Shape{N: 2, H: h, W: 1, C: c}, win, c, lim, maxRows)
							// A band holds a row of the image and may take the
							// rows of padding at both ends.
							if fits := lim >= kh*c && lim/c > onlyPad && maxRows > onlyPad && onlyPad < oh; !fits || err != nil {
								why := "binding" // or the dispatch
								if onlyPad == oh && lim >= kh*c {
									why = "only padding"
								}
								if fits || err == nil || !strings.Contains(err.Error(), why) {
									t.Fatalf("%s (%d rows of only padding): %v", name, onlyPad, err)
								}
								continue
							}
							next := [2]int{}
							for _, b := range got {
								if b.N != next[0] || b.Y0 != next[1] || b.Y1 <= b.Y0 {
									t.Fatalf("%s: band %+v after rows up to %v", name, b, next)
								}
								if (b.B-b.A)*c > lim || (b.Y1-b.Y0)*c > lim || b.Y1-b.Y0 > maxRows {
									t.Fatalf("%s: band %+v exceeds the limits", name, b)
								}
								if b.A >= b.B || b.Bottom != 0 && b.B != h {
									t.Fatalf("%s: band %+v has bottom padding inside the image", name, b)
								}
								rows := windowRows(x[b.A:b.B], b.B-b.A, kh, sh, b.Top, b.Y1-b.Y0)
								for i, v := range rows {
									if v != want[b.Y0+i] {
										t.Fatalf("%s: band %+v row %d: %v, want %v", name, b, b.Y0+i, v, want[b.Y0+i])
									}
								}
								next = [2]int{b.N, b.Y1}
								if b.Y1 == oh {
									next = [2]int{b.N + 1, 0}
								}
								bands++
							}
							if next != [2]int{2, 0} {
								t.Fatalf("%s: bands %+v end at %v", name, got, next)
							}
						}
					}
				}
			}
		}
	}
	// A row over the limit has no band: a clear error.
	_, err := layers.RowBands(layers.Shape{N: 1, H: 9, W: 10, C: 3}, layers.Window{KH: 3, KW: 3, SH: 1, SW: 1, Same: true}, 3, 89, 100)
	if err == nil || !strings.Contains(err.Error(), "exceed one binding") {
		t.Errorf("a 3-row window of 30-element rows in 89 elements: %v", err)
	}
	t.Logf("%d bands checked", bands)
}

// bandLimit is a binding limit (elements) under which case c's first
// input or its output exceeds one binding while its weights and a few
// rows fit, or 0 where no such limit exists (weights larger than an
// image, adaptive pooling).
func bandLimit(c layertest.OpCase) int {
	in := c.In[0]
	out, err := c.Op.OutShape(c.In)
	if err != nil {
		return 0
	}
	// rows: input rows a band of two output rows may read.
	var rows, weights int
	switch op := c.Op.(type) {
	case *layers.Conv:
		// CPU devices pad the channels to multiples of 4.
		rows, weights = op.KH+op.SH, op.KH*op.KW*((op.Cin+3)/4*4)*((op.Cout+3)/4*4)
	case *layers.Pool:
		if op.Adaptive {
			return 0
		}
		rows = op.KH + op.SH
	case *layers.Preprocess:
		rows = 2
	case layers.Resize: // two taps, widened by one row on each side
		rows = 4
	default:
		return 0
	}
	lim := max(weights, rows*in.W*max(in.C, 4), 2*out.W*out.C)
	if lim >= max(in.Image(), out.Image()) {
		return 0
	}
	return lim
}

// bandFamilies are the kits the band tests run on: both kernel families,
// and the CPU family in fp16.
var bandFamilies = []string{"cpu", "gpu", "cpu-fp16"}

// bandKit opens the test device and a kit of family (one of
// bandFamilies), skipping fp16 where the device has no 16-bit storage.
func bandKit(t *testing.T, family string) (*gpu.Device, *layers.Kit, *rand.Rand) {
	t.Helper()
	prec := layers.FP32
	if f, ok := strings.CutSuffix(family, "-fp16"); ok {
		family, prec = f, layers.FP16
	}
	dev := testdev.Open(t)
	if prec == layers.FP16 && !dev.Half() {
		t.Skip("no 16-bit storage on this device")
	}
	kit, err := layers.NewKitOptions(dev, prec, layers.KernelOptions{Family: family})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kit.Close() })
	return dev, kit, layertest.Seed(t)
}

// kitRounded rounds x in place to what a kit of its precision stores.
func kitRounded(kit *layers.Kit, x []float32) []float32 {
	if kit.Precision() == layers.FP16 {
		for i := range x {
			x[i] = gpu.Float(gpu.Half(x[i]))
		}
	}
	return x
}

// TestRowBands: with a binding limit smaller than one image, every
// convolution, fixed-window pooling, resizing and preprocessing of the
// conformance table runs in row bands on both kernel families (and
// fp16) and still equals the CPU reference, the convolutions with a
// residual too; an adaptive pooling, which cannot be split, says so.
func TestRowBands(t *testing.T) {
	for _, family := range bandFamilies {
		t.Run(family, func(t *testing.T) {
			dev, kit, rng := bandKit(t, family)
			banded := 0
			// Convolutions padded by their window's height or more: rows of
			// only padding at either end join a band, which then needs
			// room for them (three here).
			padded := []layertest.OpCase{
				convCase(rng, layers.Window{KH: 1, KW: 1, SH: 1, SW: 1, Pad: [4]int{1, 1, 2, 1}}, 2, 13, 11, 8, 12),
				convCase(rng, layers.Window{KH: 3, KW: 3, SH: 2, SW: 2, Pad: [4]int{4, 1, 3, 1}}, 1, 14, 9, 4, 8),
			}
			table := opTable(rng)
			for i, c := range append(table, padded...) {
				lim := bandLimit(c)
				if lim == 0 {
					continue
				}
				if i >= len(table) {
					out, _ := c.Op.OutShape(c.In)
					lim += 3 * out.W * out.C
				}
				kit.SetWindowLimit(lim)
				t.Run(fmt.Sprintf("%s limit %d", c.Name, lim), func(t *testing.T) { layertest.CheckOp(t, kit, rng, c) })
				banded++
			}
			if banded < 40 {
				t.Errorf("only %d cases run in bands", banded)
			}
			kit.SetWindowLimit(0)
			checkBandedResidual(t, dev, kit, rng)
			kit.SetWindowLimit(200)
			p := &layers.Pool{Adaptive: true, OH: 3, OW: 2}
			pk, err := p.Upload(kit)
			if err != nil {
				t.Fatal(err)
			}
			defer pk.Close()
			s := layers.Shape{N: 1, H: 13, W: 11, C: 4}
			in := tensorAt(t, dev, layertest.Uniform(rng, s.Len(), -1, 1), s, 0)
			out := tensorAt(t, dev, layertest.NaNs(3*2*4), layers.Shape{N: 1, H: 3, W: 2, C: 4}, 0)
			seq, err := dev.NewSequence(gpu.SequenceOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer seq.Close()
			if err := pk.Record(seq, []layers.Tensor{in}, out); err == nil || !strings.Contains(err.Error(), "over this device's limit") {
				t.Errorf("an adaptive pooling over one binding: %v", err)
			}
		})
	}
}

// checkBandedResidual runs general convolutions with a residual added in
// their epilogue (ResNet's) in row bands.
func checkBandedResidual(t *testing.T, dev *gpu.Device, kit *layers.Kit, rng *rand.Rand) {
	t.Helper()
	for _, win := range []layers.Window{{KH: 1, KW: 1, SH: 1, SW: 1}, {KH: 3, KW: 3, SH: 2, SW: 2, Pad: [4]int{1, 1, 1, 1}}} {
		c := convCase(rng, win, 2, 17, 13, 8, 12)
		conv := c.Op.(*layers.Conv)
		os, err := conv.OutShape(c.In)
		if err != nil {
			t.Fatal(err)
		}
		kit.SetWindowLimit(max(bandLimit(c), 2*os.W*os.C))
		x := kitRounded(kit, layertest.Uniform(rng, c.In[0].Len(), -1, 1))
		r := kitRounded(kit, layertest.Uniform(rng, os.Len(), -1, 1))
		y, err := conv.CPU(t.Context(), []layers.HostTensor{{Data: x, Shape: c.In[0]}})
		if err != nil {
			t.Fatal(err)
		}
		want := make([]float32, len(y))
		for i := range y {
			want[i] = max(y[i]+r[i], 0)
		}
		k, err := conv.Upload(kit)
		if err != nil {
			t.Fatal(err)
		}
		defer k.Close()
		in := kitTensor(t, dev, kit, x, c.In[0])
		res := kitTensor(t, dev, kit, r, os)
		out := kitTensor(t, dev, kit, layertest.NaNs(os.Len()), os)
		got := kitRecorded(t, dev, kit, out, func(seq *gpu.Sequence) error {
			return k.(layers.AddKernel).RecordAdd(seq, []layers.Tensor{in}, res, out, true)
		})
		tol := tolGEMM
		if kit.Precision() == layers.FP16 {
			tol = layertest.Tol{Atol: 2e-2, Rtol: 1e-2}
		}
		layertest.Check(t, c.Name+" + residual in bands", got, want, tol)
	}
}

// kitTensor uploads data in the kit's precision at element 0 of a new
// buffer.
func kitTensor(t *testing.T, dev *gpu.Device, kit *layers.Kit, data []float32, s layers.Shape) layers.Tensor {
	t.Helper()
	buf, err := dev.NewBuffer(int64(len(data)*kit.ElemSize()+4) / 4 * 4)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { buf.Close() })
	if err := kit.Write(buf, 0, data); err != nil {
		t.Fatal(err)
	}
	return layers.Tensor{Buf: buf, Shape: s}
}

// TestLinearGrid runs the element-wise kernels, which take more than
// 65535 workgroups as a 2D grid, with workgroups of 2 invocations, so
// that tensors of a few hundred thousand elements span several rows of
// the grid: every element must be written once with its own value
// (glslang once folded the row stride to the default workgroup size of
// 1, and the end of large tensors stayed unwritten).
func TestLinearGrid(t *testing.T) {
	for _, family := range []string{"cpu", "gpu"} {
		t.Run(family, func(t *testing.T) {
			_, kit, rng := familyKit(t, family)
			kit.SetElementwiseWG(2)
			s := layers.Shape{N: 2, H: 301, W: 303, C: 5}
			rgb := layers.Shape{N: 2, H: 301, W: 303, C: 3}
			for _, c := range []layertest.OpCase{
				{Name: "add", Op: &layers.Add{ReLU: true}, In: []layers.Shape{s, s}},
				{Name: "relu", Op: layers.ReLU{}, In: []layers.Shape{s}},
				{Name: "preprocess", Op: layers.VGGInput(), In: []layers.Shape{rgb}, Tol: tolPreprocess, Lo: 0, Hi: 1},
				{Name: "maxpool", Op: &layers.Pool{Window: layers.Window{KH: 2, KW: 2, SH: 1, SW: 1}}, In: []layers.Shape{s}, Tol: tolPool},
				{Name: "resize", Op: layers.Resize{}, In: []layers.Shape{{N: 2, H: 31, W: 29, C: 5}, s}, Tol: layertest.Tol{Atol: 1e-5, Rtol: 1e-5}}, // float32 sample positions
				convCase(rng, layers.Window{KH: 3, KW: 3, SH: 2, SW: 2, Pad: [4]int{1, 1, 1, 1}}, 1, 301, 303, 3, 4),                                 // channel padding (CPU family)
			} {
				t.Run(c.Name, func(t *testing.T) { layertest.CheckOp(t, kit, rng, c) })
			}
		})
	}
}

// TestConvPoolBands: a 3x3 convolution whose image exceeds a binding
// fuses its 2x2/2 max pooling in row bands (the convolution's whole
// output never exists) and equals the convolution then the pooling on
// the CPU: both families and fp16, SAME and unpadded poolings, odd and
// even sizes, batches, the ReLU, and a 3-channel input padded to 4.
func TestConvPoolBands(t *testing.T) {
	for _, family := range bandFamilies {
		t.Run(family, func(t *testing.T) {
			dev, kit, rng := bandKit(t, family)
			tol := tolGEMM
			if kit.Precision() == layers.FP16 {
				tol = layertest.Tol{Atol: 2e-2, Rtol: 1e-2}
			}
			for _, s := range [][5]int{{2, 17, 13, 8, 12}, {1, 20, 9, 4, 8}, {1, 15, 16, 3, 5}} {
				for _, pool := range []*layers.Pool{
					{Window: layers.Window{KH: 2, KW: 2, SH: 2, SW: 2, Same: true}},
					{Window: layers.Window{KH: 2, KW: 2, SH: 2, SW: 2}},
				} {
					for _, relu := range []bool{false, true} {
						c := convCase(rng, layers.Window{KH: 3, KW: 3, SH: 1, SW: 1, Same: true}, s[0], s[1], s[2], s[3], s[4])
						conv := c.Op.(*layers.Conv)
						x := kitRounded(kit, layertest.Uniform(rng, c.In[0].Len(), -1, 1))
						y, err := conv.CPU(t.Context(), []layers.HostTensor{{Data: x, Shape: c.In[0]}})
						if err != nil {
							t.Fatal(err)
						}
						if relu {
							y = layers.ReLUCPU(y)
						}
						ys, _ := conv.OutShape(c.In)
						want, err := pool.CPU(t.Context(), []layers.HostTensor{{Data: y, Shape: ys}})
						if err != nil {
							t.Fatal(err)
						}
						ps, _ := pool.OutShape([]layers.Shape{ys})
						// Two pooled rows a band at most: the image exceeds
						// the limit, the weights and four input rows fit.
						cin4 := (s[3] + 3) / 4 * 4
						kit.SetWindowLimit(max(9*cin4*((s[4]+3)/4*4), 6*s[2]*cin4, 4*s[2]*s[4]))
						k, pk := fusingKernel(t, kit, c, pool)
						in := kitTensor(t, dev, kit, x, c.In[0])
						out := kitTensor(t, dev, kit, layertest.NaNs(ps.Len()), ps)
						got := kitRecorded(t, dev, kit, out, func(seq *gpu.Sequence) error {
							return pk.RecordPooled(seq, []layers.Tensor{in}, out, relu, pool)
						})
						layertest.Check(t, fmt.Sprintf("%s relu=%v + %s in bands", c.Name, relu, pool.Kind()), got, want, tol)
						k.Close()
						kit.SetWindowLimit(0)
					}
				}
			}
		})
	}
}
