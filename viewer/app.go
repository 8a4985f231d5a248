//go:build cgo

package viewer

/*
#cgo LDFLAGS: -lvulkan
#include <stdlib.h>
#include "vkapp.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"sync"
	"unsafe"

	"github.com/vkvgg/vkvgg/gpu"
)

// app is the application's side of an embedding: its own instance,
// device, queue, buffers and swapchain, made in C on the Vulkan loader
// (vkapp.c), not through the Go binding the engine uses. The engine
// adopts its handles and takes mu, the application's queue lock, around
// its submissions.
type app struct {
	c    C.vkapp
	mu   sync.Mutex // the queue lock, shared with the engine
	swap *C.vkappSwap
}

// errMinimised: the window has no size (minimised): no swapchain now.
var errMinimised = errors.New("viewer: the window is minimised")

// errNoDevice: no Vulkan device has a queue with compute (and, for a
// window, presentation).
var errNoDevice = errors.New("viewer: no Vulkan device with compute (and presentation to the window)")

func vkResult(what string, r C.VkResult) error {
	if r == C.VK_SUCCESS {
		return nil
	}
	if r == C.VKAPP_NO_DEVICE {
		return errNoDevice
	}
	names := map[C.VkResult]string{
		C.VK_ERROR_OUT_OF_HOST_MEMORY: "VK_ERROR_OUT_OF_HOST_MEMORY", C.VK_ERROR_OUT_OF_DEVICE_MEMORY: "VK_ERROR_OUT_OF_DEVICE_MEMORY",
		C.VK_ERROR_INITIALIZATION_FAILED: "VK_ERROR_INITIALIZATION_FAILED", C.VK_ERROR_LAYER_NOT_PRESENT: "VK_ERROR_LAYER_NOT_PRESENT (Debian: vulkan-validationlayers)",
		C.VK_ERROR_EXTENSION_NOT_PRESENT: "VK_ERROR_EXTENSION_NOT_PRESENT", C.VK_ERROR_INCOMPATIBLE_DRIVER: "VK_ERROR_INCOMPATIBLE_DRIVER (no Vulkan driver; Debian: mesa-vulkan-drivers)",
		C.VK_ERROR_DEVICE_LOST: "VK_ERROR_DEVICE_LOST", C.VK_ERROR_SURFACE_LOST_KHR: "VK_ERROR_SURFACE_LOST_KHR",
		C.VK_ERROR_OUT_OF_DATE_KHR: "VK_ERROR_OUT_OF_DATE_KHR", C.VK_SUBOPTIMAL_KHR: "VK_SUBOPTIMAL_KHR",
		C.VK_ERROR_FEATURE_NOT_PRESENT:  "VK_ERROR_FEATURE_NOT_PRESENT (the surface takes no transfers)",
		C.VK_ERROR_FORMAT_NOT_SUPPORTED: "VK_ERROR_FORMAT_NOT_SUPPORTED (the surface has no 8-bit RGBA or BGRA format)",
	}
	if n, ok := names[r]; ok {
		return fmt.Errorf("viewer: %s: %s", what, n)
	}
	return fmt.Errorf("viewer: %s: VkResult %d", what, int(r))
}

// openApp creates the application's instance with the instance
// extensions exts (and the validation layer with VK_EXT_debug_report),
// then, when surface is not nil, the window's surface on that instance,
// then a device with a compute queue that presents to it.
func openApp(validation bool, exts []string, surface func(instance unsafe.Pointer) (uint64, error)) (*app, error) {
	a := &app{swap: (*C.vkappSwap)(C.calloc(1, C.sizeof_vkappSwap))}
	if a.swap == nil {
		return nil, errors.New("viewer: out of memory")
	}
	cexts := make([]*C.char, len(exts)+1)
	for i, e := range exts {
		cexts[i] = C.CString(e)
		defer C.free(unsafe.Pointer(cexts[i]))
	}
	v := C.int(0)
	if validation {
		v = 1
	}
	cArr := (**C.char)(C.calloc(C.size_t(len(cexts)), C.size_t(unsafe.Sizeof(cexts[0]))))
	defer C.free(unsafe.Pointer(cArr))
	copy(unsafe.Slice(cArr, len(cexts)), cexts)
	if err := vkResult("vkCreateInstance", C.vkappInstance(&a.c, v, cArr, C.uint32_t(len(exts)))); err != nil {
		a.close()
		return nil, err
	}
	var surf C.VkSurfaceKHR
	if surface != nil {
		s, err := surface(unsafe.Pointer(a.c.inst))
		if err != nil {
			a.close()
			return nil, err
		}
		surf = cv[C.VkSurfaceKHR](s)
		a.swap.surface = surf
	}
	if err := vkResult("creating the device", C.vkappDevice(&a.c, surf)); err != nil {
		a.close()
		return nil, err
	}
	return a, nil
}

// handles are what the engine adopts.
func (a *app) handles() gpu.Adopted {
	return gpu.Adopted{
		Instance:       uintptr(unsafe.Pointer(a.c.inst)),
		PhysicalDevice: uintptr(unsafe.Pointer(a.c.pd)),
		Device:         uintptr(unsafe.Pointer(a.c.dev)),
		Queue:          uintptr(unsafe.Pointer(a.c.queue)),
		QueueFamily:    uint32(a.c.family),
		QueueLock:      &a.mu,
		Storage16Bit:   a.c.storage16 != 0,
	}
}

// close destroys everything the application made (the engine must be
// closed first).
func (a *app) close() {
	if a.swap != nil {
		if a.c.dev != nil {
			C.vkappSwapDestroy(&a.c, a.swap)
		}
		if a.swap.surface != nil && a.c.inst != nil {
			C.vkappDestroySurface(a.c.inst, a.swap.surface)
		}
		C.free(unsafe.Pointer(a.swap))
		a.swap = nil
	}
	C.vkappDestroy(&a.c)
}

// hostBuffer is a host-visible buffer of the application's.
type hostBuffer struct {
	c C.vkappBuffer
}

func (a *app) newBuffer(size int64) (*hostBuffer, error) {
	b := &hostBuffer{}
	if err := vkResult("a buffer", C.vkappNewBuffer(&a.c, C.VkDeviceSize(size), &b.c)); err != nil {
		return nil, err
	}
	return b, nil
}

func (b *hostBuffer) handle() uintptr { return cv[uintptr](b.c.buf) }
func (b *hostBuffer) size() int64     { return int64(b.c.size) }
func (b *hostBuffer) bytes() []byte   { return unsafe.Slice((*byte)(b.c.mapped), int(b.c.size)) }

func (a *app) freeBuffer(b *hostBuffer) { C.vkappFreeBuffer(&a.c, &b.c) }

func (a *app) newSemaphore() (uintptr, error) {
	var s C.VkSemaphore
	if err := vkResult("a semaphore", C.vkappNewSemaphore(&a.c, &s)); err != nil {
		return 0, err
	}
	return cv[uintptr](s), nil
}

func (a *app) freeSemaphore(s uintptr) { C.vkappFreeSemaphore(&a.c, cv[C.VkSemaphore](s)) }

// copy copies size bytes of the VkBuffer src into dst with the
// application's own command buffer, on the GPU after the semaphore wait
// (0: none), and waits for it.
func (a *app) copy(src uintptr, dst *hostBuffer, size int64, wait uintptr) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return vkResult("copying a buffer", C.vkappCopy(&a.c, cv[C.VkBuffer](src), dst.c.buf, C.VkDeviceSize(size), cv[C.VkSemaphore](wait)))
}

// swapchain (re)creates the swapchain for a window of w x h pixels and
// returns the size it took and whether its pixels are BGRA.
func (a *app) swapchain(w, h int) (int, int, bool, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	r := C.vkappSwapCreate(&a.c, a.swap, C.uint32_t(w), C.uint32_t(h))
	if r == C.VK_NOT_READY {
		return 0, 0, false, errMinimised
	}
	if err := vkResult("creating the swapchain", r); err != nil {
		return 0, 0, false, err
	}
	f := a.swap.format
	return int(a.swap.width), int(a.swap.height), f == C.VK_FORMAT_B8G8R8A8_UNORM || f == C.VK_FORMAT_B8G8R8A8_SRGB, nil
}

// readable reports whether frames can be copied back (screenshots).
func (a *app) readable() bool { return a.swap.readable != 0 }

// frame presents the canvas once the semaphore wait is signalled, and
// copies the presented image into shot when it is not nil. It reports
// whether the swapchain is out of date.
func (a *app) frame(canvas uintptr, shot *hostBuffer, wait uintptr) (stale bool, err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	var s C.VkBuffer
	if shot != nil {
		s = shot.c.buf
	}
	r := C.vkappFrame(&a.c, a.swap, cv[C.VkBuffer](canvas), s, cv[C.VkSemaphore](wait))
	if r == C.VK_ERROR_OUT_OF_DATE_KHR || r == C.VK_SUBOPTIMAL_KHR {
		return true, nil
	}
	return false, vkResult("presenting a frame", r)
}

// cv reinterprets a handle: non-dispatchable Vulkan handles are pointers
// to opaque structs in C on 64-bit machines and integers elsewhere.
func cv[T, U any](u U) T { return *(*T)(unsafe.Pointer(&u)) }
