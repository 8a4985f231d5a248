//go:build cgo

package gpu

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	vk "github.com/vulkan-go/vulkan"
)

// devicePriv is the part of DeviceInfo that only the Vulkan backend uses.
// DeviceInfo embeds it, so these fields read as info.physical and so on.
type devicePriv struct {
	physical               vk.PhysicalDevice
	driverVersion          uint32
	cacheUUID              [16]byte
	timestampBits          uint32
	memory                 vk.PhysicalDeviceMemoryProperties
	hostVisibleDeviceLocal int
}

// instance is a VkInstance with the optional debug callback.
type instance struct {
	handle     vk.Instance
	debug      vk.DebugReportCallback
	validation bool
	messages   *messageLog
	adopted    bool // the application's: never destroyed here
}

func newInstance(validation bool) (*instance, error) {
	if err := load(); err != nil {
		return nil, err
	}
	// With validation: core validation plus synchronization validation,
	// which checks the barriers that sequences derive.
	var pNext unsafe.Pointer
	if validation {
		pNext = syncValidation()
	}
	h, r := createInstance(vk.MakeVersion(1, 1, 0), validation, pNext)
	if err := vkErr("vkCreateInstance", r); err != nil {
		if validation && (errors.Is(err, ErrLayerNotPresent) || errors.Is(err, ErrExtensionNotPresent)) {
			return nil, fmt.Errorf("%w (validation needs VK_LAYER_KHRONOS_validation: Debian package vulkan-validationlayers)", err)
		}
		if errors.Is(err, ErrNoDevice) || errors.Is(err, ErrInitFailed) {
			return nil, fmt.Errorf("%w: no Vulkan driver answered (Debian: mesa-vulkan-drivers runs Vulkan on the CPU; the CPU reference, device \"cpu\", needs none)", err)
		}
		return nil, err
	}
	if err := vk.InitInstance(h); err != nil {
		vk.DestroyInstance(h, nil)
		return nil, fmt.Errorf("%w: %v", ErrNoVulkan, err)
	}
	in := &instance{handle: h, validation: validation}
	if validation {
		in.messages = &messageLog{}
		if err := in.installDebug(); err != nil {
			vk.DestroyInstance(h, nil)
			return nil, err
		}
	}
	liveInstances.Add(1)
	madeInstances.Add(1)
	return in, nil
}

// liveInstances counts the VkInstances this package created and has not
// destroyed (LiveInstances), madeInstances all it created (MadeInstances).
var liveInstances, madeInstances atomic.Int64

// MadeInstances is how many Vulkan instances this process has made through
// the package, destroyed or not.
func MadeInstances() int64 { return madeInstances.Load() }

// LiveInstances is how many Vulkan instances this process made through the
// package and has not destroyed yet: one per open Device (and briefly
// one for Devices). Adopted instances are the application's and do not
// count. Tests check it for devices left open, which a driver may count
// against a limit of its own.
func LiveInstances() int64 { return liveInstances.Load() }

func (in *instance) close() {
	if in.validation && in.debug != vk.NullDebugReportCallback {
		vk.DestroyDebugReportCallback(in.handle, in.debug, nil)
		unregisterLog(in.messages)
	}
	if !in.adopted {
		vk.DestroyInstance(in.handle, nil)
		liveInstances.Add(-1)
	}
}

// messageLog collects validation messages.
type messageLog struct {
	mu   sync.Mutex
	msgs []string
}

func (l *messageLog) add(s string) {
	l.mu.Lock()
	l.msgs = append(l.msgs, s)
	l.mu.Unlock()
}

func (l *messageLog) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.msgs...)
}

// The Go binding routes every debug report through one Go function, so the
// logs of all instances with validation on are kept in one registry; each
// message goes to every log open at the time.
var (
	logsMu sync.Mutex
	logs   = map[*messageLog]bool{}
)

func unregisterLog(l *messageLog) {
	logsMu.Lock()
	delete(logs, l)
	logsMu.Unlock()
}

func debugCallback(flags vk.DebugReportFlags, _ vk.DebugReportObjectType, _ uint64, _ uint, code int32, prefix, msg string, _ unsafe.Pointer) vk.Bool32 {
	kind := "warning"
	if vk.DebugReportFlagBits(flags)&vk.DebugReportErrorBit != 0 {
		kind = "error"
	}
	s := fmt.Sprintf("%s %s [%d]: %s", prefix, kind, code, msg)
	logsMu.Lock()
	for l := range logs {
		l.add(s)
	}
	logsMu.Unlock()
	return vk.False
}

func (in *instance) installDebug() error {
	logsMu.Lock()
	logs[in.messages] = true
	logsMu.Unlock()
	info := &vk.DebugReportCallbackCreateInfo{
		SType: vk.StructureTypeDebugReportCallbackCreateInfo,
		Flags: vk.DebugReportFlags(vk.DebugReportErrorBit | vk.DebugReportWarningBit |
			vk.DebugReportPerformanceWarningBit),
		PfnCallback: debugCallback,
	}
	defer info.Free() // the binding's C copy of it
	if err := vkErr("vkCreateDebugReportCallbackEXT", into(&in.debug, func(p *vk.DebugReportCallback) vk.Result {
		return vk.CreateDebugReportCallback(in.handle, info, nil, p)
	})); err != nil {
		unregisterLog(in.messages)
		return err
	}
	return nil
}

// Devices lists the Vulkan devices that have a compute queue, in the
// order Vulkan reports them. It returns ErrNoVulkan without a loader.
func Devices() ([]DeviceInfo, error) {
	in, err := newInstance(false)
	if err != nil {
		return nil, err
	}
	defer in.close()
	return in.devices()
}

func (in *instance) devices() ([]DeviceInfo, error) {
	var n uint32
	if err := vkErr("vkEnumeratePhysicalDevices", vk.EnumeratePhysicalDevices(in.handle, &n, nil)); err != nil {
		return nil, err
	}
	pds := make([]vk.PhysicalDevice, n)
	if err := vkErr("vkEnumeratePhysicalDevices", vk.EnumeratePhysicalDevices(in.handle, &n, pds)); err != nil {
		return nil, err
	}
	var out []DeviceInfo
	for _, pd := range pds[:n] {
		info, ok := describe(in.handle, pd)
		if !ok {
			continue
		}
		info.Index = len(out)
		out = append(out, info)
	}
	return out, nil
}

func describe(inst vk.Instance, pd vk.PhysicalDevice) (DeviceInfo, bool) {
	var props vk.PhysicalDeviceProperties
	vk.GetPhysicalDeviceProperties(pd, &props)
	props.Deref()
	props.Limits.Deref()

	family, tsBits := computeQueue(pd)
	if family < 0 {
		return DeviceInfo{}, false
	}
	var mem vk.PhysicalDeviceMemoryProperties
	vk.GetPhysicalDeviceMemoryProperties(pd, &mem)
	mem.Deref()
	var heap uint64
	for i := uint32(0); i < mem.MemoryHeapCount; i++ {
		mem.MemoryHeaps[i].Deref()
		if vk.MemoryHeapFlagBits(mem.MemoryHeaps[i].Flags)&vk.MemoryHeapDeviceLocalBit != 0 && uint64(mem.MemoryHeaps[i].Size) > heap {
			heap = uint64(mem.MemoryHeaps[i].Size)
		}
	}
	for i := uint32(0); i < mem.MemoryTypeCount; i++ {
		mem.MemoryTypes[i].Deref()
	}
	l := props.Limits
	ex := queryExtra(inst, pd, props.ApiVersion)
	var coop []string
	for _, e := range deviceExtensions(pd) {
		if e == "VK_KHR_cooperative_matrix" || e == "VK_NV_cooperative_matrix" {
			coop = append(coop, e)
		}
	}
	info := DeviceInfo{
		Name:                  cString(props.DeviceName[:]),
		Type:                  deviceType(props.DeviceType),
		VendorID:              props.VendorID,
		DeviceID:              props.DeviceID,
		APIVersion:            fmt.Sprintf("%d.%d.%d", props.ApiVersion>>22, (props.ApiVersion>>12)&0x3ff, props.ApiVersion&0xfff),
		DeviceLocalBytes:      heap,
		MaxStorageBufferRange: uint64(l.MaxStorageBufferRange),
		MinStorageAlignment:   uint64(l.MinStorageBufferOffsetAlignment),
		MinTexelAlignment:     uint64(l.MinTexelBufferOffsetAlignment),
		MaxTexelElements:      uint64(l.MaxTexelBufferElements),
		MaxSharedMemory:       l.MaxComputeSharedMemorySize,
		MaxWorkgroupSize:      l.MaxComputeWorkGroupInvocations,
		SubgroupSize:          ex.subgroupSize,
		SubgroupShuffle:       ex.subgroupStages&uint32(vk.ShaderStageComputeBit) != 0 && ex.subgroupOps&uint32(vk.SubgroupFeatureShuffleBit) != 0,
		MaxAllocationBytes:    ex.maxAllocation,
		FP16:                  ex.fp16,
		Storage16Bit:          ex.storage16,
		HalfTexels:            texelFormat(pd, vk.FormatR16g16b16a16Sfloat),
		QueueFamily:           uint32(family),
		CooperativeMatrix:     coop,
		devicePriv:            devicePriv{physical: pd, timestampBits: tsBits, memory: mem, driverVersion: props.DriverVersion, cacheUUID: props.PipelineCacheUUID},
	}
	if ex.driverName != "" {
		info.Driver = strings.TrimSpace(ex.driverName + " " + ex.driverInfo)
	}
	if tsBits > 0 && l.TimestampComputeAndGraphics.B() {
		info.TimestampPeriodNS = l.TimestampPeriod
	}
	info.hostVisibleDeviceLocal = info.memoryType(^uint32(0), vk.MemoryPropertyDeviceLocalBit|vk.MemoryPropertyHostVisibleBit|vk.MemoryPropertyHostCoherentBit)
	info.UnifiedMemory = info.hostVisibleDeviceLocal >= 0 && info.Type != Discrete
	return info, true
}

// deviceExtensions lists the extensions a physical device offers (none
// where the query fails).
func deviceExtensions(pd vk.PhysicalDevice) []string {
	var n uint32
	if vk.EnumerateDeviceExtensionProperties(pd, "", &n, nil) != vk.Success || n == 0 {
		return nil
	}
	props := make([]vk.ExtensionProperties, n)
	if r := vk.EnumerateDeviceExtensionProperties(pd, "", &n, props); r != vk.Success && r != vk.Incomplete {
		return nil
	}
	names := make([]string, 0, n)
	for _, p := range props[:n] {
		p.Deref()
		names = append(names, cString(p.ExtensionName[:]))
	}
	return names
}

// stagingMemoryType is the memory type of staging buffers among typeBits:
// host visible and coherent, and cached where the device offers it,
// since the host reads downloads from it, and reading uncached
// (write-combined) memory is many times slower; discrete GPUs usually
// list such a type after an uncached one.
func (d *DeviceInfo) stagingMemoryType(typeBits uint32) int {
	want := vk.MemoryPropertyHostVisibleBit | vk.MemoryPropertyHostCoherentBit
	if mt := d.memoryType(typeBits, want|vk.MemoryPropertyHostCachedBit); mt >= 0 {
		return mt
	}
	return d.memoryType(typeBits, want)
}

// memoryType returns the first memory type index among typeBits (a mask
// from VkMemoryRequirements) with all the flags, or -1.
func (d *DeviceInfo) memoryType(typeBits uint32, flags vk.MemoryPropertyFlagBits) int {
	for i := uint32(0); i < d.memory.MemoryTypeCount; i++ {
		if typeBits&(1<<i) != 0 && vk.MemoryPropertyFlagBits(d.memory.MemoryTypes[i].PropertyFlags)&flags == flags {
			return int(i)
		}
	}
	return -1
}

func deviceType(t vk.PhysicalDeviceType) DeviceType {
	switch t {
	case vk.PhysicalDeviceTypeDiscreteGpu:
		return Discrete
	case vk.PhysicalDeviceTypeIntegratedGpu:
		return Integrated
	case vk.PhysicalDeviceTypeVirtualGpu:
		return Virtual
	case vk.PhysicalDeviceTypeCpu:
		return CPU
	}
	return Other
}

func cString(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}

// Device is an open Vulkan device with one compute queue. Several
// goroutines may create objects and submit sequences on it at once (each
// Sequence and Buffer itself belongs to one goroutine at a time); Close
// must come after all other use.
type Device struct {
	info   DeviceInfo
	inst   *instance
	handle vk.Device
	queue  vk.Queue
	// The pipeline cache (Options.PipelineCache), its file and the size
	// read from it.
	cache       vk.PipelineCache
	cachePath   string
	cacheLoaded int
	// The staging buffer and copy sequence of transfers to device-only
	// memory, made on first use.
	staged bool // Options.Staging
	// An adopted device is the application's: Close leaves it, and
	// submissions take the application's queue lock.
	adopted   bool
	queueLock sync.Locker
	half      bool // storageBuffer16BitAccess is enabled and half texels work: see Half

	submits atomic.Uint64 // vkQueueSubmit calls (Submissions)

	xfer         sync.Mutex
	staging      *Buffer
	stagingChunk int64 // tests: the staging chunk in bytes, if > 0 (stagingBytes)
	copySeq      *Sequence
	mu           sync.Mutex // guards live and the queue
	live         map[closer]string
	closed       bool
}

type closer interface{ Close() error }

// Open creates a device according to opts.
func Open(opts Options) (*Device, error) {
	in, err := newInstance(opts.Validation)
	if err != nil {
		if opts.Device != "" {
			return nil, fmt.Errorf("device %q: %w", opts.Device, err)
		}
		return nil, err
	}
	devs, err := in.devices()
	if err != nil {
		in.close()
		return nil, err
	}
	info, err := choose(devs, opts.Device)
	if err != nil {
		in.close()
		return nil, err
	}
	h, r := createDevice(info.physical, info.QueueFamily, info.Storage16Bit)
	if err := vkErr("vkCreateDevice", r); err != nil {
		in.close()
		return nil, err
	}
	d := &Device{info: info, inst: in, handle: h, live: map[closer]string{}, staged: opts.Staging,
		half: info.Storage16Bit && info.HalfTexels}
	if opts.PipelineCache != "" {
		if err := d.openCache(opts.PipelineCache); err != nil {
			vk.DestroyDevice(h, nil)
			in.close()
			return nil, err
		}
	}
	var queue vk.Queue
	vk.GetDeviceQueue(h, info.QueueFamily, 0, &queue)
	d.queue = queue
	return d, nil
}

// Half reports whether the device runs fp16 kernels: 16-bit storage
// buffers are enabled on it and it reads R16G16B16A16_SFLOAT texel
// buffers.
func (d *Device) Half() bool { return d.half }

// texelFormat reports whether f can be a uniform texel buffer's format.
func texelFormat(pd vk.PhysicalDevice, f vk.Format) bool {
	var p vk.FormatProperties
	vk.GetPhysicalDeviceFormatProperties(pd, f, &p)
	p.Deref()
	return vk.FormatFeatureFlagBits(p.BufferFeatures)&vk.FormatFeatureUniformTexelBufferBit != 0
}

// Info describes the device.
func (d *Device) Info() DeviceInfo { return d.info }

// Validation reports whether the validation layer is on.
func (d *Device) Validation() bool { return d.inst.validation }

// ValidationMessages returns every message the validation layer reported
// so far (nil when validation is off).
func (d *Device) ValidationMessages() []string {
	if d.inst.messages == nil {
		return nil
	}
	return d.inst.messages.all()
}

func (d *Device) track(c closer, what string) {
	d.mu.Lock()
	d.live[c] = what
	d.mu.Unlock()
}

func (d *Device) untrack(c closer) {
	d.mu.Lock()
	delete(d.live, c)
	d.mu.Unlock()
}

// WaitIdle waits until the device has finished all submitted work.
func (d *Device) WaitIdle() error {
	if d.closed {
		return ErrClosed
	}
	return vkErr("vkDeviceWaitIdle", vk.DeviceWaitIdle(d.handle))
}

// Submissions is how many submissions the device has made to its queue
// since it opened: every Sequence start, transfer step and signal. It
// tells how many round trips a piece of work costs.
func (d *Device) Submissions() uint64 { return d.submits.Load() }

// lockQueue takes the queue for a submission: the application's lock on
// an adopted device, else the device's own.
func (d *Device) lockQueue() func() {
	if d.queueLock != nil {
		d.queueLock.Lock()
		return d.queueLock.Unlock
	}
	d.mu.Lock()
	return d.mu.Unlock
}

// Close waits for the device to go idle and destroys it. Objects created
// from it that are still open are closed too, and Close then returns an
// error wrapping ErrLeak that counts them. Close is idempotent and nil-safe.
func (d *Device) Close() error {
	if d == nil || d.closed {
		return nil
	}
	var errs []error
	// An adopted device may be busy with the application's work; each of
	// this engine's sequences waits for its own submission when closed.
	if !d.adopted {
		if err := d.WaitIdle(); err != nil {
			errs = append(errs, err)
		}
	}
	// The device's own transfer objects are not the caller's leaks.
	d.xfer.Lock()
	for _, err := range []error{d.copySeq.Close(), d.staging.Close()} {
		if err != nil {
			errs = append(errs, err)
		}
	}
	d.copySeq, d.staging = nil, nil
	d.xfer.Unlock()
	d.mu.Lock()
	live := d.live
	d.live = map[closer]string{}
	d.mu.Unlock()
	var leaked []string
	for c, what := range live {
		leaked = append(leaked, what)
		c.Close()
	}
	if err := d.saveCache(); err != nil {
		errs = append(errs, err)
	}
	d.closed = true
	if !d.adopted {
		vk.DestroyDevice(d.handle, nil)
	}
	d.inst.close()
	if len(leaked) > 0 {
		sort.Strings(leaked)
		errs = append(errs, fmt.Errorf("%w: %s", ErrLeak, strings.Join(leaked, ", ")))
	}
	if len(errs) > 0 {
		return fmt.Errorf("gpu: Device.Close: %w", errors.Join(errs...))
	}
	return nil
}
