//go:build cgo

package gpu

import (
	"errors"
	"os"
	"strings"
	"testing"

	vk "github.com/vulkan-go/vulkan"
)

// TestValidationReports makes an invalid Vulkan call on purpose and
// expects the validation layer's message to reach ValidationMessages, so
// that a silent log in the other tests means something.
func TestValidationReports(t *testing.T) {
	dev := openValidated(t)
	// A buffer of size 0 is invalid usage (VUID-VkBufferCreateInfo-size-00912).
	info := &vk.BufferCreateInfo{
		SType:       vk.StructureTypeBufferCreateInfo,
		Size:        0,
		Usage:       vk.BufferUsageFlags(vk.BufferUsageStorageBufferBit),
		SharingMode: vk.SharingModeExclusive,
	}
	var b vk.Buffer
	if vk.CreateBuffer(dev.handle, info, nil, &b) == vk.Success && b != vk.NullBuffer {
		vk.DestroyBuffer(dev.handle, b, nil)
	}
	msgs := dev.ValidationMessages()
	if len(msgs) == 0 {
		t.Fatal("the validation layer reported nothing for a zero-size buffer")
	}
	if !strings.Contains(strings.Join(msgs, "\n"), "size") {
		t.Errorf("unexpected messages: %v", msgs)
	}
}

func TestVkErrMapping(t *testing.T) {
	for _, c := range []struct {
		r    vk.Result
		want error
	}{
		{vk.ErrorDeviceLost, ErrDeviceLost},
		{vk.ErrorOutOfDeviceMemory, ErrOutOfDeviceMemory},
		{vk.ErrorOutOfHostMemory, ErrOutOfHostMemory},
		{vk.Timeout, ErrTimeout},
		{vk.ErrorLayerNotPresent, ErrLayerNotPresent},
		{vk.ErrorFormatNotSupported, ErrVulkan},
	} {
		err := vkErr("vkTest", c.r)
		if err == nil || !strings.Contains(err.Error(), "vkTest") || !errors.Is(err, c.want) {
			t.Errorf("vkErr(%d) = %v, want %v", c.r, err, c.want)
		}
	}
	if vkErr("x", vk.Success) != nil {
		t.Error("vkErr(Success) != nil")
	}
}

// TestSyncValidationReportsHazards records a fill and a copy of the same
// bytes without the barrier the sequence would derive, and expects
// synchronization validation to report it: so silence elsewhere means the
// derived barriers are right.
func TestSyncValidationReportsHazards(t *testing.T) {
	dev := openValidated(t)
	a, _ := dev.NewBuffer(64)
	b, _ := dev.NewBuffer(64)
	s, err := dev.NewSequence(SequenceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.begin(); err != nil {
		t.Fatal(err)
	}
	vk.CmdFillBuffer(s.cmd, a.handle, 0, 64, 1)
	cmdCopy(s.cmd, a.handle, b.handle, 0, 0, 64)
	s.ended = true
	vk.EndCommandBuffer(s.cmd)
	if err := s.Submit(); err != nil {
		t.Fatal(err)
	}
	s.Close()
	a.Close()
	b.Close()
	msgs := strings.Join(dev.ValidationMessages(), "\n")
	if !strings.Contains(msgs, "SYNC-HAZARD") {
		t.Errorf("no synchronization hazard reported for a copy racing a fill; messages: %q", msgs)
	}
}

// openValidated opens the default device with validation, skipping the
// test without Vulkan unless VKVGG_REQUIRE_GPU=1 (package testdev cannot
// be used here: it imports this package).
func openValidated(t *testing.T) *Device {
	t.Helper()
	dev, err := Open(Options{Validation: true})
	if err != nil {
		if os.Getenv("VKVGG_REQUIRE_GPU") == "1" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	t.Cleanup(func() { dev.Close() })
	return dev
}
