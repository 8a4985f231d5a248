//go:build cgo

#include "vkapp.h"

#include <stdlib.h>
#include <string.h>

VkResult vkappInstance(vkapp* a, int validation, const char** exts, uint32_t n) {
	memset(a, 0, sizeof *a);
	VkApplicationInfo app = {VK_STRUCTURE_TYPE_APPLICATION_INFO};
	app.pApplicationName = "vkvgg viewer";
	app.apiVersion = VK_API_VERSION_1_1;
	const char* all[16];
	uint32_t count = 0;
	for (uint32_t i = 0; i < n && count < 15; i++) {
		all[count++] = exts[i];
	}
	const char* layers[] = {"VK_LAYER_KHRONOS_validation"};
	VkInstanceCreateInfo info = {VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
	info.pApplicationInfo = &app;
	if (validation) {
		all[count++] = "VK_EXT_debug_report"; // the engine reports the layer's messages
		info.enabledLayerCount = 1;
		info.ppEnabledLayerNames = layers;
	}
	info.enabledExtensionCount = count;
	info.ppEnabledExtensionNames = all;
	return vkCreateInstance(&info, NULL, &a->inst);
}

// pick finds a physical device and a queue family with compute (and
// presentation to surface when it is not null), preferring a discrete GPU.
static VkResult pick(vkapp* a, VkSurfaceKHR surface) {
	uint32_t n = 0;
	VkResult r = vkEnumeratePhysicalDevices(a->inst, &n, NULL);
	if (r != VK_SUCCESS) {
		return r;
	}
	if (n == 0) {
		return VKAPP_NO_DEVICE;
	}
	VkPhysicalDevice* pds = calloc(n, sizeof *pds);
	if (pds == NULL) {
		return VK_ERROR_OUT_OF_HOST_MEMORY;
	}
	r = vkEnumeratePhysicalDevices(a->inst, &n, pds);
	if (r != VK_SUCCESS && r != VK_INCOMPLETE) {
		free(pds);
		return r;
	}
	int best = -1, bestScore = -1;
	uint32_t bestFamily = 0;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t nq = 0;
		vkGetPhysicalDeviceQueueFamilyProperties(pds[i], &nq, NULL);
		VkQueueFamilyProperties* q = calloc(nq ? nq : 1, sizeof *q);
		if (q == NULL) {
			continue;
		}
		vkGetPhysicalDeviceQueueFamilyProperties(pds[i], &nq, q);
		for (uint32_t f = 0; f < nq; f++) {
			if (!(q[f].queueFlags & VK_QUEUE_COMPUTE_BIT)) {
				continue;
			}
			if (surface != VK_NULL_HANDLE) {
				VkBool32 ok = VK_FALSE;
				if (vkGetPhysicalDeviceSurfaceSupportKHR(pds[i], f, surface, &ok) != VK_SUCCESS || !ok) {
					continue;
				}
			}
			VkPhysicalDeviceProperties p;
			vkGetPhysicalDeviceProperties(pds[i], &p);
			int score = p.deviceType == VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU ? 3 : p.deviceType == VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU ? 2 : 1;
			if (score > bestScore) {
				best = (int)i;
				bestScore = score;
				bestFamily = f;
			}
			break;
		}
		free(q);
	}
	if (best >= 0) {
		a->pd = pds[best];
		a->family = bestFamily;
	}
	free(pds);
	return best >= 0 ? VK_SUCCESS : VKAPP_NO_DEVICE;
}

VkResult vkappDevice(vkapp* a, VkSurfaceKHR surface) {
	VkResult r = pick(a, surface);
	if (r != VK_SUCCESS) {
		return r;
	}
	vkGetPhysicalDeviceMemoryProperties(a->pd, &a->mem);
	float priority = 1.0f;
	VkDeviceQueueCreateInfo q = {VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO};
	q.queueFamilyIndex = a->family;
	q.queueCount = 1;
	q.pQueuePriorities = &priority;
	const char* exts[] = {"VK_KHR_swapchain"};
	VkDeviceCreateInfo info = {VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO};
	info.queueCreateInfoCount = 1;
	info.pQueueCreateInfos = &q;
	// 16-bit storage buffers where the device has them, for an engine
	// that stores its tensors in fp16 (the handles say so).
	// The feature query is Vulkan 1.1: a 1.0 device gets neither.
	VkPhysicalDeviceProperties props;
	vkGetPhysicalDeviceProperties(a->pd, &props);
	VkPhysicalDevice16BitStorageFeatures s16 = {VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES};
	if (VK_API_VERSION_MAJOR(props.apiVersion) > 1 || VK_API_VERSION_MINOR(props.apiVersion) >= 1) {
		VkPhysicalDeviceFeatures2 f2 = {VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2};
		f2.pNext = &s16;
		vkGetPhysicalDeviceFeatures2(a->pd, &f2);
	}
	if (s16.storageBuffer16BitAccess) {
		VkPhysicalDevice16BitStorageFeatures on = {VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES};
		on.storageBuffer16BitAccess = VK_TRUE;
		s16 = on;
		info.pNext = &s16;
		a->storage16 = 1;
	}
	if (surface != VK_NULL_HANDLE) {
		info.enabledExtensionCount = 1;
		info.ppEnabledExtensionNames = exts;
	}
	if ((r = vkCreateDevice(a->pd, &info, NULL, &a->dev)) != VK_SUCCESS) {
		return r;
	}
	vkGetDeviceQueue(a->dev, a->family, 0, &a->queue);
	VkCommandPoolCreateInfo pool = {VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
	pool.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT;
	pool.queueFamilyIndex = a->family;
	if ((r = vkCreateCommandPool(a->dev, &pool, NULL, &a->pool)) != VK_SUCCESS) {
		return r;
	}
	VkCommandBufferAllocateInfo alloc = {VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
	alloc.commandPool = a->pool;
	alloc.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
	alloc.commandBufferCount = 1;
	if ((r = vkAllocateCommandBuffers(a->dev, &alloc, &a->cmd)) != VK_SUCCESS) {
		return r;
	}
	VkFenceCreateInfo fence = {VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
	return vkCreateFence(a->dev, &fence, NULL, &a->fence);
}

void vkappDestroy(vkapp* a) {
	if (a->dev != VK_NULL_HANDLE) {
		vkDeviceWaitIdle(a->dev);
		if (a->fence != VK_NULL_HANDLE) {
			vkDestroyFence(a->dev, a->fence, NULL);
		}
		if (a->pool != VK_NULL_HANDLE) {
			vkDestroyCommandPool(a->dev, a->pool, NULL);
		}
		vkDestroyDevice(a->dev, NULL);
	}
	if (a->inst != VK_NULL_HANDLE) {
		vkDestroyInstance(a->inst, NULL);
	}
	memset(a, 0, sizeof *a);
}

// vkappNewBuffer makes a host-visible, coherent, mapped buffer that
// shaders read and write and transfers use at both ends.
VkResult vkappNewBuffer(vkapp* a, VkDeviceSize size, vkappBuffer* b) {
	memset(b, 0, sizeof *b);
	VkBufferCreateInfo info = {VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
	info.size = size;
	info.usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT;
	info.sharingMode = VK_SHARING_MODE_EXCLUSIVE;
	VkResult r = vkCreateBuffer(a->dev, &info, NULL, &b->buf);
	if (r != VK_SUCCESS) {
		return r;
	}
	VkMemoryRequirements req;
	vkGetBufferMemoryRequirements(a->dev, b->buf, &req);
	VkMemoryPropertyFlags want = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
	int type = -1;
	for (uint32_t i = 0; i < a->mem.memoryTypeCount; i++) {
		if ((req.memoryTypeBits & (1u << i)) && (a->mem.memoryTypes[i].propertyFlags & want) == want) {
			type = (int)i;
			break;
		}
	}
	if (type < 0) {
		vkDestroyBuffer(a->dev, b->buf, NULL);
		b->buf = VK_NULL_HANDLE;
		return VK_ERROR_OUT_OF_DEVICE_MEMORY;
	}
	VkMemoryAllocateInfo alloc = {VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO};
	alloc.allocationSize = req.size;
	alloc.memoryTypeIndex = (uint32_t)type;
	if ((r = vkAllocateMemory(a->dev, &alloc, NULL, &b->mem)) != VK_SUCCESS ||
	    (r = vkBindBufferMemory(a->dev, b->buf, b->mem, 0)) != VK_SUCCESS ||
	    (r = vkMapMemory(a->dev, b->mem, 0, VK_WHOLE_SIZE, 0, &b->mapped)) != VK_SUCCESS) {
		vkappFreeBuffer(a, b);
		return r;
	}
	b->size = size;
	return VK_SUCCESS;
}

void vkappFreeBuffer(vkapp* a, vkappBuffer* b) {
	if (b->mapped != NULL) {
		vkUnmapMemory(a->dev, b->mem);
	}
	if (b->buf != VK_NULL_HANDLE) {
		vkDestroyBuffer(a->dev, b->buf, NULL);
	}
	if (b->mem != VK_NULL_HANDLE) {
		vkFreeMemory(a->dev, b->mem, NULL);
	}
	memset(b, 0, sizeof *b);
}

VkResult vkappNewSemaphore(vkapp* a, VkSemaphore* s) {
	VkSemaphoreCreateInfo info = {VK_STRUCTURE_TYPE_SEMAPHORE_CREATE_INFO};
	return vkCreateSemaphore(a->dev, &info, NULL, s);
}

void vkappFreeSemaphore(vkapp* a, VkSemaphore s) { vkDestroySemaphore(a->dev, s, NULL); }

// submit ends the command buffer, submits it (waiting on up to two
// semaphores at the transfer stage, signalling one) and waits for it.
static VkResult submit(vkapp* a, VkSemaphore* waits, uint32_t nwait, VkSemaphore signal) {
	VkResult r = vkEndCommandBuffer(a->cmd);
	if (r != VK_SUCCESS) {
		return r;
	}
	VkPipelineStageFlags stages[2] = {VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_TRANSFER_BIT};
	VkSubmitInfo si = {VK_STRUCTURE_TYPE_SUBMIT_INFO};
	si.waitSemaphoreCount = nwait;
	si.pWaitSemaphores = waits;
	si.pWaitDstStageMask = stages;
	si.commandBufferCount = 1;
	si.pCommandBuffers = &a->cmd;
	if (signal != VK_NULL_HANDLE) {
		si.signalSemaphoreCount = 1;
		si.pSignalSemaphores = &signal;
	}
	if ((r = vkQueueSubmit(a->queue, 1, &si, a->fence)) != VK_SUCCESS) {
		return r;
	}
	r = vkWaitForFences(a->dev, 1, &a->fence, VK_TRUE, UINT64_MAX);
	VkResult r2 = vkResetFences(a->dev, 1, &a->fence);
	return r != VK_SUCCESS ? r : r2;
}

static VkResult begin(vkapp* a) {
	VkResult r = vkResetCommandBuffer(a->cmd, 0);
	if (r != VK_SUCCESS) {
		return r;
	}
	VkCommandBufferBeginInfo bi = {VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
	bi.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
	return vkBeginCommandBuffer(a->cmd, &bi);
}

// readAfterEngine makes the writes of earlier submissions (the engine's
// shaders and copies) visible to this command buffer's transfers.
static void readAfterEngine(vkapp* a) {
	VkMemoryBarrier m = {VK_STRUCTURE_TYPE_MEMORY_BARRIER};
	m.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
	m.dstAccessMask = VK_ACCESS_TRANSFER_READ_BIT;
	vkCmdPipelineBarrier(a->cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
	                     VK_PIPELINE_STAGE_TRANSFER_BIT, 0, 1, &m, 0, NULL, 0, NULL);
}

static void toHost(vkapp* a) {
	VkMemoryBarrier m = {VK_STRUCTURE_TYPE_MEMORY_BARRIER};
	m.srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT;
	m.dstAccessMask = VK_ACCESS_HOST_READ_BIT;
	vkCmdPipelineBarrier(a->cmd, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &m, 0, NULL, 0, NULL);
}

// vkappCopy copies size bytes from src to dst with the application's own
// command buffer, after the semaphore wait (when not null), and waits.
VkResult vkappCopy(vkapp* a, VkBuffer src, VkBuffer dst, VkDeviceSize size, VkSemaphore wait) {
	VkResult r = begin(a);
	if (r != VK_SUCCESS) {
		return r;
	}
	readAfterEngine(a);
	VkBufferCopy c = {0, 0, size};
	vkCmdCopyBuffer(a->cmd, src, dst, 1, &c);
	toHost(a);
	return submit(a, &wait, wait != VK_NULL_HANDLE ? 1 : 0, VK_NULL_HANDLE);
}

VkResult vkappSwapCreate(vkapp* a, vkappSwap* s, uint32_t width, uint32_t height) {
	VkSurfaceCapabilitiesKHR caps;
	VkResult r = vkGetPhysicalDeviceSurfaceCapabilitiesKHR(a->pd, s->surface, &caps);
	if (r != VK_SUCCESS) {
		return r;
	}
	if (!(caps.supportedUsageFlags & VK_IMAGE_USAGE_TRANSFER_DST_BIT)) {
		return VK_ERROR_FEATURE_NOT_PRESENT;
	}
	uint32_t nf = 0;
	if ((r = vkGetPhysicalDeviceSurfaceFormatsKHR(a->pd, s->surface, &nf, NULL)) != VK_SUCCESS) {
		return r;
	}
	VkSurfaceFormatKHR* formats = calloc(nf ? nf : 1, sizeof *formats);
	if (formats == NULL) {
		return VK_ERROR_OUT_OF_HOST_MEMORY;
	}
	r = vkGetPhysicalDeviceSurfaceFormatsKHR(a->pd, s->surface, &nf, formats);
	// The canvas holds 8-bit sRGB-encoded colours, copied as they are:
	// any 8-bit BGRA or RGBA format takes them.
	int chosen = -1;
	for (uint32_t i = 0; i < nf && chosen < 0; i++) {
		VkFormat f = formats[i].format;
		if (f == VK_FORMAT_B8G8R8A8_UNORM || f == VK_FORMAT_R8G8B8A8_UNORM || f == VK_FORMAT_B8G8R8A8_SRGB || f == VK_FORMAT_R8G8B8A8_SRGB) {
			chosen = (int)i;
		}
	}
	if (chosen < 0) {
		free(formats);
		return VK_ERROR_FORMAT_NOT_SUPPORTED;
	}
	VkSurfaceFormatKHR format = formats[chosen];
	free(formats);
	if (caps.currentExtent.width != 0xFFFFFFFFu) {
		width = caps.currentExtent.width;
		height = caps.currentExtent.height;
	}
	if (width == 0 || height == 0) {
		return VK_NOT_READY; // minimised: no swapchain until the window is back
	}
	if (width < caps.minImageExtent.width) width = caps.minImageExtent.width;
	if (height < caps.minImageExtent.height) height = caps.minImageExtent.height;
	if (width > caps.maxImageExtent.width) width = caps.maxImageExtent.width;
	if (height > caps.maxImageExtent.height) height = caps.maxImageExtent.height;
	uint32_t count = caps.minImageCount + 1;
	if (caps.maxImageCount > 0 && count > caps.maxImageCount) {
		count = caps.maxImageCount;
	}
	s->readable = (caps.supportedUsageFlags & VK_IMAGE_USAGE_TRANSFER_SRC_BIT) != 0;
	VkSwapchainCreateInfoKHR info = {VK_STRUCTURE_TYPE_SWAPCHAIN_CREATE_INFO_KHR};
	info.surface = s->surface;
	info.minImageCount = count;
	info.imageFormat = format.format;
	info.imageColorSpace = format.colorSpace;
	info.imageExtent.width = width;
	info.imageExtent.height = height;
	info.imageArrayLayers = 1;
	info.imageUsage = VK_IMAGE_USAGE_TRANSFER_DST_BIT | (s->readable ? VK_IMAGE_USAGE_TRANSFER_SRC_BIT : 0);
	info.imageSharingMode = VK_SHARING_MODE_EXCLUSIVE;
	info.preTransform = caps.currentTransform;
	info.compositeAlpha = VK_COMPOSITE_ALPHA_OPAQUE_BIT_KHR;
	if (!(caps.supportedCompositeAlpha & VK_COMPOSITE_ALPHA_OPAQUE_BIT_KHR)) {
		info.compositeAlpha = VK_COMPOSITE_ALPHA_INHERIT_BIT_KHR;
	}
	info.presentMode = VK_PRESENT_MODE_FIFO_KHR; // always offered
	info.clipped = VK_TRUE;
	info.oldSwapchain = s->swap;
	VkSwapchainKHR swap;
	if ((r = vkCreateSwapchainKHR(a->dev, &info, NULL, &swap)) != VK_SUCCESS) {
		return r;
	}
	vkappSwapDestroy(a, s);
	s->swap = swap;
	s->format = format.format;
	s->width = width;
	s->height = height;
	uint32_t n = 0;
	if ((r = vkGetSwapchainImagesKHR(a->dev, swap, &n, NULL)) != VK_SUCCESS) {
		return r;
	}
	if (n > VKAPP_MAX_IMAGES) {
		return VK_ERROR_TOO_MANY_OBJECTS;
	}
	s->count = n;
	if ((r = vkGetSwapchainImagesKHR(a->dev, swap, &n, s->images)) != VK_SUCCESS) {
		return r;
	}
	if ((r = vkappNewSemaphore(a, &s->acquired)) != VK_SUCCESS) {
		return r;
	}
	for (uint32_t i = 0; i < n; i++) {
		if ((r = vkappNewSemaphore(a, &s->rendered[i])) != VK_SUCCESS) {
			return r;
		}
	}
	return VK_SUCCESS;
}

// vkappSwapDestroy destroys the swapchain and its semaphores (not the
// surface).
void vkappSwapDestroy(vkapp* a, vkappSwap* s) {
	vkDeviceWaitIdle(a->dev);
	if (s->acquired != VK_NULL_HANDLE) {
		vkDestroySemaphore(a->dev, s->acquired, NULL);
	}
	for (uint32_t i = 0; i < VKAPP_MAX_IMAGES; i++) {
		if (s->rendered[i] != VK_NULL_HANDLE) {
			vkDestroySemaphore(a->dev, s->rendered[i], NULL);
		}
		s->rendered[i] = VK_NULL_HANDLE;
	}
	if (s->swap != VK_NULL_HANDLE) {
		vkDestroySwapchainKHR(a->dev, s->swap, NULL);
	}
	s->acquired = VK_NULL_HANDLE;
	s->swap = VK_NULL_HANDLE;
	s->count = 0;
}

static void imageBarrier(vkapp* a, VkImage img, VkImageLayout from, VkImageLayout to, VkAccessFlags src, VkAccessFlags dst,
                         VkPipelineStageFlags srcStage, VkPipelineStageFlags dstStage) {
	VkImageMemoryBarrier b = {VK_STRUCTURE_TYPE_IMAGE_MEMORY_BARRIER};
	b.srcAccessMask = src;
	b.dstAccessMask = dst;
	b.oldLayout = from;
	b.newLayout = to;
	b.srcQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED;
	b.dstQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED;
	b.image = img;
	b.subresourceRange.aspectMask = VK_IMAGE_ASPECT_COLOR_BIT;
	b.subresourceRange.levelCount = 1;
	b.subresourceRange.layerCount = 1;
	vkCmdPipelineBarrier(a->cmd, srcStage, dstStage, 0, 0, NULL, 0, NULL, 1, &b);
}

// vkappFrame presents the canvas (width x height 32-bit pixels in the
// swapchain's byte order) after the semaphore wait (the engine's drawing;
// null for none), and copies the presented image into shot when it is
// not null. It waits for the frame's commands before it returns.
VkResult vkappFrame(vkapp* a, vkappSwap* s, VkBuffer canvas, VkBuffer shot, VkSemaphore wait) {
	uint32_t idx = 0;
	VkResult r = vkAcquireNextImageKHR(a->dev, s->swap, UINT64_MAX, s->acquired, VK_NULL_HANDLE, &idx);
	if (r != VK_SUCCESS && r != VK_SUBOPTIMAL_KHR) {
		if (wait != VK_NULL_HANDLE) { // consume the engine's signal all the same
			VkResult r2 = begin(a);
			if (r2 == VK_SUCCESS) {
				r2 = submit(a, &wait, 1, VK_NULL_HANDLE);
			}
			if (r2 != VK_SUCCESS) {
				return r2;
			}
		}
		return r;
	}
	if ((r = begin(a)) != VK_SUCCESS) {
		return r;
	}
	VkImage img = s->images[idx];
	readAfterEngine(a);
	imageBarrier(a, img, VK_IMAGE_LAYOUT_UNDEFINED, VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL, 0, VK_ACCESS_TRANSFER_WRITE_BIT,
	             VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_TRANSFER_BIT);
	VkBufferImageCopy c = {0};
	c.imageSubresource.aspectMask = VK_IMAGE_ASPECT_COLOR_BIT;
	c.imageSubresource.layerCount = 1;
	c.imageExtent.width = s->width;
	c.imageExtent.height = s->height;
	c.imageExtent.depth = 1;
	vkCmdCopyBufferToImage(a->cmd, canvas, img, VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL, 1, &c);
	VkImageLayout last = VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL;
	VkAccessFlags lastAccess = VK_ACCESS_TRANSFER_WRITE_BIT;
	if (shot != VK_NULL_HANDLE && s->readable) {
		imageBarrier(a, img, last, VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL, VK_ACCESS_TRANSFER_WRITE_BIT, VK_ACCESS_TRANSFER_READ_BIT,
		             VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_TRANSFER_BIT);
		vkCmdCopyImageToBuffer(a->cmd, img, VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL, shot, 1, &c);
		toHost(a);
		last = VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL;
		lastAccess = VK_ACCESS_TRANSFER_READ_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
	}
	imageBarrier(a, img, last, VK_IMAGE_LAYOUT_PRESENT_SRC_KHR, lastAccess, 0, VK_PIPELINE_STAGE_TRANSFER_BIT,
	             VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT);
	VkSemaphore waits[2] = {s->acquired, wait};
	if ((r = submit(a, waits, wait != VK_NULL_HANDLE ? 2 : 1, s->rendered[idx])) != VK_SUCCESS) {
		return r;
	}
	VkPresentInfoKHR pi = {VK_STRUCTURE_TYPE_PRESENT_INFO_KHR};
	pi.waitSemaphoreCount = 1;
	pi.pWaitSemaphores = &s->rendered[idx];
	pi.swapchainCount = 1;
	pi.pSwapchains = &s->swap;
	pi.pImageIndices = &idx;
	return vkQueuePresentKHR(a->queue, &pi);
}

void vkappDestroySurface(VkInstance inst, VkSurfaceKHR s) { vkDestroySurfaceKHR(inst, s, NULL); }
