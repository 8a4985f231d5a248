//go:build cgo

package gpu

/*
#include <stdint.h>
#include <stdlib.h>
#include <vulkan/vulkan.h>

// The Go binding's own dispatchers (vk_bridge.c of vulkan-go), which call
// through the function table that vk.InitInstance filled.
VkResult callVkCreateInstance(const VkInstanceCreateInfo*, const VkAllocationCallbacks*, VkInstance*);
VkResult callVkCreateDevice(VkPhysicalDevice, const VkDeviceCreateInfo*, const VkAllocationCallbacks*, VkDevice*);
VkResult callVkCreateDescriptorSetLayout(VkDevice, const VkDescriptorSetLayoutCreateInfo*, const VkAllocationCallbacks*, VkDescriptorSetLayout*);
VkResult callVkCreatePipelineLayout(VkDevice, const VkPipelineLayoutCreateInfo*, const VkAllocationCallbacks*, VkPipelineLayout*);
VkResult callVkCreateComputePipelines(VkDevice, VkPipelineCache, uint32_t, const VkComputePipelineCreateInfo*, const VkAllocationCallbacks*, VkPipeline*);
VkResult callVkCreateDescriptorPool(VkDevice, const VkDescriptorPoolCreateInfo*, const VkAllocationCallbacks*, VkDescriptorPool*);
VkResult callVkAllocateDescriptorSets(VkDevice, const VkDescriptorSetAllocateInfo*, VkDescriptorSet*);
void callVkUpdateDescriptorSets(VkDevice, uint32_t, const VkWriteDescriptorSet*, uint32_t, const VkCopyDescriptorSet*);
void callVkCmdPipelineBarrier(VkCommandBuffer, VkPipelineStageFlags, VkPipelineStageFlags, VkDependencyFlags, uint32_t, const VkMemoryBarrier*, uint32_t, const VkBufferMemoryBarrier*, uint32_t, const VkImageMemoryBarrier*);
void callVkCmdCopyBuffer(VkCommandBuffer, VkBuffer, VkBuffer, uint32_t, const VkBufferCopy*);
VkResult callVkQueueSubmit(VkQueue, uint32_t, const VkSubmitInfo*, VkFence);
void callVkGetPhysicalDeviceQueueFamilyProperties(VkPhysicalDevice, uint32_t*, VkQueueFamilyProperties*);
VkResult callVkCreatePipelineCache(VkDevice, const VkPipelineCacheCreateInfo*, const VkAllocationCallbacks*, VkPipelineCache*);
VkResult callVkGetPipelineCacheData(VkDevice, VkPipelineCache, size_t*, void*);
void callVkDestroyPipelineCache(VkDevice, VkPipelineCache, const VkAllocationCallbacks*);

static VkResult vkvggCreatePipelineCache(VkDevice dev, const void* data, size_t n, VkPipelineCache* out) {
	VkPipelineCacheCreateInfo info = {VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO};
	info.initialDataSize = n;
	info.pInitialData = n > 0 ? data : NULL;
	return callVkCreatePipelineCache(dev, &info, NULL, out);
}

static VkResult vkvggPipelineCacheData(VkDevice dev, VkPipelineCache cache, size_t* n, void* data) {
	return callVkGetPipelineCacheData(dev, cache, n, data);
}

static void vkvggDestroyPipelineCache(VkDevice dev, VkPipelineCache cache) {
	callVkDestroyPipelineCache(dev, cache, NULL);
}

// vkvggFamilyComputes reports whether queue family f has compute.
static int vkvggFamilyComputes(VkPhysicalDevice pd, uint32_t f) {
	uint32_t n = 0;
	callVkGetPhysicalDeviceQueueFamilyProperties(pd, &n, NULL);
	if (f >= n) {
		return 0;
	}
	VkQueueFamilyProperties* q = calloc(n, sizeof *q);
	if (q == NULL) {
		return 0;
	}
	callVkGetPhysicalDeviceQueueFamilyProperties(pd, &n, q);
	int ok = f < n && (q[f].queueFlags & VK_QUEUE_COMPUTE_BIT) != 0;
	free(q);
	return ok;
}

// vkvggComputeQueue finds the first queue family with compute and its
// timestamp bits; it returns -1 when there is none.
static int vkvggComputeQueue(VkPhysicalDevice pd, uint32_t* timestampBits) {
	uint32_t n = 0;
	callVkGetPhysicalDeviceQueueFamilyProperties(pd, &n, NULL);
	if (n == 0) {
		return -1;
	}
	VkQueueFamilyProperties* q = calloc(n, sizeof *q);
	if (q == NULL) {
		return -1;
	}
	callVkGetPhysicalDeviceQueueFamilyProperties(pd, &n, q);
	int family = -1;
	for (uint32_t i = 0; i < n; i++) {
		if (q[i].queueFlags & VK_QUEUE_COMPUTE_BIT) {
			family = (int)i;
			*timestampBits = q[i].timestampValidBits;
			break;
		}
	}
	free(q);
	return family;
}

static VkResult vkvggCreateInstance(uint32_t apiVersion, int validation, void* pNext, VkInstance* out) {
	VkApplicationInfo app = {VK_STRUCTURE_TYPE_APPLICATION_INFO};
	app.pApplicationName = "vkvgg";
	app.pEngineName = "vkvgg";
	app.apiVersion = apiVersion;
	const char* layers[] = {"VK_LAYER_KHRONOS_validation"};
	const char* exts[] = {"VK_EXT_debug_report", "VK_EXT_validation_features"};
	VkInstanceCreateInfo info = {VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
	info.pApplicationInfo = &app;
	if (validation) {
		info.enabledLayerCount = 1;
		info.ppEnabledLayerNames = layers;
		info.enabledExtensionCount = 2;
		info.ppEnabledExtensionNames = exts;
		info.pNext = pNext;
	}
	return callVkCreateInstance(&info, NULL, out);
}

// vkvggCreateDevice makes a device with one queue of family; storage16
// enables storageBuffer16BitAccess (Vulkan 1.1), which fp16 kernels need.
static VkResult vkvggCreateDevice(VkPhysicalDevice pd, uint32_t family, int storage16, VkDevice* out) {
	float priority = 1.0f;
	VkPhysicalDevice16BitStorageFeatures s16 = {VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES};
	s16.storageBuffer16BitAccess = VK_TRUE;
	VkDeviceQueueCreateInfo q = {VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO};
	q.queueFamilyIndex = family;
	q.queueCount = 1;
	q.pQueuePriorities = &priority;
	VkDeviceCreateInfo info = {VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO};
	info.queueCreateInfoCount = 1;
	info.pQueueCreateInfos = &q;
	if (storage16) {
		info.pNext = &s16;
	}
	return callVkCreateDevice(pd, &info, NULL, out);
}

static VkResult vkvggCreateSetLayout(VkDevice dev, uint32_t n, const VkDescriptorType* types, VkDescriptorSetLayout* out) {
	VkDescriptorSetLayoutBinding* b = calloc(n ? n : 1, sizeof *b);
	if (b == NULL) {
		return VK_ERROR_OUT_OF_HOST_MEMORY;
	}
	for (uint32_t i = 0; i < n; i++) {
		b[i].binding = i;
		b[i].descriptorType = types[i];
		b[i].descriptorCount = 1;
		b[i].stageFlags = VK_SHADER_STAGE_COMPUTE_BIT;
	}
	VkDescriptorSetLayoutCreateInfo info = {VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO};
	info.bindingCount = n;
	info.pBindings = b;
	VkResult r = callVkCreateDescriptorSetLayout(dev, &info, NULL, out);
	free(b);
	return r;
}

static VkResult vkvggCreatePipelineLayout(VkDevice dev, VkDescriptorSetLayout set, uint32_t pushBytes, VkPipelineLayout* out) {
	VkPushConstantRange push = {VK_SHADER_STAGE_COMPUTE_BIT, 0, pushBytes};
	VkPipelineLayoutCreateInfo info = {VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO};
	info.setLayoutCount = 1;
	info.pSetLayouts = &set;
	if (pushBytes > 0) {
		info.pushConstantRangeCount = 1;
		info.pPushConstantRanges = &push;
	}
	return callVkCreatePipelineLayout(dev, &info, NULL, out);
}

static VkResult vkvggCreatePipeline(VkDevice dev, VkPipelineCache cache, VkShaderModule module, VkPipelineLayout layout, uint32_t n, const uint32_t* spec, VkPipeline* out) {
	VkSpecializationMapEntry* e = calloc(n ? n : 1, sizeof *e);
	if (e == NULL) {
		return VK_ERROR_OUT_OF_HOST_MEMORY;
	}
	for (uint32_t i = 0; i < n; i++) {
		e[i].constantID = i;
		e[i].offset = 4 * i;
		e[i].size = 4;
	}
	VkSpecializationInfo si = {n, e, 4 * (size_t)n, spec};
	VkComputePipelineCreateInfo info = {VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO};
	info.stage.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO;
	info.stage.stage = VK_SHADER_STAGE_COMPUTE_BIT;
	info.stage.module = module;
	info.stage.pName = "main";
	info.stage.pSpecializationInfo = n > 0 ? &si : NULL;
	info.layout = layout;
	VkResult r = callVkCreateComputePipelines(dev, cache, 1, &info, NULL, out);
	free(e);
	return r;
}

static VkResult vkvggCreateDescriptorPool(VkDevice dev, uint32_t maxSets, uint32_t perType, VkDescriptorPool* out) {
	VkDescriptorPoolSize sizes[2] = {{VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, perType}, {VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER, perType}};
	VkDescriptorPoolCreateInfo info = {VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO};
	info.maxSets = maxSets;
	info.poolSizeCount = 2;
	info.pPoolSizes = sizes;
	return callVkCreateDescriptorPool(dev, &info, NULL, out);
}

static VkResult vkvggAllocateSet(VkDevice dev, VkDescriptorPool pool, VkDescriptorSetLayout layout, VkDescriptorSet* out) {
	VkDescriptorSetAllocateInfo info = {VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO};
	info.descriptorPool = pool;
	info.descriptorSetCount = 1;
	info.pSetLayouts = &layout;
	return callVkAllocateDescriptorSets(dev, &info, out);
}

// vkvggWriteSet points binding i of set at buffer range i (storage) or
// texel view i (uniform texel buffer), for i < n <= 16.
// Handles come as 64-bit integers, the size of every non-dispatchable
// handle, so that no Go memory holds pointer-typed values the cgo checks
// would inspect.
static void vkvggWriteSet(VkDevice dev, VkDescriptorSet set, uint32_t n, const VkDescriptorType* types,
		const uint64_t* bufs, const VkDeviceSize* offs, const VkDeviceSize* sizes, const uint64_t* views) {
	VkBufferView v[16];
	VkWriteDescriptorSet w[16];
	VkDescriptorBufferInfo bi[16];
	for (uint32_t i = 0; i < n && i < 16; i++) {
		VkWriteDescriptorSet x = {VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET};
		x.dstSet = set;
		x.dstBinding = i;
		x.descriptorCount = 1;
		x.descriptorType = types[i];
		if (types[i] == VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER) {
			v[i] = (VkBufferView)(uintptr_t)views[i];
			x.pTexelBufferView = &v[i];
		} else {
			bi[i].buffer = (VkBuffer)(uintptr_t)bufs[i];
			bi[i].offset = offs[i];
			bi[i].range = sizes[i];
			x.pBufferInfo = &bi[i];
		}
		w[i] = x;
	}
	callVkUpdateDescriptorSets(dev, n < 16 ? n : 16, w, 0, NULL);
}

static void vkvggBarrier(VkCommandBuffer cmd, VkPipelineStageFlags src, VkPipelineStageFlags dst, VkAccessFlags srcAccess, VkAccessFlags dstAccess) {
	VkMemoryBarrier mb = {VK_STRUCTURE_TYPE_MEMORY_BARRIER};
	mb.srcAccessMask = srcAccess;
	mb.dstAccessMask = dstAccess;
	callVkCmdPipelineBarrier(cmd, src, dst, 0, 1, &mb, 0, NULL, 0, NULL);
}

static void vkvggCopy(VkCommandBuffer cmd, VkBuffer src, VkBuffer dst, VkDeviceSize srcOff, VkDeviceSize dstOff, VkDeviceSize size) {
	VkBufferCopy region = {srcOff, dstOff, size};
	callVkCmdCopyBuffer(cmd, src, dst, 1, &region);
}

static VkResult vkvggSubmit(VkQueue q, VkCommandBuffer cmd, VkFence fence) {
	VkSubmitInfo si = {VK_STRUCTURE_TYPE_SUBMIT_INFO};
	si.commandBufferCount = 1;
	si.pCommandBuffers = &cmd;
	return callVkQueueSubmit(q, 1, &si, fence);
}

// vkvggSignal submits an empty batch that signals sem (when not null)
// and fence (when not null) after all work submitted before it.
static VkResult vkvggSignal(VkQueue q, VkSemaphore sem, VkFence fence) {
	VkSubmitInfo si = {VK_STRUCTURE_TYPE_SUBMIT_INFO};
	if (sem != VK_NULL_HANDLE) {
		si.signalSemaphoreCount = 1;
		si.pSignalSemaphores = &sem;
	}
	return callVkQueueSubmit(q, 1, &si, fence);
}
*/
import "C"

import (
	"unsafe"

	vk "github.com/vulkan-go/vulkan"
)

// The Vulkan calls below take structs that point to other structs. They
// are made here, with every struct built in C, because the Go binding
// (vulkan-go) copies such arrays into C memory that a finalizer frees as
// soon as a garbage collection finds the copy's Go variable unreachable,
// which can happen while the call is still reading it (a collection in
// any goroutine during vkCreateComputePipelines crashed the driver;
// TestCallsSurviveGC reproduces it). Calls with flat arguments still go
// through the binding.

// cv converts between the binding's handle types and this package's C
// types, which are the same C types seen from two packages.
func cv[T, U any](u U) T { return *(*T)(unsafe.Pointer(&u)) }

func cBool(b bool) C.int {
	if b {
		return 1
	}
	return 0
}

func createInstance(apiVersion uint32, validation bool, pNext unsafe.Pointer) (vk.Instance, vk.Result) {
	var h C.VkInstance
	r := C.vkvggCreateInstance(C.uint32_t(apiVersion), cBool(validation), pNext, &h)
	return cv[vk.Instance](h), vk.Result(r)
}

func createDevice(pd vk.PhysicalDevice, family uint32, storage16 bool) (vk.Device, vk.Result) {
	var h C.VkDevice
	r := C.vkvggCreateDevice(cv[C.VkPhysicalDevice](pd), C.uint32_t(family), cBool(storage16), &h)
	return cv[vk.Device](h), vk.Result(r)
}

func createSetLayout(dev vk.Device, types []vk.DescriptorType) (vk.DescriptorSetLayout, vk.Result) {
	ct := make([]C.VkDescriptorType, len(types)+1)
	for i, t := range types {
		ct[i] = C.VkDescriptorType(t)
	}
	var h C.VkDescriptorSetLayout
	r := C.vkvggCreateSetLayout(cv[C.VkDevice](dev), C.uint32_t(len(types)), &ct[0], &h)
	return cv[vk.DescriptorSetLayout](h), vk.Result(r)
}

func createPipelineLayout(dev vk.Device, set vk.DescriptorSetLayout, pushBytes int) (vk.PipelineLayout, vk.Result) {
	var h C.VkPipelineLayout
	r := C.vkvggCreatePipelineLayout(cv[C.VkDevice](dev), cv[C.VkDescriptorSetLayout](set), C.uint32_t(pushBytes), &h)
	return cv[vk.PipelineLayout](h), vk.Result(r)
}

func createPipeline(dev vk.Device, cache vk.PipelineCache, module vk.ShaderModule, layout vk.PipelineLayout, spec []uint32) (vk.Pipeline, vk.Result) {
	words := make([]C.uint32_t, len(spec)+1)
	for i, v := range spec {
		words[i] = C.uint32_t(v)
	}
	var h C.VkPipeline
	r := C.vkvggCreatePipeline(cv[C.VkDevice](dev), cv[C.VkPipelineCache](cache), cv[C.VkShaderModule](module), cv[C.VkPipelineLayout](layout), C.uint32_t(len(spec)), &words[0], &h)
	return cv[vk.Pipeline](h), vk.Result(r)
}

func createDescriptorPool(dev vk.Device, maxSets, perType int) (vk.DescriptorPool, vk.Result) {
	var h C.VkDescriptorPool
	r := C.vkvggCreateDescriptorPool(cv[C.VkDevice](dev), C.uint32_t(maxSets), C.uint32_t(perType), &h)
	return cv[vk.DescriptorPool](h), vk.Result(r)
}

func allocateSet(dev vk.Device, pool vk.DescriptorPool, layout vk.DescriptorSetLayout) (vk.DescriptorSet, vk.Result) {
	var h C.VkDescriptorSet
	r := C.vkvggAllocateSet(cv[C.VkDevice](dev), cv[C.VkDescriptorPool](pool), cv[C.VkDescriptorSetLayout](layout), &h)
	return cv[vk.DescriptorSet](h), vk.Result(r)
}

// binding is one descriptor of writeSet: a buffer range, or a texel view.
type binding struct {
	typ       vk.DescriptorType
	buf       vk.Buffer
	off, size int64
	view      vk.BufferView
}

// maxBindings bounds the bindings of a kernel (writeSet's C arrays).
const maxBindings = 16

func writeSet(dev vk.Device, set vk.DescriptorSet, bs []binding) {
	n := len(bs)
	types := make([]C.VkDescriptorType, n)
	bufs := make([]C.uint64_t, n)
	offs := make([]C.VkDeviceSize, n)
	sizes := make([]C.VkDeviceSize, n)
	views := make([]C.uint64_t, n)
	for i, b := range bs {
		types[i] = C.VkDescriptorType(b.typ)
		bufs[i] = C.uint64_t(uintptr(cv[unsafe.Pointer](b.buf)))
		offs[i], sizes[i] = C.VkDeviceSize(b.off), C.VkDeviceSize(b.size)
		views[i] = C.uint64_t(uintptr(cv[unsafe.Pointer](b.view)))
	}
	C.vkvggWriteSet(cv[C.VkDevice](dev), cv[C.VkDescriptorSet](set), C.uint32_t(n), &types[0], &bufs[0], &offs[0], &sizes[0], &views[0])
}

func cmdBarrier(cmd vk.CommandBuffer, src, dst vk.PipelineStageFlagBits, srcAccess, dstAccess vk.AccessFlagBits) {
	C.vkvggBarrier(cv[C.VkCommandBuffer](cmd), C.VkPipelineStageFlags(src), C.VkPipelineStageFlags(dst), C.VkAccessFlags(srcAccess), C.VkAccessFlags(dstAccess))
}

func cmdCopy(cmd vk.CommandBuffer, src, dst vk.Buffer, srcOff, dstOff, size int64) {
	C.vkvggCopy(cv[C.VkCommandBuffer](cmd), cv[C.VkBuffer](src), cv[C.VkBuffer](dst), C.VkDeviceSize(srcOff), C.VkDeviceSize(dstOff), C.VkDeviceSize(size))
}

func queueSubmit(q vk.Queue, cmd vk.CommandBuffer, fence vk.Fence) vk.Result {
	return vk.Result(C.vkvggSubmit(cv[C.VkQueue](q), cv[C.VkCommandBuffer](cmd), cv[C.VkFence](fence)))
}

func queueSignal(q vk.Queue, sem, fence uintptr) vk.Result {
	return vk.Result(C.vkvggSignal(cv[C.VkQueue](q), cv[C.VkSemaphore](sem), cv[C.VkFence](fence)))
}

// computeQueue is the first queue family with compute (-1 for none) and
// its timestamp bits.
func computeQueue(pd vk.PhysicalDevice) (int, uint32) {
	var bits C.uint32_t
	f := C.vkvggComputeQueue(cv[C.VkPhysicalDevice](pd), &bits)
	return int(f), uint32(bits)
}

func createPipelineCache(dev vk.Device, data []byte) (vk.PipelineCache, vk.Result) {
	var h C.VkPipelineCache
	var p unsafe.Pointer
	if len(data) > 0 {
		p = unsafe.Pointer(&data[0])
	}
	r := C.vkvggCreatePipelineCache(cv[C.VkDevice](dev), p, C.size_t(len(data)), &h)
	return cv[vk.PipelineCache](h), vk.Result(r)
}

// pipelineCacheData returns the cache's contents.
func pipelineCacheData(dev vk.Device, cache vk.PipelineCache) ([]byte, vk.Result) {
	var n C.size_t
	if r := C.vkvggPipelineCacheData(cv[C.VkDevice](dev), cv[C.VkPipelineCache](cache), &n, nil); r != C.VK_SUCCESS || n == 0 {
		return nil, vk.Result(r)
	}
	buf := make([]byte, int(n))
	r := C.vkvggPipelineCacheData(cv[C.VkDevice](dev), cv[C.VkPipelineCache](cache), &n, unsafe.Pointer(&buf[0]))
	if r != C.VK_SUCCESS && r != C.VK_INCOMPLETE {
		return nil, vk.Result(r)
	}
	return buf[:int(n)], vk.Success
}

func destroyPipelineCache(dev vk.Device, cache vk.PipelineCache) {
	C.vkvggDestroyPipelineCache(cv[C.VkDevice](dev), cv[C.VkPipelineCache](cache))
}

// familyComputes reports whether queue family f of pd has compute.
func familyComputes(pd vk.PhysicalDevice, f uint32) bool {
	return C.vkvggFamilyComputes(cv[C.VkPhysicalDevice](pd), C.uint32_t(f)) != 0
}
