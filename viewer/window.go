//go:build cgo

package viewer

/*
#include <vulkan/vulkan.h>

// GLFW's own surface creation (compiled into package glfw), called with
// the window's GLFWwindow pointer.
VkResult glfwCreateWindowSurface(VkInstance instance, void* window, const VkAllocationCallbacks* allocator, VkSurfaceKHR* surface);

static VkResult vkappWindowSurface(VkInstance inst, void* window, VkSurfaceKHR* out) {
	return glfwCreateWindowSurface(inst, window, NULL, out);
}
*/
import "C"

import (
	"unsafe"

	"github.com/go-gl/glfw/v3.3/glfw"
)

// windowSurface makes the window's VkSurfaceKHR on the instance.
func windowSurface(win *glfw.Window, inst unsafe.Pointer) (uint64, error) {
	var s C.VkSurfaceKHR
	if err := vkResult("glfwCreateWindowSurface", C.vkappWindowSurface(C.VkInstance(inst), win.Handle(), &s)); err != nil {
		return 0, err
	}
	return cv[uint64](s), nil
}
