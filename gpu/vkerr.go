//go:build cgo

package gpu

import (
	"fmt"

	vk "github.com/vulkan-go/vulkan"
)

// vkErr maps a Vulkan result to nil or to one of the exported errors,
// wrapped with the name of the call.
func vkErr(call string, r vk.Result) error {
	var base error
	switch r {
	case vk.Success:
		return nil
	case vk.ErrorDeviceLost:
		base = ErrDeviceLost
	case vk.ErrorOutOfDeviceMemory:
		base = ErrOutOfDeviceMemory
	case vk.ErrorOutOfHostMemory:
		base = ErrOutOfHostMemory
	case vk.ErrorInitializationFailed:
		base = ErrInitFailed
	case vk.ErrorLayerNotPresent:
		base = ErrLayerNotPresent
	case vk.ErrorExtensionNotPresent:
		base = ErrExtensionNotPresent
	case vk.ErrorIncompatibleDriver:
		base = ErrNoDevice
	case vk.Timeout:
		base = ErrTimeout
	default:
		return fmt.Errorf("vulkan: %s: %w (VkResult %d)", call, ErrVulkan, int32(r))
	}
	return fmt.Errorf("vulkan: %s: %w", call, base)
}

// HasVulkan reports whether this build has the Vulkan backend (it needs
// cgo).
const HasVulkan = true
