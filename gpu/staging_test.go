//go:build cgo

package gpu

import (
	"slices"
	"strings"
	"testing"

	vk "github.com/vulkan-go/vulkan"
)

// TestStagingPath uploads and downloads through the staging buffer, the
// path of every GPU without unified memory (lavapipe maps all memory, so
// the test asks for device-only memory): several chunks, unaligned
// offsets, the staging buffer kept and grown, nothing reported leaked.
func TestStagingPath(t *testing.T) {
	dev, err := Open(Options{Validation: true})
	if err != nil {
		t.Skip(err)
	}
	dev.stagingChunk = 4 << 10
	b, err := dev.newBuffer(64<<10, true, true)
	if err != nil {
		t.Fatal(err)
	}
	if b.mapped != nil {
		t.Fatal("a device-only buffer is mapped")
	}
	data := make([]float32, 12345)
	for i := range data {
		data[i] = float32(i)*0.5 - 7
	}
	for _, off := range []int{0, 3, 1001} {
		if err := b.Upload(off, data); err != nil {
			t.Fatal(err)
		}
		got := make([]float32, len(data))
		if err := b.Download(off, got); err != nil {
			t.Fatal(err)
		}
		for i := range data {
			if got[i] != data[i] {
				t.Fatalf("offset %d: element %d is %v, want %v", off, i, got[i], data[i])
			}
		}
	}
	small := make([]float32, 7)
	if err := b.Download(5, small); err != nil {
		t.Fatal(err)
	}
	if small[0] != data[2] {
		t.Errorf("small download: %v, want %v", small[0], data[2])
	}
	b.Close()
	if err := dev.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if msgs := dev.ValidationMessages(); len(msgs) > 0 {
		t.Errorf("validation: %v", msgs)
	}
}

// TestStagingMemoryType: staging buffers take a cached host-visible type
// where there is one, even listed after an uncached one (NVIDIA's
// order), and an uncached one otherwise; never a device-only type.
func TestStagingMemoryType(t *testing.T) {
	const (
		local    = vk.MemoryPropertyDeviceLocalBit
		visible  = vk.MemoryPropertyHostVisibleBit | vk.MemoryPropertyHostCoherentBit
		cached   = visible | vk.MemoryPropertyHostCachedBit
		rebar    = local | visible
		allTypes = ^uint32(0)
	)
	info := func(types ...vk.MemoryPropertyFlagBits) *DeviceInfo {
		d := &DeviceInfo{}
		d.memory.MemoryTypeCount = uint32(len(types))
		for i, f := range types {
			d.memory.MemoryTypes[i].PropertyFlags = vk.MemoryPropertyFlags(f)
		}
		return d
	}
	for _, c := range []struct {
		name string
		info *DeviceInfo
		bits uint32
		want int
	}{
		{"uncached first", info(local, visible, cached, rebar), allTypes, 2},
		{"no cached type", info(local, visible, rebar), allTypes, 1},
		{"cached not allowed by the buffer", info(local, visible, cached), 0b011, 1},
		{"only device memory", info(local), allTypes, -1},
	} {
		if got := c.info.stagingMemoryType(c.bits); got != c.want {
			t.Errorf("%s: memory type %d, want %d", c.name, got, c.want)
		}
	}
}

// TestDeviceExtensions: the extension list behind
// DeviceInfo.CooperativeMatrix is read (every driver offers some
// extensions) and well formed.
func TestDeviceExtensions(t *testing.T) {
	dev, err := Open(Options{})
	if err != nil {
		t.Skip(err)
	}
	defer dev.Close()
	names := deviceExtensions(dev.info.physical)
	if len(names) == 0 {
		t.Fatalf("%s offers no extensions", dev.info.Name)
	}
	for _, n := range names {
		if !strings.HasPrefix(n, "VK_") {
			t.Errorf("extension name %q", n)
		}
	}
	for _, c := range dev.info.CooperativeMatrix {
		if !slices.Contains(names, c) {
			t.Errorf("CooperativeMatrix lists %q, which the device does not offer", c)
		}
	}
	t.Logf("%d extensions; cooperative matrices: %v", len(names), dev.info.CooperativeMatrix)
}
