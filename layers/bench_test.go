package layers_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/vkvgg/vkvgg/gpu"
	"github.com/vkvgg/vkvgg/internal/testdev"
	"github.com/vkvgg/vkvgg/layers"
)

// vgg16Convs are the conv3x3 shapes of VGG16 at a 224x224 input.
var vgg16Convs = []struct {
	name       string
	hw, ci, co int
}{
	{"conv1_1", 224, 3, 64}, {"conv1_2", 224, 64, 64},
	{"conv2_1", 112, 64, 128}, {"conv2_2", 112, 128, 128},
	{"conv3_1", 56, 128, 256}, {"conv3_2", 56, 256, 256},
	{"conv4_1", 28, 256, 512}, {"conv4_2", 28, 512, 512},
	{"conv5_1", 14, 512, 512},
}

// benchDevice opens the device without validation.
func benchDevice(b *testing.B) *gpu.Device { return testdev.OpenBench(b) }

// benchOptions are the kernel options of the environment (VKVGG_KERNELS,
// VKVGG_WINOGRAD, VKVGG_SUBGROUPS): benchmarks, like the command, take
// them from there.
func benchOptions(b *testing.B) layers.KernelOptions {
	o, err := layers.KernelOptionsFromEnv(os.Getenv)
	if err != nil {
		b.Fatal(err)
	}
	return o
}

// benchKit is a kit of the environment's kernel options.
func benchKit(b *testing.B, dev *gpu.Device, p layers.Precision) *layers.Kit {
	kit, err := layers.NewKitOptions(dev, p, benchOptions(b))
	if err != nil {
		b.Fatal(err)
	}
	return kit
}

// benchCPUFamily reports whether benchKit gives the CPU-device kernels.
func benchCPUFamily(b *testing.B, dev *gpu.Device) bool {
	return benchOptions(b).CPUFamily(dev.Info())
}

// benchConfig reads an optional tiling override: VKVGG_CONV=BM,BN,BK,TM,TN
// for the shared-memory kernel or VKVGG_CONV=R,TM,TN,WG for the register one.
func benchConfig(b *testing.B, kit *layers.Kit) {
	s := os.Getenv("VKVGG_CONV")
	if s == "" {
		return
	}
	f := strings.Split(s, ",")
	reg := f[0] == "R"
	if reg {
		f = f[1:]
	}
	v := make([]int, 5)
	for i := range min(len(f), 5) {
		v[i], _ = strconv.Atoi(f[i])
	}
	cfg := layers.ConvConfig{BM: v[0], BN: v[1], BK: v[2], TM: v[3], TN: v[4]}
	if reg {
		fb := layers.DefaultConvConfig(gpu.DeviceInfo{})
		cfg = layers.ConvConfig{Register: true, TM: v[0], TN: v[1], WG: v[2], Fallback: &fb}
	}
	if err := kit.SetConvConfig(cfg); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkConv3x3 times each VGG16 conv layer shape (batch 1) on the
// default device and reports GFLOP/s, counting 2 FLOPs per multiply-add.
func BenchmarkConv3x3(b *testing.B) {
	dev := benchDevice(b)
	kit := benchKit(b, dev, layers.FP32)
	defer kit.Close()
	benchConfig(b, kit)
	rng := rand.New(rand.NewPCG(1, 2))
	for _, c := range vgg16Convs {
		b.Run(c.name, func(b *testing.B) { benchConv(b, kit, rng, c.hw, c.ci, c.co) })
	}
}

// BenchmarkConv3x3Kernels runs conv3_2 on both kernel families side by
// side: the register/texel kernel CPU devices get and the shared-memory
// kernel GPUs get (on a GPU the ratio reverses).
func BenchmarkConv3x3Kernels(b *testing.B) {
	dev := benchDevice(b)
	rng := rand.New(rand.NewPCG(5, 6))
	tiled := layers.ConvConfig{BM: 64, BN: 64, BK: 8, TM: 4, TN: 4}
	for _, c := range []struct {
		name string
		cfg  layers.ConvConfig
	}{
		{"register", layers.ConvConfig{Register: true, TM: 16, TN: 16, WG: 8, Fallback: &tiled}},
		{"tiled", tiled},
	} {
		b.Run(c.name, func(b *testing.B) {
			kit := benchKit(b, dev, layers.FP32)
			defer kit.Close()
			if err := kit.SetConvConfig(c.cfg); err != nil {
				b.Fatal(err)
			}
			benchConv(b, kit, rng, 56, 256, 256)
		})
	}
}

// BenchmarkWinogradScratch times VGG16's conv1_2 and conv3_2 as Winograd
// F(4x4,3x3) at batch 8 (32 on GPUs) through scratch buffers of 16 MB,
// the size before it followed the device's memory, and of the default
// size for this device, side by side: fewer chunks make fewer, larger
// dispatches (go test -run '^$' -bench WinogradScratch ./layers).
func BenchmarkWinogradScratch(b *testing.B) {
	dev := benchDevice(b)
	rng := rand.New(rand.NewPCG(7, 8))
	n := 32
	if dev.Info().Type == gpu.CPU {
		n = 8
	}
	for _, c := range []struct {
		name       string
		hw, ci, co int
	}{{"conv1_2", 224, 64, 64}, {"conv3_2", 56, 256, 256}} {
		for _, sc := range []struct {
			name   string
			floats int
		}{{"16MB", 4 << 20}, {"default", 0}} {
			b.Run(fmt.Sprintf("%s/batch%d/%s", c.name, n, sc.name), func(b *testing.B) {
				kit := benchKit(b, dev, layers.FP32)
				defer kit.Close()
				kit.SetWinogradScratch(sc.floats)
				kit.SetWinogradMode("f4")
				benchConvBatch(b, kit, rng, layers.Window{KH: 3, KW: 3, SH: 1, SW: 1, Same: true}, n, c.hw, c.ci, c.co)
			})
		}
	}
}

// winoShapes are the VGG16 layers (224x224 input, batch 1) the Winograd
// benchmarks time.
var winoShapes = []struct {
	name       string
	hw, ci, co int
}{{"conv1_2", 224, 64, 64}, {"conv2_2", 112, 128, 128}, {"conv3_2", 56, 256, 256}}

// benchWinograd times each of winoShapes as Winograd F(4x4,3x3) at batch 1
// once per variant, side by side, on a new kit of dev that set prepares
// for the variant.
func benchWinograd[V any](b *testing.B, dev *gpu.Device, seed uint64, variants []V, name func(V) string, set func(*layers.Kit, V)) {
	rng := rand.New(rand.NewPCG(seed, seed+1))
	for _, c := range winoShapes {
		for _, v := range variants {
			b.Run(c.name+"/"+name(v), func(b *testing.B) {
				kit := benchKit(b, dev, layers.FP32)
				defer kit.Close()
				kit.SetWinogradMode("f4")
				set(kit, v)
				benchConvBatch(b, kit, rng, layers.Window{KH: 3, KW: 3, SH: 1, SW: 1, Same: true}, 1, c.hw, c.ci, c.co)
			})
		}
	}
}

// BenchmarkWinogradGroups times VGG16's conv1_2, conv2_2 and conv3_2 as
// Winograd F(4x4,3x3) at batch 1 with the input and output transforms
// taking up to 1, 4, 8 and 16 groups of four channels per invocation, side
// by side (go test -run '^$' -bench WinogradGroups ./layers). GPU kits
// always take one.
func BenchmarkWinogradGroups(b *testing.B) {
	benchWinograd(b, benchDevice(b), 9, []int{1, 4, 8, 16}, func(g int) string { return fmt.Sprintf("groups%d", g) },
		func(kit *layers.Kit, g int) { kit.SetWinogradGroups(g) })
}

// BenchmarkWinogradGEMM times VGG16's conv1_2, conv2_2 and conv3_2 as
// Winograd F(4x4,3x3) at batch 1 with each GEMM kernel of the kit's
// family side by side: for CPU devices the register kernel with its rows
// shared through subgroup shuffles and without, for GPUs the register
// kernel and the shared-memory tiled ones (go test -run '^$' -bench
// WinogradGEMM ./layers; VKVGG_CONV overrides the tiling).
func BenchmarkWinogradGEMM(b *testing.B) {
	dev := benchDevice(b)
	gemms := []string{"subgroups", "no-subgroups"}
	if !benchCPUFamily(b, dev) {
		gemms = []string{"register", "tiled", "tiled-small"}
	}
	benchWinograd(b, dev, 11, gemms, func(g string) string { return g }, func(kit *layers.Kit, g string) {
		benchConfig(b, kit)
		switch g {
		case "subgroups", "no-subgroups":
			kit.SetSubgroups(g == "subgroups")
		default:
			kit.SetWinogradGEMM(g)
		}
	})
}

// BenchmarkConv1x1 times 1x1 convolutions of ResNet-50 (batch 1, 224x224
// input) with the general conv kernel, on CPU devices with its pixels
// shared through subgroup shuffles and without, side by side (go test
// -run '^$' -bench Conv1x1 ./layers).
func BenchmarkConv1x1(b *testing.B) {
	dev := benchDevice(b)
	rng := rand.New(rand.NewPCG(13, 14))
	for _, c := range []struct {
		name       string
		hw, ci, co int
	}{{"layer1.conv3", 56, 64, 256}, {"layer1.conv1", 56, 256, 64}, {"layer2.conv3", 28, 128, 512}, {"layer3.conv1", 14, 1024, 256}, {"layer4.conv3", 7, 512, 2048}} {
		for _, sub := range []bool{true, false} {
			name := c.name + "/subgroups"
			if !sub {
				name = c.name + "/no-subgroups"
			}
			b.Run(name, func(b *testing.B) {
				kit := benchKit(b, dev, layers.FP32)
				defer kit.Close()
				benchConfig(b, kit)
				kit.SetSubgroups(sub)
				benchConvBatch(b, kit, rng, layers.Window{KH: 1, KW: 1, SH: 1, SW: 1}, 1, c.hw, c.ci, c.co)
			})
		}
	}
}

// BenchmarkIm2col times the first convolutions of AlexNet (11x11/4) and
// ResNet (7x7/2) over 3 channels, and a 3x3/2 one over 128, direct and
// through im2col rows, side by side on a CPU-family kit (go test -run
// '^$' -bench Im2col ./layers).
func BenchmarkIm2col(b *testing.B) {
	dev := benchDevice(b)
	if !benchCPUFamily(b, dev) {
		b.Skip("im2col is a choice of the CPU-device kernels (VKVGG_KERNELS=cpu)")
	}
	rng := rand.New(rand.NewPCG(9, 10))
	for _, c := range []struct {
		name       string
		win        layers.Window
		hw, ci, co int
	}{
		{"alexnet-11x11s4", layers.Window{KH: 11, KW: 11, SH: 4, SW: 4, Pad: [4]int{2, 2, 2, 2}}, 224, 3, 64},
		{"resnet-7x7s2", layers.Window{KH: 7, KW: 7, SH: 2, SW: 2, Pad: [4]int{3, 3, 3, 3}}, 224, 3, 64},
		{"resnet-3x3s2", layers.Window{KH: 3, KW: 3, SH: 2, SW: 2, Pad: [4]int{1, 1, 1, 1}}, 56, 128, 128},
	} {
		for _, n := range []int{1, 8} {
			for _, mode := range []string{"direct", "im2col"} {
				b.Run(fmt.Sprintf("%s/batch%d/%s", c.name, n, mode), func(b *testing.B) {
					kit := benchKit(b, dev, layers.FP32)
					defer kit.Close()
					kit.SetIm2col(mode)
					benchConvBatch(b, kit, rng, c.win, n, c.hw, c.ci, c.co)
				})
			}
		}
	}
}

// benchConv times one hw x hw, ci -> co 3x3 convolution (batch 1) as a
// network runs it (a 3-channel input is padded to 4 on CPU devices, the
// copy included); FLOPs count only the real channels.
func benchConv(b *testing.B, kit *layers.Kit, rng *rand.Rand, hw, ci, co int) {
	benchConvOp(b, kit, rng, layers.Window{KH: 3, KW: 3, SH: 1, SW: 1, Same: true}, hw, ci, co)
}

// benchConvOp times a convolution op of any window, batch 1.
func benchConvOp(b *testing.B, kit *layers.Kit, rng *rand.Rand, win layers.Window, hw, ci, co int) {
	benchConvBatch(b, kit, rng, win, 1, hw, ci, co)
}

// benchConvBatch times a convolution op of any window and batch.
func benchConvBatch(b *testing.B, kit *layers.Kit, rng *rand.Rand, win layers.Window, n, hw, ci, co int) {
	dev := kit.Device()
	op := &layers.Conv{Window: win, Cin: ci, Cout: co, W: uniform(rng, win.KH*win.KW*ci*co, -0.1, 0.1), B: uniform(rng, co, -0.1, 0.1), ReLU: true}
	in := layers.Shape{N: n, H: hw, W: hw, C: ci}
	out, err := op.OutShape([]layers.Shape{in})
	if err != nil {
		b.Fatal(err)
	}
	k, err := op.Upload(kit)
	if err != nil {
		b.Fatal(err)
	}
	defer k.Close()
	ti := benchTensor(b, dev, in, rng)
	to := benchTensor(b, dev, out, nil)
	benchRecorded(b, dev, op.FLOPs([]layers.Shape{in}), func(seq *gpu.Sequence) error {
		return k.Record(seq, []layers.Tensor{ti}, to)
	})
}

// benchRecorded records work into a new sequence and submits it once to
// warm up (pipeline compilation), then b.N times, and reports GFLOP/s
// (flops per submission).
func benchRecorded(b *testing.B, dev *gpu.Device, flops float64, record func(*gpu.Sequence) error) {
	seq, err := dev.NewSequence(gpu.SequenceOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer seq.Close()
	if err := record(seq); err != nil {
		b.Fatal(err)
	}
	if err := seq.Submit(); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		if err := seq.Submit(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

// BenchmarkFC6 times fc6 of VGG16 (25088 -> 4096) at batch 1 and 8, with
// the GB/s of its weights read, and in the same run two copies of as many
// bytes (GB/s read plus written: the device's memory speed): the
// driver's buffer copy, and a shader's (the ReLU kernel, vec4 loads and
// stores). A GPU's buffer copy may run on a copy engine far slower than
// its shaders read memory (an H200's: 0.4 TB/s against 3 to 4).
func BenchmarkFC6(b *testing.B) {
	dev := benchDevice(b)
	kit := benchKit(b, dev, layers.FP32)
	defer kit.Close()
	rng := rand.New(rand.NewPCG(3, 4))
	const k, m = 25088, 4096
	w, bias := uniform(rng, k*m, -0.01, 0.01), uniform(rng, m, -0.1, 0.1)
	for _, prec := range []layers.Precision{layers.FP32, layers.FP16} {
		kit := kit
		if prec == layers.FP16 {
			if layers.CheckPrecision(dev, prec) != nil {
				continue
			}
			kit = benchKit(b, dev, prec)
			defer kit.Close()
		}
		fc, err := kit.NewFC(k, m, w, bias)
		if err != nil {
			b.Fatal(err)
		}
		defer fc.Close()
		for _, rows := range []int{1, 8} {
			name := fmt.Sprintf("batch%d", rows)
			if prec == layers.FP16 {
				name = "fp16" + name
			}
			b.Run(name, func(b *testing.B) {
				s := layers.Shape{N: rows, H: 7, W: 7, C: 512}
				x := benchTensor(b, dev, s, nil) // fp32-sized: large enough in either precision
				if err := kit.Write(x.Buf, 0, uniform(rng, s.Len(), -1, 1)); err != nil {
					b.Fatal(err)
				}
				x.Shape = s
				y := benchTensor(b, dev, layers.Shape{N: rows, H: 1, W: 1, C: m}, nil)
				benchRecorded(b, dev, 2*float64(rows*k*m), func(seq *gpu.Sequence) error {
					return fc.Record(seq, x, layers.Tensor{}, y)
				})
				b.ReportMetric(float64(k*m)*float64(kit.Precision().Size())*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
			})
		}
	}
	b.Run("copy", func(b *testing.B) {
		// Both written first: untouched pages would be the zero page.
		src := benchTensor(b, dev, layers.Shape{N: 1, H: k, W: m, C: 1}, rng)
		dst := benchTensor(b, dev, layers.Shape{N: 1, H: k, W: m, C: 1}, rng)
		benchRecorded(b, dev, 0, func(seq *gpu.Sequence) error { return seq.Copy(dst.Buf.All(), src.Buf.All()) })
		b.ReportMetric(2*float64(k*m*4)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
	})
	b.Run("shadercopy", func(b *testing.B) {
		s := layers.Shape{N: 1, H: k, W: m, C: 1}
		src := benchTensor(b, dev, s, rng)
		dst := benchTensor(b, dev, s, rng)
		relu, err := layers.ReLU{}.Upload(kit)
		if err != nil {
			b.Fatal(err)
		}
		defer relu.Close()
		benchRecorded(b, dev, 0, func(seq *gpu.Sequence) error { return relu.Record(seq, []layers.Tensor{src}, dst) })
		b.ReportMetric(2*float64(k*m*4)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
	})
}

func benchTensor(b *testing.B, dev *gpu.Device, s layers.Shape, rng *rand.Rand) layers.Tensor {
	buf, err := dev.NewBuffer(int64(s.Len()) * 4)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { buf.Close() })
	if rng != nil {
		if err := buf.Upload(0, uniform(rng, s.Len(), -1, 1)); err != nil {
			b.Fatal(err)
		}
	}
	return layers.Tensor{Buf: buf, Shape: s}
}
