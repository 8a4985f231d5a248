//go:build !cgo

package gpu

import (
	"fmt"
	"time"
)

// This file stands in for the Vulkan backend when the program is built
// without cgo (CGO_ENABLED=0): the types and methods have the signatures
// of the cgo build, Open and Devices fail with errNoCgo, and since no
// Device can be opened, no other object can exist except as a zero value,
// whose methods return errNoCgo or zero values and never panic.

// errNoCgo says why there is no Vulkan and what still works.
var errNoCgo = fmt.Errorf("%w: this program was built without cgo (CGO_ENABLED=0) and the Vulkan backend needs cgo and the Vulkan headers (rebuild with CGO_ENABLED=1); the CPU reference (device \"cpu\") works", ErrNoVulkan)

// devicePriv holds nothing without the Vulkan backend.
type devicePriv struct{}

// Device is an open Vulkan device. Without cgo none can be opened.
type Device struct{}

// Buffer is a device-local storage buffer. Without cgo none can be made.
type Buffer struct {
	size int64 // always 0; read by the View methods
}

// Kernel is a compute pipeline. Without cgo none can be made.
type Kernel struct{}

// Sequence records dispatches and copies. Without cgo none can be made.
type Sequence struct{}

// Devices returns an error wrapping ErrNoVulkan: this build has no Vulkan
// backend.
func Devices() ([]DeviceInfo, error) { return nil, errNoCgo }

// Open returns an error wrapping ErrNoVulkan: this build has no Vulkan
// backend.
func Open(opts Options) (*Device, error) {
	if opts.Device != "" {
		return nil, fmt.Errorf("device %q: %w", opts.Device, errNoCgo)
	}
	return nil, errNoCgo
}

// HasVulkan reports whether this build has the Vulkan backend (it needs
// cgo).
const HasVulkan = false

// Info returns the zero DeviceInfo.
func (d *Device) Info() DeviceInfo { return DeviceInfo{} }

// Validation returns false.
func (d *Device) Validation() bool { return false }

// Half reports false: there are no devices without cgo.
func (d *Device) Half() bool { return false }

// ValidationMessages returns nil.
func (d *Device) ValidationMessages() []string { return nil }

// WaitIdle returns an error wrapping ErrNoVulkan.
func (d *Device) WaitIdle() error { return errNoCgo }

// Close does nothing and returns nil.
func (d *Device) Close() error { return nil }

// NewBuffer returns an error wrapping ErrNoVulkan.
func (d *Device) NewBuffer(size int64) (*Buffer, error) { return nil, errNoCgo }

// NewHostBuffer returns an error wrapping ErrNoVulkan.
func (d *Device) NewHostBuffer(size int64) (*Buffer, error) { return nil, errNoCgo }

// Mapped returns false.
func (b *Buffer) Mapped() bool { return false }

// MadeInstances returns 0.
func MadeInstances() int64 { return 0 }

// LiveInstances returns 0.
func LiveInstances() int64 { return 0 }

// Submissions returns 0.
func (d *Device) Submissions() uint64 { return 0 }

// NewKernel returns an error wrapping ErrNoVulkan.
func (d *Device) NewKernel(spec KernelSpec) (*Kernel, error) { return nil, errNoCgo }

// NewSequence returns an error wrapping ErrNoVulkan.
func (d *Device) NewSequence(o SequenceOptions) (*Sequence, error) { return nil, errNoCgo }

// Upload returns an error wrapping ErrNoVulkan.
func (b *Buffer) Upload(off int, data []float32) error { return errNoCgo }

// Download returns an error wrapping ErrNoVulkan.
func (b *Buffer) Download(off int, dst []float32) error { return errNoCgo }

// UploadHalf returns an error wrapping ErrNoVulkan.
func (b *Buffer) UploadHalf(off int, data []float32) error { return errNoCgo }

// DownloadHalf returns an error wrapping ErrNoVulkan.
func (b *Buffer) DownloadHalf(off int, dst []float32) error { return errNoCgo }

// Close does nothing and returns nil.
func (b *Buffer) Close() error { return nil }

// Name returns "".
func (k *Kernel) Name() string { return "" }

// Close does nothing and returns nil.
func (k *Kernel) Close() error { return nil }

// Dispatch returns an error wrapping ErrNoVulkan.
func (s *Sequence) Dispatch(k *Kernel, groups [3]int, push []uint32, args ...Arg) error {
	return errNoCgo
}

// Copy returns an error wrapping ErrNoVulkan.
func (s *Sequence) Copy(dst, src View) error { return errNoCgo }

// Fill returns an error wrapping ErrNoVulkan.
func (s *Sequence) Fill(dst View, word uint32) error { return errNoCgo }

// Dispatches returns 0.
func (s *Sequence) Dispatches() int { return 0 }

// Barriers returns 0.
func (s *Sequence) Barriers() int { return 0 }

// Submit returns an error wrapping ErrNoVulkan.
func (s *Sequence) Submit() error { return errNoCgo }

// Start returns an error wrapping ErrNoVulkan.
func (s *Sequence) Start() error { return errNoCgo }

// Wait returns an error wrapping ErrNoVulkan.
func (s *Sequence) Wait() error { return errNoCgo }

// Reset returns an error wrapping ErrNoVulkan.
func (s *Sequence) Reset() error { return errNoCgo }

// Timings returns an error wrapping ErrNoVulkan.
func (s *Sequence) Timings() ([]Timing, error) { return nil, errNoCgo }

// Span needs the Vulkan backend.
func (s *Sequence) Span() (time.Duration, error) { return 0, errNoCgo }

// Close does nothing and returns nil.
func (s *Sequence) Close() error { return nil }

// Adopt fails: this build has no Vulkan backend.
func Adopt(a Adopted, opts Options) (*Device, error) { return nil, errNoCgo }

// Handles are zero: this build has no Vulkan backend.
func (d *Device) Handles() Adopted { return Adopted{} }

// SignalAfter needs the Vulkan backend.
func (d *Device) SignalAfter(s Signal) error { return errNoCgo }

// Handle is zero: this build has no Vulkan backend.
func (b *Buffer) Handle() uintptr { return 0 }

// WrapBuffer needs the Vulkan backend.
func (d *Device) WrapBuffer(handle uintptr, size int64) (*Buffer, error) { return nil, errNoCgo }

// TuningFile is "": this build has no Vulkan backend.
func (d *Device) TuningFile() string { return "" }
