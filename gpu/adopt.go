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
		live: map[closer]string{}, staged: opts.Staging, adopted: true, queueLock: a.QueueLock}
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
