//go:build cgo

package gpu

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	vk "github.com/vulkan-go/vulkan"
)

// maxCacheFile bounds the pipeline cache file read at Open.
const maxCacheFile = 256 << 20

// cacheFile is the file of the pipeline cache of a device in dir: one per
// vendor, device, driver version and pipeline-cache UUID, so that another
// driver never reads a cache it did not write.
func (info *DeviceInfo) cacheFile(dir string) string {
	return filepath.Join(dir, fmt.Sprintf("pipelines-%04x-%04x-%08x-%x.bin", info.VendorID, info.DeviceID, info.driverVersion, info.cacheUUID))
}

// validCache reports whether data starts with the pipeline cache header
// (VK_PIPELINE_CACHE_HEADER_VERSION_ONE) of this device; anything else (a
// truncated or foreign file) is not given to the driver.
func (info *DeviceInfo) validCache(data []byte) bool {
	if len(data) < 32 {
		return false
	}
	le := binary.LittleEndian
	size, version := le.Uint32(data), le.Uint32(data[4:])
	return size >= 32 && int(size) <= len(data) && version == 1 &&
		le.Uint32(data[8:]) == info.VendorID && le.Uint32(data[12:]) == info.DeviceID &&
		bytes.Equal(data[16:32], info.cacheUUID[:])
}

// openCache creates the device's pipeline cache, seeded from the file in
// dir when there is a valid one. A missing, unreadable or corrupt file is
// ignored (and rewritten at Close).
func (d *Device) openCache(dir string) error {
	path := d.info.cacheFile(dir)
	var data []byte
	if f, err := os.Open(path); err == nil {
		data, _ = io.ReadAll(io.LimitReader(f, maxCacheFile))
		f.Close()
	}
	if !d.info.validCache(data) {
		data = nil
	}
	c, r := createPipelineCache(d.handle, data)
	if r != vk.Success && data != nil {
		data = nil
		c, r = createPipelineCache(d.handle, nil)
	}
	if err := vkErr("vkCreatePipelineCache", r); err != nil {
		return err
	}
	d.cache, d.cachePath, d.cacheLoaded = c, path, len(data)
	return nil
}

// saveCache writes the pipeline cache back when it grew, through a
// temporary file and a rename, so that two processes saving at once leave
// one whole file.
func (d *Device) saveCache() error {
	if d.cache == vk.NullPipelineCache {
		return nil
	}
	defer destroyPipelineCache(d.handle, d.cache)
	data, r := pipelineCacheData(d.handle, d.cache)
	if err := vkErr("vkGetPipelineCacheData", r); err != nil || len(data) <= d.cacheLoaded {
		return err
	}
	dir := filepath.Dir(d.cachePath)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("gpu: pipeline cache: %w", err)
	}
	f, err := os.CreateTemp(dir, ".tmp-pipelines-*")
	if err != nil {
		return fmt.Errorf("gpu: pipeline cache: %w", err)
	}
	_, werr := f.Write(data)
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(f.Name(), d.cachePath)
	}
	if werr != nil {
		os.Remove(f.Name())
		return fmt.Errorf("gpu: pipeline cache: %w", werr)
	}
	return nil
}

// TuningFile is where choices measured on this device (the layers'
// auto-tuning) are kept beside its pipeline cache: one file per device
// and driver, as the cache. It is "" when the device has no pipeline
// cache folder.
func (d *Device) TuningFile() string {
	if d.cachePath == "" {
		return ""
	}
	return filepath.Join(filepath.Dir(d.cachePath), "tuning-"+strings.TrimSuffix(strings.TrimPrefix(filepath.Base(d.cachePath), "pipelines-"), ".bin")+".json")
}
