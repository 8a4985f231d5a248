// Package gpu is vkvgg's small layer over Vulkan compute
// (github.com/vulkan-go/vulkan): device choice, buffers, pipelines and
// command sequences. No Vulkan type appears in its API.
//
// # Devices
//
// Devices lists every physical device with a compute queue and the limits
// that matter for inference. Open picks one by index, by name substring,
// or by default the best (discrete GPU > integrated > virtual > CPU such
// as Mesa's lavapipe); the vkvgg command and the tests read a choice from
// the VKVGG_DEVICE variable. The loader is
// opened as libvulkan.so.1 at run time, so a machine without Vulkan gets
// ErrNoVulkan, and one without a device ErrNoDevice, never a crash.
//
// # Memory
//
// Buffers are device local. Where the device has unified memory (a
// device-local, host-visible memory type on a non-discrete device, as
// lavapipe and integrated GPUs have), they are mapped and uploads and
// downloads are copies; elsewhere they go through a bounded staging
// buffer. A buffer may exceed maxStorageBufferRange: kernels bind Views,
// windows of a buffer, and each binding must fit the range.
//
// # Work
//
// A Kernel is a compute pipeline built from SPIR-V with specialization
// constants, push constants and a descriptor layout of storage buffers or
// uniform texel buffers. A Sequence records dispatches, copies and fills
// into one command buffer. Each binding says whether it is read or
// written, and the sequence inserts a memory barrier exactly where a
// recorded access conflicts with one since the last barrier (read after
// write, write after write, write after read on overlapping bytes). Submit
// sends it once and waits on a fence; optional timestamps time each
// dispatch.
//
// # Errors and lifetime
//
// Vulkan results map to exported errors (ErrDeviceLost,
// ErrOutOfDeviceMemory, ...) usable with errors.Is, wrapped with the call
// that failed. Every owning type has an idempotent, nil-safe Close;
// Device.Close closes what is still open and reports it as ErrLeak.
//
// # Validation
//
// Options.Validation (VKVGG_VALIDATION=1 for the command and the tests)
// enables the Khronos validation layer; its messages are collected by
// Device.ValidationMessages, and the project's tests fail on any.
//
// # Building without cgo
//
// The Vulkan backend needs cgo and the Vulkan headers (Debian:
// libvulkan-dev), and its files carry the cgo build constraint. Built with
// CGO_ENABLED=0, the package keeps the same API, so every package above
// it still builds, but Open and Devices return an error wrapping
// ErrNoVulkan that says the program was built without cgo; there is no
// Device, so no Buffer, Kernel or Sequence either. The CPU reference
// (device "cpu" in the vkvgg command) does not use this package's backend
// and works in such a build, and vkvgg falls back to it with a warning
// when no device was asked for. Tests that need a device skip, as they do
// on a machine without Vulkan.
package gpu
