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
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vkvgg/vkvgg/gpu"
	"github.com/vkvgg/vkvgg/images"
	"github.com/vkvgg/vkvgg/layers"
)

// EnvRequire is the variable that makes a missing device a failure.
const EnvRequire = "VKVGG_REQUIRE_GPU"

// Required reports whether VKVGG_REQUIRE_GPU=1.
func Required() bool { return os.Getenv(EnvRequire) == "1" }

// EnvRequireDisplay is the variable that makes a missing X server a
// failure for the tests that open a window.
const EnvRequireDisplay = "VKVGG_REQUIRE_DISPLAY"

// Xvfb returns the xvfb-run to run a windowed program under, or "" where
// DISPLAY names an X server already; with neither it skips t, or fails
// it under VKVGG_REQUIRE_DISPLAY=1.
func Xvfb(t testing.TB) string {
	t.Helper()
	xvfb, err := exec.LookPath("xvfb-run")
	if err != nil && os.Getenv("DISPLAY") == "" {
		if os.Getenv(EnvRequireDisplay) == "1" {
			t.Fatal("no xvfb-run and no DISPLAY (Debian: xvfb xauth)")
		}
		t.Skip("no xvfb-run and no DISPLAY (Debian: xvfb xauth)")
	}
	return xvfb
}

// Kernels are the kernel options the environment asks the tests for
// (VKVGG_KERNELS, VKVGG_WINOGRAD, VKVGG_SUBGROUPS; layers.KernelOptionsFromEnv):
// make test runs the network tests again with VKVGG_KERNELS=gpu. Tests
// pass them to every network they open on a device; a value no kit knows
// fails the test.
func Kernels(t testing.TB) layers.KernelOptions {
	t.Helper()
	o, err := layers.KernelOptionsFromEnv(os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// DeviceName is the device the tests run on: VKVGG_DEVICE (gpu.EnvDevice),
// or "" for the best one. Tests that open a device of their own pass it
// as gpu.Options.Device or models.Options.Device.
func DeviceName() string { return os.Getenv(gpu.EnvDevice) }

// Open opens the default device (or VKVGG_DEVICE) with validation on.
func Open(t testing.TB) *gpu.Device {
	t.Helper()
	// VKVGG_STAGING=1 runs the tests through the staging path of
	// discrete GPUs (device-only memory) on any device.
	staging := os.Getenv("VKVGG_STAGING") == "1"
	logOpen(t.Name())
	dev, err := gpu.Open(gpu.Options{Device: DeviceName(), Validation: true, Staging: staging})
	if errors.Is(err, gpu.ErrLayerNotPresent) && !Required() {
		t.Logf("validation layer not installed (Debian: vulkan-validationlayers); running without it")
		logOpen(t.Name() + ", without validation")
		dev, err = gpu.Open(gpu.Options{Device: DeviceName(), Staging: staging})
	}
	if err != nil {
		if (errors.Is(err, gpu.ErrNoVulkan) || errors.Is(err, gpu.ErrNoDevice)) && !Required() {
			t.Skipf("no Vulkan device: %v (set %s=1 to fail instead)", err, EnvRequire)
		}
		t.Fatalf("gpu.Open: %v (%s)", err, ProcState())
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

// Main runs a package's tests (call it from TestMain) and then fails the
// run if any Vulkan instance is still live: a device some test opened,
// through Open or not, and never closed. A driver may count those against
// a limit of its own, failing later tests far from the leak.
func Main(m *testing.M) {
	code := m.Run()
	if n := gpu.LiveInstances(); n != 0 && code == 0 {
		fmt.Fprintf(os.Stderr, "testdev: %d Vulkan instances still live after the tests: some device was never closed\n", n)
		code = 1
	}
	os.Exit(code)
}

// OpenBench opens the default device without validation (it adds host
// overhead) for benchmarks, skipping when none exists.
func OpenBench(tb testing.TB) *gpu.Device {
	tb.Helper()
	dev, err := gpu.Open(gpu.Options{Device: DeviceName()})
	if err != nil {
		tb.Skipf("no Vulkan device: %v", err)
	}
	tb.Cleanup(func() { dev.Close() })
	return dev
}

// SamplePhotos are the repository's sample photographs, relative to a
// package directory one level below the root.
var SamplePhotos = []string{"../testdata/images/chelsea.jpg", "../testdata/images/coffee_rgba.png", "../testdata/images/rocket_gray.jpg"}

// SampleBatch loads the sample photographs as tensorflow-vgg's load_image
// does (centre crop, resize to 224x224): shape [3,224,224,3], RGB in [0,1].
func SampleBatch(tb testing.TB) (shape [4]int, data []float32) {
	tb.Helper()
	imgs := make([]images.RGB, len(SamplePhotos))
	for i, p := range SamplePhotos {
		var err error
		if imgs[i], err = images.LoadVGG(p, 224); err != nil {
			tb.Fatal(err)
		}
	}
	shape, data, err := images.Batch(imgs)
	if err != nil {
		tb.Fatal(err)
	}
	return shape, data
}

// ImageFolder makes a labelled folder (ImageFolder convention: classes
// class0, class1, class2) of n small images in the formats of
// testdata/images/small, and one corrupt file in class1. root is the
// repository root relative to the test's package.
func ImageFolder(tb testing.TB, root string, n int) string {
	tb.Helper()
	dir := filepath.Join(tb.TempDir(), "data")
	srcs := []string{"tiny.png", "tiny.jpg", "tiny.gif", "tiny_gray.jpg", "tiny444.jpg", "tiny.bmp", "tiny_lossless.webp"}
	for i := range n {
		src := srcs[i%len(srcs)]
		b, err := os.ReadFile(filepath.Join(root, "testdata/images/small", src))
		if err != nil {
			tb.Fatal(err)
		}
		class := filepath.Join(dir, fmt.Sprintf("class%d", i%3))
		if err := os.MkdirAll(class, 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(class, fmt.Sprintf("img%03d%s", i, filepath.Ext(src))), b, 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, "class1"), 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "class1", "corrupt.jpg"), []byte("\xff\xd8\xff not a JPEG"), 0o644); err != nil {
		tb.Fatal(err)
	}
	return dir
}
