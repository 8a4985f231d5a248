// The application side of the viewer, in C on the Vulkan loader's own
// entry points (not the Go binding the engine uses): it owns the
// instance, the device, its queue, its buffers and the swapchain, as a
// renderer that embeds vkvgg would. Every function returns a VkResult;
// VKAPP_NO_DEVICE means no device has what was asked for.
#ifndef VKAPP_H
#define VKAPP_H

#include <stdint.h>
#include <vulkan/vulkan.h>

#define VKAPP_NO_DEVICE ((VkResult)-1000)
#define VKAPP_MAX_IMAGES 8

typedef struct {
	VkInstance inst;
	VkPhysicalDevice pd;
	VkDevice dev;
	VkQueue queue;
	uint32_t family;
	VkCommandPool pool;
	VkCommandBuffer cmd;
	VkFence fence;
	VkPhysicalDeviceMemoryProperties mem;
	int storage16; // storageBuffer16BitAccess is enabled (the engine's fp16 needs it)
} vkapp;

typedef struct {
	VkBuffer buf;
	VkDeviceMemory mem;
	void* mapped;
	VkDeviceSize size;
} vkappBuffer;

typedef struct {
	VkSurfaceKHR surface;
	VkSwapchainKHR swap;
	VkFormat format;
	uint32_t width, height;
	uint32_t count;
	int readable; // the images allow TRANSFER_SRC (screenshots)
	VkImage images[VKAPP_MAX_IMAGES];
	VkSemaphore acquired;
	VkSemaphore rendered[VKAPP_MAX_IMAGES];
} vkappSwap;

VkResult vkappInstance(vkapp* a, int validation, const char** exts, uint32_t n);
VkResult vkappDevice(vkapp* a, VkSurfaceKHR surface);
void vkappDestroy(vkapp* a);
VkResult vkappNewBuffer(vkapp* a, VkDeviceSize size, vkappBuffer* b);
void vkappFreeBuffer(vkapp* a, vkappBuffer* b);
VkResult vkappNewSemaphore(vkapp* a, VkSemaphore* s);
void vkappFreeSemaphore(vkapp* a, VkSemaphore s);
VkResult vkappCopy(vkapp* a, VkBuffer src, VkBuffer dst, VkDeviceSize size, VkSemaphore wait);
VkResult vkappSwapCreate(vkapp* a, vkappSwap* s, uint32_t width, uint32_t height);
void vkappSwapDestroy(vkapp* a, vkappSwap* s);
void vkappDestroySurface(VkInstance inst, VkSurfaceKHR s);
VkResult vkappFrame(vkapp* a, vkappSwap* s, VkBuffer canvas, VkBuffer shot, VkSemaphore wait);

#endif
