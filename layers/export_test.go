package layers

import (
	"maps"
	"slices"
	"time"

	"github.com/vkvgg/vkvgg/gpu"
)

// SetWindowLimit makes the kit split work as if one binding could hold
// only n elements, to test batch and column splitting on small data.
func (k *Kit) SetWindowLimit(n int) { k.limit = n }

// SetElementwiseWG sets the workgroup size of the kit's element-wise
// kernels (0: the default), so that small tensors take 2D grids.
func (k *Kit) SetElementwiseWG(n int) { k.wg = n }

// SetWinogradScratch sets the size in floats of the kit's Winograd
// scratch buffers and of the scratch of a convolution before its fused
// pooling (0: the default), before its first Winograd layer.
func (k *Kit) SetWinogradScratch(floats int) { k.scratchFloats = floats }

// WinogradScratchFor is the Winograd scratch size, in floats, a kit on a
// device described by info would use.
func WinogradScratchFor(info gpu.DeviceInfo) int {
	k := &Kit{info: info, es: 4}
	return k.winoScratchSize()
}

// SetWinogradMode overrides KernelOptions.Winograd for a kit; "direct" makes every
// choice the direct convolution while fusing poolings still applies.
func (k *Kit) SetWinogradMode(m string) { k.wino = m }

// SetFCKernel forces the fc kernel a kit uses where it has a choice:
// "storage" (GPU family), "texel", "texel-wide", or "" to choose by
// timing.
func (k *Kit) SetFCKernel(m string) { k.fcMode = m }

// SetConvTiles forces the tiling of a GPU-family kit's general
// convolutions: "small" (smallTiles), "large" (the kit's), or "" to
// choose by timing where the large tiles make few workgroups.
func (k *Kit) SetConvTiles(m string) { k.tileMode = m }

// SetIm2col forces how a CPU-family kit runs general convolutions:
// "direct", "im2col" (where it fits), or "" to choose by timing.
func (k *Kit) SetIm2col(m string) { k.colMode = m }

// SetWinogradGroups sets the most channel groups (at least 1) an
// invocation of the kit's F(4x4,3x3) transforms takes on CPU devices.
func (k *Kit) SetWinogradGroups(g int) { k.groupsMax = max(1, g) }

// SetWinogradGEMM forces the Winograd GEMM kernel of a kit: "register",
// "tiled" or "tiled-small" (GPUs), or "" for the kit's choice.
func (k *Kit) SetWinogradGEMM(m string) { k.gemmMode = m }

// SetSubgroups turns the kit's kernel variants that share rows through
// subgroup shuffles (rowsKernel) on, where the device has them (the
// default), or off.
func (k *Kit) SetSubgroups(on bool) { k.noSubgroups = !on }

// KernelNames lists the kit's kernels (name and specialisation).
func (k *Kit) KernelNames() []string {
	return slices.Sorted(maps.Keys(k.kernels))
}

// TimeCandidates times n recordings of the same work as the tuner does.
func (k *Kit) TimeCandidates(n int, record func(s *gpu.Sequence, i int) error) ([]time.Duration, error) {
	return k.timeCandidates(n, record)
}

// Contenders lists the candidates the tuner keeps timing after its first
// round.
func Contenders(times []time.Duration) []int { return contenders(times) }

// CPUFamily reports whether a kit of the options o on a device described
// by info gets the CPU-device kernels.
func (o KernelOptions) CPUFamily(info gpu.DeviceInfo) bool { return o.cpuFamily(info) }

// RowBand is a row band (rowBand) for tests.
type RowBand struct{ N, Y0, Y1, A, B, Top, Bottom int }

// RowBands splits an input in of the window w (cout output channels) as
// a layer does when one binding holds lim elements and a dispatch
// maxRows output rows.
func RowBands(in Shape, w Window, cout, lim, maxRows int) ([]RowBand, error) {
	oh, ow, pad, err := w.Out(in.H, in.W)
	if err != nil {
		return nil, err
	}
	bs, err := rowBands("test", in, Shape{N: in.N, H: oh, W: ow, C: cout}, rowWindow{kh: w.KH, sh: w.SH, top: pad[0], bottom: pad[2]}, lim, maxRows)
	var out []RowBand
	for _, b := range bs {
		out = append(out, RowBand{b.n, b.y0, b.y1, b.a, b.b, b.top, b.bottom})
	}
	return out, err
}
