// Package testdev opens the Vulkan device that tests run on.
//
// Tests call Open: it enables the Khronos validation layer, skips the test
// when no Vulkan device exists, and at cleanup fails the test on any
// validation message or on objects left open. Setting VKVGG_REQUIRE_GPU=1
// turns the skip into a failure (and requires the validation layer), so
// a run that must exercise a device cannot pass by skipping.
package testdev

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/vkvgg/vkvgg/gpu"
)

// EnvRequire is the variable that makes a missing device a failure.
const EnvRequire = "VKVGG_REQUIRE_GPU"

// Required reports whether VKVGG_REQUIRE_GPU=1.
func Required() bool { return os.Getenv(EnvRequire) == "1" }

// Open opens the default device (or VKVGG_DEVICE) with validation on.
func Open(t testing.TB) *gpu.Device {
	t.Helper()
	dev, err := gpu.Open(gpu.Options{Validation: true})
	if errors.Is(err, gpu.ErrLayerNotPresent) && !Required() {
		t.Logf("validation layer not installed (Debian: vulkan-validationlayers); running without it")
		dev, err = gpu.Open(gpu.Options{})
	}
	if err != nil {
		if (errors.Is(err, gpu.ErrNoVulkan) || errors.Is(err, gpu.ErrNoDevice)) && !Required() {
			t.Skipf("no Vulkan device: %v (set %s=1 to fail instead)", err, EnvRequire)
		}
		t.Fatalf("gpu.Open: %v", err)
	}
	t.Cleanup(func() {
		if err := dev.Close(); err != nil {
			t.Errorf("Device.Close: %v", err)
		}
		if msgs := dev.ValidationMessages(); len(msgs) > 0 {
			t.Errorf("%d validation messages:\n%s", len(msgs), strings.Join(msgs, "\n"))
		}
	})
	return dev
}

// OpenBench opens the default device without validation (it adds host
// overhead) for benchmarks, skipping when none exists.
func OpenBench(tb testing.TB) *gpu.Device {
	tb.Helper()
	dev, err := gpu.Open(gpu.Options{})
	if err != nil {
		tb.Skipf("no Vulkan device: %v", err)
	}
	tb.Cleanup(func() { dev.Close() })
	return dev
}
