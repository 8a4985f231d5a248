//go:build cgo

package gpu

import (
	"fmt"

	vk "github.com/vulkan-go/vulkan"
)

// Adopt makes a Device of an application's Vulkan objects, for an
// engine that runs next to the application's renderer. The Device never
// destroys what it adopted: Close frees only what the engine created.
// The device must offer compute on the queue's family; what the engine
// needs beyond Vulkan 1.0 is read from the physical device as for Open.
// Validation messages are collected when the application's instance has
// the validation layer and VK_EXT_debug_report enabled (opts.Validation
// asks for them). opts.Device is ignored.
func Adopt(a Adopted, opts Options) (*Device, error) {
	if a.Instance == 0 || a.PhysicalDevice == 0 || a.Device == 0 || a.Queue == 0 {
		return nil, fmt.Errorf("%w: Adopt needs the instance, physical device, device and queue handles", ErrInvalid)
	}
	if err := load(); err != nil {
		return nil, err
	}
	inst := cv[vk.Instance](a.Instance)
	if err := vk.InitInstance(inst); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoVulkan, err)
	}
	in := &instance{handle: inst, adopted: true}
	if opts.Validation {
		in.validation = true
		in.messages = &messageLog{}
		if err := in.installDebug(); err != nil {
			return nil, fmt.Errorf("gpu: Adopt with validation: the application's instance must enable VK_EXT_debug_report: %w", err)
		}
	}
	pd := cv[vk.PhysicalDevice](a.PhysicalDevice)
	info, ok := describe(inst, pd)
	if !ok {
		in.close()
		return nil, fmt.Errorf("%w: the adopted physical device has no queue family with compute", ErrNoDevice)
	}
	if !familyComputes(pd, a.QueueFamily) {
		in.close()
		return nil, fmt.Errorf("%w: queue family %d of %s has no compute", ErrInvalid, a.QueueFamily, info.Name)
	}
	info.QueueFamily = a.QueueFamily
	d := &Device{info: info, inst: in, handle: cv[vk.Device](a.Device), queue: cv[vk.Queue](a.Queue),
		live: map[closer]string{}, staged: opts.Staging, adopted: true, queueLock: a.QueueLock,
		half: a.Storage16Bit && info.Storage16Bit && info.HalfTexels}
	if opts.PipelineCache != "" {
		if err := d.openCache(opts.PipelineCache); err != nil {
			in.close()
			return nil, err
		}
	}
	return d, nil
}

// Handles are the device's raw Vulkan handles and the lock its
// submissions take, for code that shares the device: VkInstance,
// VkPhysicalDevice, VkDevice, VkQueue, the queue's family and QueueLock.
// Adopt(d.Handles(), ...) gives a second Device on the same objects whose
// submissions take the same lock.
func (d *Device) Handles() Adopted {
	lock := d.queueLock
	if lock == nil {
		lock = &d.mu
	}
	return Adopted{Instance: cv[uintptr](d.inst.handle), PhysicalDevice: cv[uintptr](d.info.physical),
		Device: cv[uintptr](d.handle), Queue: cv[uintptr](d.queue), QueueFamily: d.info.QueueFamily, QueueLock: lock}
}

// Handle is the buffer's raw VkBuffer handle, for an application that
// reads or writes the buffer with its own Vulkan code.
func (b *Buffer) Handle() uintptr { return cv[uintptr](b.handle) }

// SignalAfter signals s's semaphore and fence once everything submitted
// to the device's queue before the call has finished: an empty
// submission that takes the queue lock like every other. The device
// writes of that work are then available to the application's commands
// that wait on the semaphore (with a wait stage of the access that
// reads them) or that are submitted after the fence.
func (d *Device) SignalAfter(s Signal) error {
	if d.closed {
		return ErrClosed
	}
	if s.Semaphore == 0 && s.Fence == 0 {
		return nil
	}
	unlock := d.lockQueue()
	r := queueSignal(d.queue, s.Semaphore, s.Fence)
	unlock()
	if err := vkErr("vkQueueSubmit (signal)", r); err != nil {
		return err
	}
	d.submits.Add(1)
	return nil
}

// WrapBuffer makes a Buffer of an application's VkBuffer of size bytes
// (a multiple of 4), created on this device with the usages
// STORAGE_BUFFER, TRANSFER_SRC and TRANSFER_DST and bound to memory: an
// input that RunOnDevice reads where the application wrote it, or a
// place a kernel writes to. The engine never frees it; Close only
// forgets it. Upload and Download go through a staging buffer.
func (d *Device) WrapBuffer(handle uintptr, size int64) (*Buffer, error) {
	if d.closed {
		return nil, ErrClosed
	}
	if handle == 0 {
		return nil, fmt.Errorf("%w: WrapBuffer of a null VkBuffer", ErrInvalid)
	}
	if size <= 0 || size%4 != 0 {
		return nil, fmt.Errorf("%w: WrapBuffer: size %d bytes is not a positive multiple of 4", ErrInvalid, size)
	}
	b := &Buffer{dev: d, handle: cv[vk.Buffer](handle), size: size, shared: true}
	d.track(b, "Buffer")
	return b, nil
}
