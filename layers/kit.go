package layers

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"sync/atomic"
	"time"

	"github.com/vkvgg/vkvgg/gpu"
	"github.com/vkvgg/vkvgg/shaders"
)

// Tensor is an activation on the GPU: Shape's elements, NHWC, starting at
// element Off of Buf. fc activations use Shape{N: rows, H: 1, W: 1, C: features}.
// Its elements are of the kit's precision: float32, or 16-bit floats for
// an FP16 kit (Off then counts 16-bit elements).
type Tensor struct {
	Buf   *gpu.Buffer
	Off   int
	Shape Shape
}

func (t Tensor) check(what, name string, es int) error {
	if t.Buf == nil {
		return fmt.Errorf("layers: %s: %s has no buffer", what, name)
	}
	if err := t.Shape.check(what); err != nil {
		return err
	}
	if t.Off < 0 || int64(t.Off+t.Shape.Len())*int64(es) > t.Buf.Size() {
		return fmt.Errorf("layers: %s: %s %v at element %d does not fit its %d-byte buffer", what, name, t.Shape, t.Off, t.Buf.Size())
	}
	return nil
}

// checkInOut checks the input and output tensors of a layer.
func (k *Kit) checkInOut(what string, in, out Tensor) error {
	if err := in.check(what, "input", k.es); err != nil {
		return err
	}
	return out.check(what, "output", k.es)
}

// ConvConfig is the tiling of the conv3x3 kernels (their specialization
// constants).
//
// The shared-memory kernel (Register false, for GPUs): a workgroup
// computes BM pixels x BN output channels, K steps of BK input channels
// staged in shared memory, each invocation TM x TN outputs.
//
// The register-blocked kernel (Register true, for CPU devices such as
// lavapipe, where every load costs a loop over the SIMD lanes): each
// invocation computes TM pixels x TN output channels (TN a multiple of 4)
// reading vec4 texel buffers, up to WG invocations per workgroup (fewer
// when the layer has fewer than WG*TN output channels). It needs input
// and output channel counts that are multiples of 4; other layers use the
// shared-memory kernel with the Fallback tiling.
type ConvConfig struct {
	Register           bool
	BM, BN, BK, TM, TN int
	WG                 int
	Fallback           *ConvConfig
}

func (c ConvConfig) workgroup() int {
	if c.Register {
		return c.WG
	}
	return (c.BM / c.TM) * (c.BN / c.TN)
}

// narrow fits a register tiling to a layer of cout output channels:
// narrow layers get narrower invocations (tn channels, a multiple of 4)
// so that a workgroup of wg invocations still fills its lanes.
func (c ConvConfig) narrow(cout int) (wg, tn int) {
	tn = max(4, min(c.TN, cout/c.WG/4*4))
	return max(1, min(c.WG, (cout+tn-1)/tn)), tn
}

// Validate reports whether the tiling is usable on dev.
func (c ConvConfig) Validate(dev gpu.DeviceInfo) error {
	if c.Register {
		if c.TM < 1 || c.TN < 4 || c.TN%4 != 0 || c.WG < 1 || c.WG > int(dev.MaxWorkgroupSize) {
			return fmt.Errorf("layers: register conv tiling %+v: TM >= 1, TN a positive multiple of 4, WG in [1, %d]", c, dev.MaxWorkgroupSize)
		}
		if c.Fallback == nil || c.Fallback.Register {
			return fmt.Errorf("layers: register conv tiling %+v needs a shared-memory fallback tiling", c)
		}
		return c.Fallback.Validate(dev)
	}
	if c.BM < 1 || c.BN < 1 || c.BK < 1 || c.TM < 1 || c.TN < 1 || c.BM%c.TM != 0 || c.BN%c.TN != 0 {
		return fmt.Errorf("layers: conv tiling %+v: tiles must be positive and BM, BN multiples of TM, TN", c)
	}
	wg := c.workgroup()
	if wg > int(dev.MaxWorkgroupSize) || wg > 1024 {
		return fmt.Errorf("layers: conv tiling %+v: workgroup of %d invocations exceeds the device's %d", c, wg, dev.MaxWorkgroupSize)
	}
	if sh := 4 * c.BK * (c.BM + c.BN); sh > int(dev.MaxSharedMemory) {
		return fmt.Errorf("layers: conv tiling %+v: needs %d bytes of shared memory, device has %d", c, sh, dev.MaxSharedMemory)
	}
	return nil
}

// KernelOptions choose among the kernels a kit builds; the zero value
// chooses by device and by measurement. Programs and tests set them
// (the vkvgg command from EnvKernels, EnvWinograd and EnvSubgroups through
// KernelOptionsFromEnv); the library reads no environment.
type KernelOptions struct {
	// Family is the kernel family: "cpu" for the kernels written for CPU
	// devices (register tiles, texel buffers), "gpu" for those written
	// for GPUs (shared memory, storage buffers), "" or "auto" by device
	// type. Tests run the GPU kernels on lavapipe with "gpu".
	Family string
	// Winograd is the algorithm of 3x3 stride-1 convolutions whose
	// channel counts are multiples of 4: "f2" (Winograd F(2x2,3x3)
	// wherever it applies), "f4" (F(4x4,3x3)), "off" (direct), or "" or
	// "auto": each layer and input shape is timed all three ways once per
	// device, the fastest is kept, and the choices are saved beside the
	// device's pipeline cache.
	Winograd string
	// NoSubgroups keeps the kernels from using subgroup operations where
	// the device offers them (the _sg variants of the register kernels,
	// which share the rows of a workgroup by subgroup shuffles): for
	// comparing, and for drivers whose subgroup support is in doubt.
	NoSubgroups bool
	// Retune times every choice again instead of taking the ones saved
	// beside the device's pipeline cache, and saves the new ones over
	// them (vkvgg tune): for a choice timed in a noisy moment, or after a
	// driver update that kept the driver's version.
	Retune bool
	// TuneRounds is how many timed rounds each candidate gets (0: 3).
	// More rounds give steadier choices on a busy machine.
	TuneRounds int
}

// The values of KernelOptions.Family and KernelOptions.Winograd ("" is
// Auto).
const (
	Auto        = "auto"
	FamilyCPU   = "cpu"
	FamilyGPU   = "gpu"
	WinogradF2  = algoF2
	WinogradF4  = algoF4
	WinogradOff = "off"
)

// The tuner's timed rounds per candidate (KernelOptions.TuneRounds): by
// default, and at most.
const (
	defaultTuneRounds = 3
	MaxTuneRounds     = 100
)

// ErrOptions is the error of KernelOptions a kit does not know.
var ErrOptions = errors.New("layers: unknown kernel option")

// Validate names a field with a value no kit knows.
func (o KernelOptions) Validate() error {
	if o.TuneRounds < 0 || o.TuneRounds > MaxTuneRounds {
		return fmt.Errorf("%w: TuneRounds %d: want 0 (the default, %d) to %d", ErrOptions, o.TuneRounds, defaultTuneRounds, MaxTuneRounds)
	}
	if err := checkFamily(o.Family); err != nil {
		return fmt.Errorf("%w: Family %v", ErrOptions, err)
	}
	if err := checkWinograd(o.Winograd); err != nil {
		return fmt.Errorf("%w: Winograd %v", ErrOptions, err)
	}
	return nil
}

func checkFamily(s string) error {
	switch s {
	case "", Auto, FamilyCPU, FamilyGPU:
		return nil
	}
	return fmt.Errorf("%q: want cpu, gpu or auto", s)
}

func checkWinograd(s string) error {
	switch s {
	case "", Auto, WinogradF2, WinogradF4, WinogradOff:
		return nil
	}
	return fmt.Errorf("%q: want f2, f4, off or auto", s)
}

// The environment variables of KernelOptions, read by the vkvgg command
// and the tests: VKVGG_KERNELS=cpu|gpu|auto is Family,
// VKVGG_WINOGRAD=f2|f4|off|auto is Winograd, VKVGG_SUBGROUPS=off|on is
// NoSubgroups.
const (
	EnvKernels   = "VKVGG_KERNELS"
	EnvWinograd  = "VKVGG_WINOGRAD"
	EnvSubgroups = "VKVGG_SUBGROUPS"
)

// KernelOptionsFromEnv reads EnvKernels, EnvWinograd and EnvSubgroups
// through getenv (os.Getenv in a program) and checks them, naming the
// variable of a value it does not know.
func KernelOptionsFromEnv(getenv func(string) string) (KernelOptions, error) {
	o := KernelOptions{Family: getenv(EnvKernels), Winograd: getenv(EnvWinograd)}
	if err := checkFamily(o.Family); err != nil {
		return KernelOptions{}, fmt.Errorf("%w: %s=%v", ErrOptions, EnvKernels, err)
	}
	if err := checkWinograd(o.Winograd); err != nil {
		return KernelOptions{}, fmt.Errorf("%w: %s=%v", ErrOptions, EnvWinograd, err)
	}
	switch s := getenv(EnvSubgroups); s {
	case "", "on":
	case "off":
		o.NoSubgroups = true
	default:
		return KernelOptions{}, fmt.Errorf("%w: %s=%q: want on or off", ErrOptions, EnvSubgroups, s)
	}
	return o, nil
}

// cpuFamily reports whether a kit with options o on dev gets the
// CPU-device kernels.
func (o KernelOptions) cpuFamily(dev gpu.DeviceInfo) bool {
	switch o.Family {
	case FamilyCPU:
		return true
	case FamilyGPU:
		return false
	}
	return dev.Type == gpu.CPU
}

// DefaultConvConfig is the tiling a kit with the default options chooses
// for a device: the register kernel on CPU devices, the shared-memory
// kernel elsewhere.
func DefaultConvConfig(dev gpu.DeviceInfo) ConvConfig {
	return defaultConvConfig(dev, dev.Type == gpu.CPU)
}

// defaultConvConfig is the tiling of a kit of the CPU-device family (cpu)
// or the GPU family.
func defaultConvConfig(dev gpu.DeviceInfo, cpu bool) ConvConfig {
	tiled := ConvConfig{BM: 64, BN: 64, BK: 8, TM: 4, TN: 4}
	if tiled.Validate(dev) != nil {
		tiled = ConvConfig{BM: 32, BN: 32, BK: 8, TM: 4, TN: 4} // 64 invocations, 2 KiB of shared memory
	}
	if cpu {
		return ConvConfig{Register: true, TM: 16, TN: 16, WG: 8, Fallback: &tiled}
	}
	return tiled
}

// Kit builds and caches the GPU kernels of the layers for one device. It
// owns the kernels; Close frees them.
type Kit struct {
	dev     *gpu.Device
	info    gpu.DeviceInfo
	prec    Precision
	es      int // bytes of a stored element (prec.Size())
	conv    ConvConfig
	cpu     bool // CPU-device kernels (KernelOptions.Family)
	kernels map[string]*gpu.Kernel
	limit   int // test override of maxWindow, in elements
	wg      int // test override of ewg

	wino          string                              // KernelOptions.Winograd: "f2", "f4", "off" or "auto"
	winoV, winoM  *gpu.Buffer                         // Winograd scratch, shared by the kit's layers
	tuned         map[string]string                   // auto: the fastest algorithm, by layer and shape
	tunedTimes    map[string]map[string]time.Duration // the candidates' times of the choices timed by this kit
	used          map[string]bool                     // the keys of the choices the kit's layers made (Tuned)
	saveErr       error                               // the last saveTuning's
	rounds        int                                 // timed rounds per candidate
	fcMode        string                              // tests: force the fc kernel (fcStorage, fcTexel, fcTexelWide)
	tileMode      string                              // tests: force the GPU conv tiles ("small", "large")
	colMode       string                              // tests: force direct or im2col general convs (convDirect, convIm2col)
	gemmMode      string                              // tests: force the Winograd GEMM kernel (gemmRegister, gemmTiled, gemmTiledSmall)
	noSubgroups   bool                                // KernelOptions.NoSubgroups, or tests and benchmarks: no _sg kernel variants (rowsKernel)
	groupsMax     int                                 // tests and benchmarks: winoGroupsMax instead, if > 0
	scratchFloats int                                 // tests and benchmarks: the Winograd and pooling scratch sizes in floats, if > 0
	tuneFile      string                              // where tuned is kept ("" for nowhere)
	held          atomic.Int64                        // bytes of HeldBytes
}

// NewKit prepares the layers for dev with its default tilings, in fp32.
func NewKit(dev *gpu.Device) *Kit {
	k, _ := NewKitPrecision(dev, FP32)
	return k
}

// NewKitPrecision is NewKit storing tensors and weights in precision p.
// FP16 needs a device with 16-bit storage buffers and fp16 texel buffers
// (gpu.Device.Half); it is an error elsewhere.
func NewKitPrecision(dev *gpu.Device, p Precision) (*Kit, error) {
	return NewKitOptions(dev, p, KernelOptions{})
}

// NewKitOptions is NewKitPrecision with the kernels chosen by o.
func NewKitOptions(dev *gpu.Device, p Precision, o KernelOptions) (*Kit, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if err := CheckPrecision(dev, p); err != nil {
		return nil, err
	}
	info := dev.Info()
	cpu := o.cpuFamily(info)
	wino := o.Winograd
	if wino == "" {
		wino = Auto
	}
	k := &Kit{dev: dev, info: info, prec: p, es: p.Size(), conv: defaultConvConfig(info, cpu), cpu: cpu, kernels: map[string]*gpu.Kernel{},
		wino: wino, tuned: map[string]string{}, tunedTimes: map[string]map[string]time.Duration{}, used: map[string]bool{}, rounds: defaultTuneRounds,
		tuneFile: dev.TuningFile(), noSubgroups: o.NoSubgroups}
	if o.TuneRounds > 0 {
		k.rounds = o.TuneRounds
	}
	if !o.Retune {
		k.loadTuning()
	}
	return k, nil
}

// Precision is how the kit stores tensors and weights.
func (k *Kit) Precision() Precision { return k.prec }

// ElemSize is the bytes of one element of the kit's tensors.
func (k *Kit) ElemSize() int { return k.es }

// Device is the kit's device.
func (k *Kit) Device() *gpu.Device { return k.dev }

// SetConvConfig changes the conv3x3 tiling (benchmarks and tests use it).
func (k *Kit) SetConvConfig(c ConvConfig) error {
	if err := c.Validate(k.info); err != nil {
		return err
	}
	k.conv = c
	return nil
}

// ConvConfig is the conv3x3 tiling in use.
func (k *Kit) ConvConfig() ConvConfig { return k.conv }

// Close frees the kernels. It is idempotent and nil-safe.
func (k *Kit) Close() error {
	if k == nil {
		return nil
	}
	if k.winoV != nil {
		k.held.Add(-k.winoV.Size() - k.winoM.Size())
	}
	errs := []error{k.winoV.Close(), k.winoM.Close()}
	k.winoV, k.winoM = nil, nil
	for key, kern := range k.kernels {
		errs = append(errs, kern.Close())
		delete(k.kernels, key)
	}
	return errors.Join(errs...)
}

// kernel returns the cached pipeline of a shader with its specialization.
func (k *Kit) kernel(name string, bindings, push int, spec ...uint32) (*gpu.Kernel, error) {
	return k.kernelTexels(name, bindings, 0, push, spec...)
}

// kernelTexels is kernel for shaders that read texel buffers (a bit mask
// of bindings). An FP16 kit takes a shader's fp16 variant where it has
// one (name_f16: shaders whose storage buffers hold tensors or weights);
// the others read tensors only through texels or touch only fp32 data.
func (k *Kit) kernelTexels(name string, bindings int, texels uint32, push int, spec ...uint32) (*gpu.Kernel, error) {
	if k.prec == FP16 && shaders.Has(name+"_f16") {
		name += "_f16"
	}
	key := fmt.Sprint(name, spec)
	if kern, ok := k.kernels[key]; ok {
		return kern, nil
	}
	code, err := shaders.SPIRV(name)
	if err != nil {
		return nil, err
	}
	kern, err := k.dev.NewKernel(gpu.KernelSpec{Name: strings.ReplaceAll(key, " ", ","), SPIRV: code, Bindings: bindings, Texels: texels, PushWords: push, Spec: spec})
	if err != nil {
		return nil, err
	}
	k.kernels[key] = kern
	return kern, nil
}

// elementwiseWG is the workgroup size of the element-wise kernels, where
// the device allows it (Vulkan guarantees 128 invocations).
const elementwiseWG = 256

// ewg is the element-wise workgroup size for the kit's device.
func (k *Kit) ewg() int {
	if k.wg > 0 {
		return k.wg
	}
	return min(elementwiseWG, int(k.info.MaxWorkgroupSize))
}

// grid spreads n invocations in workgroups of wg over x and y (at most
// 65535 workgroups per axis).
func grid(n, wg int) ([3]int, error) {
	groups := (n + wg - 1) / wg
	if groups <= 65535 {
		return [3]int{max(groups, 1), 1, 1}, nil
	}
	y := (groups + 65534) / 65535
	if y > 65535 {
		return [3]int{}, fmt.Errorf("layers: %d invocations are too many for one dispatch", n)
	}
	return [3]int{65535, y, 1}, nil
}

// window is a view of tensor elements [start, start+n) of buf whose
// offset is aligned down to the device's storage alignment, and the
// element offset of start within it.
func (k *Kit) window(buf *gpu.Buffer, start, n int) (gpu.View, uint32) {
	return windowOf(buf, start, n, k.es, k.align())
}

// window32 is window for buffers of 32-bit elements whatever the kit's
// precision: fp32 scratch, biases, packed pixels.
func (k *Kit) window32(buf *gpu.Buffer, start, n int) (gpu.View, uint32) {
	return windowOf(buf, start, n, 4, k.align())
}

// windowOf is window for elements of es bytes. The size is rounded up to
// whole 32-bit words (Vulkan's storage views) within the buffer.
func windowOf(buf *gpu.Buffer, start, n, es int, align int64) (gpu.View, uint32) {
	off := int64(start) * int64(es)
	aoff := off / align * align
	size := min((off-aoff+int64(n)*int64(es)+3)/4*4, buf.Size()-aoff)
	return buf.Slice(aoff, size), uint32((off - aoff) / int64(es))
}

// texels binds a tensor or weight view as a vec4 texel buffer of the
// kit's precision.
func (k *Kit) texels(v gpu.View) gpu.Arg {
	if k.prec == FP16 {
		return gpu.HalfTexels(v)
	}
	return gpu.Texels(v)
}

// maxWindow is the most tensor elements one binding may cover, leaving
// room for the alignment slack of window.
func (k *Kit) maxWindow() int {
	if k.limit > 0 {
		return k.limit
	}
	return int((int64(k.info.MaxStorageBufferRange) - k.align()) / int64(k.es))
}

// maxFloats is maxWindow for fp32 elements.
func (k *Kit) maxFloats() int {
	if k.limit > 0 {
		return k.limit
	}
	return int((int64(k.info.MaxStorageBufferRange) - k.align()) / 4)
}

// maxTexelWindow is the most tensor elements one vec4 texel binding may
// cover (maxTexelBufferElements vec4s, at most 2^31-1 bytes).
func (k *Kit) maxTexelWindow() int {
	if k.limit > 0 {
		return k.limit
	}
	return int(min(int64(k.info.MaxTexelElements)*4*int64(k.es)-k.align(), 1<<31-1) / int64(k.es))
}

// align is the offset alignment of every binding window, in bytes.
func (k *Kit) align() int64 {
	return int64(max(k.info.MinStorageAlignment, k.info.MinTexelAlignment, 4))
}

// batchChunks splits n images so that perImage elements of each of the
// bound tensors fit one binding and at most maxImgs images go in a chunk.
// lim is the binding limit in elements (maxWindow, or less for texel
// bindings).
func (k *Kit) batchChunks(what string, n int, perImage []int, maxImgs, lim int) ([][2]int, error) {
	per := n
	for _, p := range perImage {
		if p > lim {
			return nil, fmt.Errorf("layers: %s: one image needs %d bytes in a binding, over this device's limit of %d bytes: use a smaller input", what, k.es*p, k.es*lim)
		}
		per = min(per, lim/p)
	}
	per = max(1, min(per, maxImgs))
	var out [][2]int
	for i := 0; i < n; i += per {
		out = append(out, [2]int{i, min(n, i+per)})
	}
	return out, nil
}

// Affine is a per-channel input transform: out[c] = in[Perm[c]] * Mul[c] + Add[c].
type Affine struct {
	Perm     [3]int
	Mul, Add [3]float32
}

// Preprocess records an input transform from in (RGB, C = 3) to out (the
// same shape).
func (k *Kit) Preprocess(s *gpu.Sequence, in, out Tensor, a Affine) error {
	const what = "preprocess"
	if err := k.checkInOut(what, in, out); err != nil {
		return err
	}
	is, os := in.Shape, out.Shape
	if is.C != 3 || os != is {
		return fmt.Errorf("layers: preprocess: input %v and output %v must be equal, with 3 channels", is, os)
	}
	kern, err := k.kernel("preprocess", 2, 12, uint32(k.ewg()))
	if err != nil {
		return err
	}
	return k.pixelChunks(s, what, kern, in, out, 1, func(pixels int, ib, ob uint32) []uint32 {
		push := []uint32{uint32(pixels), ib, ob, uint32(a.Perm[0]), uint32(a.Perm[1]), uint32(a.Perm[2])}
		for _, v := range a.Mul {
			push = append(push, math.Float32bits(v))
		}
		for _, v := range a.Add {
			push = append(push, math.Float32bits(v))
		}
		return push
	})
}

// PadChannels records a copy of in into out, which has the same pixels
// and more channels; the extra channels are zero.
func (k *Kit) PadChannels(s *gpu.Sequence, in, out Tensor) error {
	const what = "pad channels"
	if err := k.checkInOut(what, in, out); err != nil {
		return err
	}
	is, os := in.Shape, out.Shape
	if os.N != is.N || os.H != is.H || os.W != is.W || os.C < is.C {
		return fmt.Errorf("layers: pad channels: input %v, output %v", is, os)
	}
	kern, err := k.kernel("padc", 2, 5, uint32(k.ewg()))
	if err != nil {
		return err
	}
	return k.pixelChunks(s, what, kern, in, out, os.C, func(pixels int, ib, ob uint32) []uint32 {
		return []uint32{uint32(pixels), uint32(is.C), uint32(os.C), ib, ob}
	})
}

// Eltwise records out = a (+ b when add) with an optional ReLU; the three
// tensors have one shape (b is ignored without add).
func (k *Kit) Eltwise(s *gpu.Sequence, a, b, out Tensor, add, relu bool) error {
	const what = "eltwise"
	if err := k.checkInOut(what, a, out); err != nil {
		return err
	}
	if err := b.check(what, "second input", k.es); err != nil {
		return err
	}
	if a.Shape != out.Shape || b.Shape != out.Shape {
		return fmt.Errorf("layers: eltwise: shapes %v, %v, %v differ", a.Shape, b.Shape, out.Shape)
	}
	// Four elements per invocation where every window starts at a
	// multiple of 4 elements (the alignment of a window's start is a
	// multiple of 16 bytes on every device that matters; checked anyway).
	total := out.Shape.Len()
	vec := total%4 == 0 && a.Off%4 == 0 && b.Off%4 == 0 && out.Off%4 == 0 && k.align()%16 == 0
	name, per := "eltwise", 1
	if vec {
		name, per = "eltwise4", 4
	}
	kern, err := k.kernel(name, 3, 5, uint32(k.ewg()))
	if err != nil {
		return err
	}
	flags := uint32(0)
	if add {
		flags |= 1
	}
	if relu {
		flags |= 2
	}
	step := k.maxWindow() / 64 * 64
	for i0 := 0; i0 < total; i0 += step {
		n := min(step, total-i0)
		av, ab := k.window(a.Buf, a.Off+i0, n)
		bv, bb := k.window(b.Buf, b.Off+i0, n)
		ov, ob := k.window(out.Buf, out.Off+i0, n)
		g, err := grid(n/per, k.ewg())
		if err != nil {
			return err
		}
		p := uint32(per)
		if err := s.Dispatch(kern, g, []uint32{uint32(n / per), ab / p, bb / p, ob / p, flags}, gpu.R(av), gpu.R(bv), gpu.W(ov)); err != nil {
			return err
		}
	}
	return nil
}

// imageChunks dispatches an image-wise kernel (input binding 0, output
// binding 1) over chunks of images that fit one binding each, with
// threads invocations per image and push constants from push (images in
// the chunk, element bases of the two windows).
func (k *Kit) imageChunks(s *gpu.Sequence, what string, kern *gpu.Kernel, in, out Tensor, threads int, push func(n int, ib, ob uint32) []uint32) error {
	return k.imageChunksTexel(s, what, kern, in, out, threads, false, push)
}

// pixelChunks is imageChunks for a kernel whose every output pixel reads
// only its own input pixel: images too large for one binding run in row
// bands (any rows: no window overlaps). It dispatches perPixel
// invocations a pixel, with push constants from push (the pixels of the
// chunk or band, element bases of the two windows).
func (k *Kit) pixelChunks(s *gpu.Sequence, what string, kern *gpu.Kernel, in, out Tensor, perPixel int, push func(pixels int, ib, ob uint32) []uint32) error {
	return bandsOf(what, in, out, nil, pixelwise, k.maxWindow(), in.Shape.H, func(in, out Tensor, _ *Tensor, _, _ int) error {
		pix := in.Shape.H * in.Shape.W
		return k.imageChunks(s, what, kern, in, out, pix*perPixel, func(n int, ib, ob uint32) []uint32 { return push(n*pix, ib, ob) })
	})
}

// imageChunksTexel is imageChunks with, when texel is set, the input
// bound as a vec4 texel buffer.
func (k *Kit) imageChunksTexel(s *gpu.Sequence, what string, kern *gpu.Kernel, in, out Tensor, threads int, texel bool, push func(n int, ib, ob uint32) []uint32) error {
	is, os := in.Shape, out.Shape
	lim := k.maxWindow()
	if texel {
		lim = min(lim, k.maxTexelWindow())
	}
	chunks, err := k.batchChunks(what, is.N, []int{is.Image(), os.Image()}, 1<<30, lim)
	if err != nil {
		return err
	}
	for _, c := range chunks {
		n := c[1] - c[0]
		iv, ib := k.window(in.Buf, in.Off+c[0]*is.Image(), n*is.Image())
		ov, ob := k.window(out.Buf, out.Off+c[0]*os.Image(), n*os.Image())
		g, err := grid(n*threads, k.ewg())
		if err != nil {
			return err
		}
		inArg := gpu.R(iv)
		if texel {
			inArg = k.texels(iv)
		}
		if err := s.Dispatch(kern, g, push(n, ib, ob), inArg, gpu.W(ov)); err != nil {
			return err
		}
	}
	return nil
}

// UnpackRGBA8 records the conversion of n RGBA8 pixels (32-bit words
// from element inOff of in, red in the low byte) into RGB in [0,1] at
// tensor element outOff of out.
func (k *Kit) UnpackRGBA8(s *gpu.Sequence, in *gpu.Buffer, inOff int, out *gpu.Buffer, outOff, n int) error {
	if n < 1 || inOff < 0 || outOff < 0 || int64(inOff+n)*4 > in.Size() || int64(outOff+3*n)*int64(k.es) > out.Size() {
		return fmt.Errorf("layers: rgba8: %d pixels from word %d of a %d-byte buffer into element %d of a %d-byte one", n, inOff, in.Size(), outOff, out.Size())
	}
	kern, err := k.kernel("rgba8", 2, 3, uint32(k.ewg()))
	if err != nil {
		return err
	}
	step := min(k.maxFloats(), k.maxWindow()/3) / 64 * 64
	for i0 := 0; i0 < n; i0 += step {
		m := min(step, n-i0)
		iv, ib := k.window32(in, inOff+i0, m)
		ov, ob := k.window(out, outOff+3*i0, 3*m)
		g, err := grid(m, k.ewg())
		if err != nil {
			return err
		}
		if err := s.Dispatch(kern, g, []uint32{uint32(m), ib, ob}, gpu.R(iv), gpu.W(ov)); err != nil {
			return err
		}
	}
	return nil
}

// GlobalPool records global average or max pooling of in [N,H,W,C] into
// out [N,1,1,C] as a parallel reduction (gpool.comp): one workgroup per
// image and block of channels, rather than one serial loop per channel.
func (k *Kit) GlobalPool(s *gpu.Sequence, in, out Tensor, avg bool) error {
	const what = "global pool"
	if err := k.checkInOut(what, in, out); err != nil {
		return err
	}
	is := in.Shape
	if want := (Shape{is.N, 1, 1, is.C}); out.Shape != want {
		return fmt.Errorf("layers: global pool: output %v, want %v", out.Shape, want)
	}
	// 32 channels by 8 pixel groups, or by 4 where a device allows only
	// the 128 invocations Vulkan guarantees (the groups must be a power
	// of two).
	const cb = 32
	wg := 256
	if wg > int(k.info.MaxWorkgroupSize) {
		wg = 128
	}
	a := uint32(0)
	if avg {
		a = 1
	}
	kern, err := k.kernel("gpool", 2, 5, uint32(wg), cb, a)
	if err != nil {
		return err
	}
	chunks, err := k.batchChunks(what, is.N, []int{is.Image(), is.C}, 65535, k.maxWindow())
	if err != nil {
		return err
	}
	for _, c := range chunks {
		n := c[1] - c[0]
		iv, ib := k.window(in.Buf, in.Off+c[0]*is.Image(), n*is.Image())
		ov, ob := k.window(out.Buf, out.Off+c[0]*is.C, n*is.C)
		groups := [3]int{(is.C + cb - 1) / cb, n, 1}
		if err := s.Dispatch(kern, groups, []uint32{uint32(n), uint32(is.H * is.W), uint32(is.C), ib, ob}, gpu.R(iv), gpu.W(ov)); err != nil {
			return err
		}
	}
	return nil
}

// Softmax records a softmax over the last axis: in and out are
// [rows, m] (Shape{N: rows, H: 1, W: 1, C: m}).
func (k *Kit) Softmax(s *gpu.Sequence, in, out Tensor) error {
	const what = "softmax"
	if err := k.checkInOut(what, in, out); err != nil {
		return err
	}
	if in.Shape != out.Shape {
		return fmt.Errorf("layers: softmax: input %v and output %v differ", in.Shape, out.Shape)
	}
	rows, m := in.Shape.N, in.Shape.Image()
	if rows > 65535 {
		return fmt.Errorf("layers: softmax: %d rows, at most 65535", rows)
	}
	kern, err := k.kernel("softmax", 2, 4, 64)
	if err != nil {
		return err
	}
	if rows*m > k.maxWindow() {
		return fmt.Errorf("layers: softmax: %v does not fit one binding", in.Shape)
	}
	iv, ib := k.window(in.Buf, in.Off, rows*m)
	ov, ob := k.window(out.Buf, out.Off, rows*m)
	return s.Dispatch(kern, [3]int{rows, 1, 1}, []uint32{uint32(rows), uint32(m), ib, ob}, gpu.R(iv), gpu.W(ov))
}
