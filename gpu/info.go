package gpu

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// Environment variables of Options, read by the vkvgg command and the
// tests (the package reads no environment).
const (
	// EnvDevice is Options.Device where a program's own setting is empty:
	// an index from Devices or a case-insensitive substring of the device
	// name.
	EnvDevice = "VKVGG_DEVICE"
	// EnvValidation set to 1 is Options.Validation.
	EnvValidation = "VKVGG_VALIDATION"
)

// DeviceType is the kind of a physical device, in order of preference.
type DeviceType int

// Device types, most preferred first.
const (
	Discrete DeviceType = iota
	Integrated
	Virtual
	CPU
	Other
)

func (t DeviceType) String() string {
	switch t {
	case Discrete:
		return "discrete GPU"
	case Integrated:
		return "integrated GPU"
	case Virtual:
		return "virtual GPU"
	case CPU:
		return "CPU"
	}
	return "other"
}

// DeviceInfo describes a Vulkan device with a compute queue.
type DeviceInfo struct {
	Index                 int    // position in the list returned by Devices
	Name                  string // VkPhysicalDeviceProperties.deviceName
	Type                  DeviceType
	VendorID, DeviceID    uint32
	Driver                string // driver name and info where the device reports them (Vulkan 1.2)
	APIVersion            string // e.g. "1.3.230"
	DeviceLocalBytes      uint64 // size of the largest device-local heap
	MaxStorageBufferRange uint64 // largest storage buffer one binding may cover
	MaxAllocationBytes    uint64 // maxMemoryAllocationSize (Vulkan 1.1), else 0
	MinStorageAlignment   uint64 // minStorageBufferOffsetAlignment
	MinTexelAlignment     uint64 // minTexelBufferOffsetAlignment
	MaxTexelElements      uint64 // maxTexelBufferElements
	MaxSharedMemory       uint32 // maxComputeSharedMemorySize in bytes
	MaxWorkgroupSize      uint32 // maxComputeWorkGroupInvocations
	SubgroupSize          uint32
	// SubgroupShuffle: compute shaders may use GL_KHR_shader_subgroup_shuffle
	// (Vulkan 1.1's shuffle operations in the compute stage).
	SubgroupShuffle   bool
	FP16              bool    // shaderFloat16
	Storage16Bit      bool    // storageBuffer16BitAccess
	HalfTexels        bool    // R16G16B16A16_SFLOAT uniform texel buffers
	TimestampPeriodNS float32 // nanoseconds per timestamp tick; 0 when compute timestamps are unsupported
	UnifiedMemory     bool    // a device-local memory type is host visible and the device is not discrete
	// CooperativeMatrix lists the cooperative-matrix (tensor core)
	// extensions the device offers: VK_KHR_cooperative_matrix and/or
	// VK_NV_cooperative_matrix. The engine does not use them yet.
	CooperativeMatrix []string
	QueueFamily       uint32
	devicePriv        // what the Vulkan backend keeps; empty without cgo
}

func (d DeviceInfo) String() string {
	return fmt.Sprintf("%d: %s (%s, Vulkan %s)", d.Index, d.Name, d.Type, d.APIVersion)
}

// Options configure Open.
type Options struct {
	// Device selects the device: "" (the best: discrete > integrated >
	// virtual > CPU), an index, or a case-insensitive name substring.
	// The vkvgg command and the tests take it from EnvDevice.
	Device string
	// Validation enables the Khronos validation layer and records every
	// message it reports (see Device.ValidationMessages). The vkvgg
	// command and the tests turn it on with EnvValidation=1.
	Validation bool
	// PipelineCache, when not empty, is a folder for a pipeline cache
	// file (one per device and driver): pipelines compiled once are
	// loaded from it by later processes instead of compiled again. A
	// missing or corrupt file is ignored and rewritten at Close.
	PipelineCache string
	// Staging puts every buffer in device-only memory and moves data
	// through a staging buffer even where all memory is host visible
	// (lavapipe, integrated GPUs): tests use it to run the path of
	// discrete GPUs.
	Staging bool
}

// choose picks a device by the selector ("" for the best one).
func choose(devs []DeviceInfo, sel string) (DeviceInfo, error) {
	if len(devs) == 0 {
		return DeviceInfo{}, fmt.Errorf("%w: Vulkan reports no device with a compute queue (install a driver: Debian's mesa-vulkan-drivers runs Vulkan on the CPU; the CPU reference, device \"cpu\", needs none)", ErrNoDevice)
	}
	if sel == "" {
		best := append([]DeviceInfo(nil), devs...)
		sort.SliceStable(best, func(i, j int) bool { return best[i].Type < best[j].Type })
		return best[0], nil
	}
	if i, err := strconv.Atoi(sel); err == nil {
		if i < 0 || i >= len(devs) {
			return DeviceInfo{}, fmt.Errorf("%w: device index %d out of range (%d devices: %s)", ErrNoDevice, i, len(devs), names(devs))
		}
		return devs[i], nil
	}
	for _, d := range devs {
		if strings.Contains(strings.ToLower(d.Name), strings.ToLower(sel)) {
			return d, nil
		}
	}
	return DeviceInfo{}, fmt.Errorf("%w: no device name contains %q (devices: %s)", ErrNoDevice, sel, names(devs))
}

func names(devs []DeviceInfo) string {
	s := make([]string, len(devs))
	for i, d := range devs {
		s[i] = d.String()
	}
	return strings.Join(s, "; ")
}

// Adopted names Vulkan objects an application owns, as raw handles (so
// that the API depends on no binding): its VkInstance, the
// VkPhysicalDevice and VkDevice it made, and a VkQueue of a family with
// compute.
type Adopted struct {
	Instance, PhysicalDevice, Device, Queue uintptr
	QueueFamily                             uint32
	// QueueLock is the lock the application holds around its own
	// vkQueueSubmit calls on Queue (Vulkan requires them to be externally
	// synchronised); nil when the engine is the queue's only user.
	QueueLock sync.Locker
	// Storage16Bit says that the application enabled
	// storageBuffer16BitAccess (VkPhysicalDevice16BitStorageFeatures) on
	// Device; the engine's fp16 kernels need it, and Vulkan gives no way
	// to ask a device what was enabled.
	Storage16Bit bool
}

// Signal names an application's Vulkan synchronisation objects, as raw
// handles, that the engine signals once its work is done: a binary
// VkSemaphore (unsignalled, with no wait pending) that the application's
// own submission waits on, so that the GPU goes on without the host, and
// a VkFence (unsignalled) that the host waits on. Either may be 0.
type Signal struct {
	Semaphore, Fence uintptr
}
