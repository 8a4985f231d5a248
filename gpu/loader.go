//go:build cgo

package gpu

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <string.h>
#include <vulkan/vulkan.h>

static PFN_vkGetInstanceProcAddr vkvggGIPA;

// vkvggLoad opens the Vulkan loader by its runtime soname, which every
// distribution ships in the runtime package (libvulkan.so without the
// version suffix comes only with the -dev package).
static void* vkvggLoad(void) {
	if (vkvggGIPA != NULL) {
		return (void*)vkvggGIPA;
	}
	const char* names[] = {"libvulkan.so.1", "libvulkan.so"};
	for (int i = 0; i < 2; i++) {
		void* lib = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
		if (lib != NULL) {
			vkvggGIPA = (PFN_vkGetInstanceProcAddr)dlsym(lib, "vkGetInstanceProcAddr");
			if (vkvggGIPA != NULL) {
				return (void*)vkvggGIPA;
			}
		}
	}
	return NULL;
}

// vkvggValidationFeatures returns a VkValidationFeaturesEXT (in C memory,
// for InstanceCreateInfo.pNext) that turns on synchronization validation,
// which reports missing or wrong barriers.
static void* vkvggValidationFeatures(void) {
	static VkValidationFeatureEnableEXT enables[] = {VK_VALIDATION_FEATURE_ENABLE_SYNCHRONIZATION_VALIDATION_EXT};
	static VkValidationFeaturesEXT features = {VK_STRUCTURE_TYPE_VALIDATION_FEATURES_EXT};
	features.enabledValidationFeatureCount = 1;
	features.pEnabledValidationFeatures = enables;
	return &features;
}

typedef struct {
	uint32_t subgroupSize;
	uint32_t subgroupStages;
	uint32_t subgroupOps;
	uint32_t fp16;
	uint32_t storage16;
	uint32_t hasDriver;
	uint64_t maxAllocation;
	char driverName[VK_MAX_DRIVER_NAME_SIZE];
	char driverInfo[VK_MAX_DRIVER_INFO_SIZE];
} vkvggExtra;

// vkvggQuery reads the Vulkan 1.1/1.2 properties and features that the
// 1.0-era structs of the Go binding cannot chain.
static void vkvggQuery(void* instance, void* physical, uint32_t apiVersion, vkvggExtra* out) {
	memset(out, 0, sizeof(*out));
	VkInstance inst = (VkInstance)instance;
	VkPhysicalDevice pd = (VkPhysicalDevice)physical;
	if (VK_API_VERSION_MINOR(apiVersion) < 1 && VK_API_VERSION_MAJOR(apiVersion) == 1) {
		return;
	}
	PFN_vkGetPhysicalDeviceProperties2 props2 =
		(PFN_vkGetPhysicalDeviceProperties2)vkvggGIPA(inst, "vkGetPhysicalDeviceProperties2");
	PFN_vkGetPhysicalDeviceFeatures2 feats2 =
		(PFN_vkGetPhysicalDeviceFeatures2)vkvggGIPA(inst, "vkGetPhysicalDeviceFeatures2");
	if (props2 == NULL || feats2 == NULL) {
		return;
	}
	int v12 = VK_API_VERSION_MAJOR(apiVersion) > 1 || VK_API_VERSION_MINOR(apiVersion) >= 2;

	VkPhysicalDeviceDriverProperties driver = {VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES};
	VkPhysicalDeviceMaintenance3Properties maint = {VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MAINTENANCE_3_PROPERTIES};
	VkPhysicalDeviceSubgroupProperties sub = {VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES};
	sub.pNext = &maint;
	if (v12) {
		maint.pNext = &driver;
	}
	VkPhysicalDeviceProperties2 p = {VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2};
	p.pNext = &sub;
	props2(pd, &p);
	out->subgroupSize = sub.subgroupSize;
	out->maxAllocation = maint.maxMemoryAllocationSize;
	out->subgroupStages = sub.supportedStages;
	out->subgroupOps = sub.supportedOperations;
	if (v12) {
		out->hasDriver = 1;
		memcpy(out->driverName, driver.driverName, sizeof(out->driverName));
		memcpy(out->driverInfo, driver.driverInfo, sizeof(out->driverInfo));
	}

	VkPhysicalDeviceShaderFloat16Int8Features f16 = {VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_FLOAT16_INT8_FEATURES};
	VkPhysicalDevice16BitStorageFeatures s16 = {VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES};
	if (v12) {
		s16.pNext = &f16;
	}
	VkPhysicalDeviceFeatures2 f = {VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2};
	f.pNext = &s16;
	feats2(pd, &f);
	out->fp16 = f16.shaderFloat16;
	out->storage16 = s16.storageBuffer16BitAccess;
}
*/
import "C"

import (
	"fmt"
	"sync"
	"unsafe"

	vk "github.com/vulkan-go/vulkan"
)

var (
	loadOnce sync.Once
	loadErr  error
)

// load finds the Vulkan loader and the global entry points, once per process.
func load() error {
	loadOnce.Do(func() {
		gipa := C.vkvggLoad()
		if gipa == nil {
			loadErr = fmt.Errorf("%w: libvulkan.so.1 not found (install the Vulkan loader, e.g. Debian's libvulkan1, and a driver such as mesa-vulkan-drivers)", ErrNoVulkan)
			return
		}
		vk.SetGetInstanceProcAddr(unsafe.Pointer(gipa))
		if err := vk.Init(); err != nil {
			loadErr = fmt.Errorf("%w: %v", ErrNoVulkan, err)
		}
	})
	return loadErr
}

// syncValidation is a VkValidationFeaturesEXT enabling synchronization
// validation, in static C memory.
func syncValidation() unsafe.Pointer { return C.vkvggValidationFeatures() }

// extraInfo is what queryExtra adds to the Vulkan 1.0 properties.
type extraInfo struct {
	subgroupSize   uint32
	subgroupStages uint32
	subgroupOps    uint32
	fp16           bool
	storage16      bool
	driverName     string
	driverInfo     string
	maxAllocation  uint64
}

func queryExtra(inst vk.Instance, pd vk.PhysicalDevice, apiVersion uint32) extraInfo {
	var out C.vkvggExtra
	C.vkvggQuery(unsafe.Pointer(inst), unsafe.Pointer(pd), C.uint32_t(apiVersion), &out)
	e := extraInfo{
		subgroupSize:   uint32(out.subgroupSize),
		subgroupStages: uint32(out.subgroupStages),
		subgroupOps:    uint32(out.subgroupOps),
		fp16:           out.fp16 != 0,
		storage16:      out.storage16 != 0,
		maxAllocation:  uint64(out.maxAllocation),
	}
	if out.hasDriver != 0 {
		e.driverName = C.GoString(&out.driverName[0])
		e.driverInfo = C.GoString(&out.driverInfo[0])
	}
	return e
}
