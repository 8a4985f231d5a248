package gpu

import "errors"

// Errors returned by this package, usable with errors.Is. Vulkan failures
// are wrapped with the name of the call that failed.
var (
	// ErrNoVulkan means the Vulkan loader could not be found or
	// initialised, or the program was built without cgo (CGO_ENABLED=0),
	// which leaves out the Vulkan backend.
	ErrNoVulkan = errors.New("gpu: no Vulkan loader")
	// ErrNoDevice means no Vulkan device with a compute queue matched the request.
	ErrNoDevice = errors.New("gpu: no Vulkan compute device")
	// ErrDeviceLost is VK_ERROR_DEVICE_LOST: the device stopped working.
	ErrDeviceLost = errors.New("gpu: device lost")
	// ErrOutOfDeviceMemory is VK_ERROR_OUT_OF_DEVICE_MEMORY.
	ErrOutOfDeviceMemory = errors.New("gpu: out of device memory")
	// ErrOutOfHostMemory is VK_ERROR_OUT_OF_HOST_MEMORY.
	ErrOutOfHostMemory = errors.New("gpu: out of host memory")
	// ErrInitFailed is VK_ERROR_INITIALIZATION_FAILED.
	ErrInitFailed = errors.New("gpu: initialization failed")
	// ErrLayerNotPresent means a requested layer (the validation layer) is not installed.
	ErrLayerNotPresent = errors.New("gpu: layer not present")
	// ErrExtensionNotPresent means a requested extension is missing.
	ErrExtensionNotPresent = errors.New("gpu: extension not present")
	// ErrTimeout is VK_TIMEOUT from a wait.
	ErrTimeout = errors.New("gpu: timeout")
	// ErrVulkan is any other Vulkan error result.
	ErrVulkan = errors.New("gpu: Vulkan error")
	// ErrClosed means an object was used after Close.
	ErrClosed = errors.New("gpu: use of closed object")
	// ErrInvalid means an argument was out of range or inconsistent.
	ErrInvalid = errors.New("gpu: invalid argument")
	// ErrLeak means Device.Close found objects that were still open.
	ErrLeak = errors.New("gpu: objects still open at Device.Close")
	// ErrUntimed: a sequence recorded more dispatches than it can time.
	ErrUntimed = errors.New("gpu: too many dispatches to time")
)
