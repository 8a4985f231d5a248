//go:build cgo

package viewer

import (
	"context"
	"encoding/binary"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/vkvgg/vkvgg/gpu"
	"github.com/vkvgg/vkvgg/graph"
	"github.com/vkvgg/vkvgg/images"
	"github.com/vkvgg/vkvgg/internal/testdev"
	"github.com/vkvgg/vkvgg/layers/layertest"
	"github.com/vkvgg/vkvgg/models"
)

// testApp opens the application's own instance and device (in C, on the
// Vulkan loader), with the validation layer where it is installed.
func testApp(t *testing.T) (*app, bool) {
	t.Helper()
	a, err := openApp(true, nil, nil)
	validation := true
	if err != nil && strings.Contains(err.Error(), "LAYER_NOT_PRESENT") && !testdev.Required() {
		t.Logf("no validation layer: %v", err)
		a, err = openApp(false, nil, nil)
		validation = false
	}
	if err != nil {
		if !testdev.Required() {
			t.Skipf("no Vulkan device for the application: %v", err)
		}
		t.Fatal(err)
	}
	t.Cleanup(a.close)
	return a, validation
}

// photoWords is the sample photo at size x size as RGBA8 words (red in
// the low byte) and as the float RGB the host path takes.
func photoWords(t *testing.T, size int) ([]byte, []float32) {
	t.Helper()
	img, err := images.LoadVGG("../testdata/images/chelsea.jpg", size)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 4*size*size)
	rgb := make([]float32, 3*size*size)
	for p := range size * size {
		for j := range 3 {
			v := uint8(math.Round(float64(img.Pix[3*p+j]) * 255))
			b[4*p+j] = v
			rgb[3*p+j] = float32(v) / 255
		}
		b[4*p+3] = 255
	}
	return b, rgb
}

func floatsOf(b []byte) []float32 {
	out := make([]float32, len(b)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out
}

// TestApplicationDevice is the embedding case: an application that made
// its own instance and device (not through the engine's binding) hands
// them to the engine, which runs VGG16 to pool5 on the application's own
// RGBA8 buffer; the application copies pool5 with its own command buffer,
// first after a synchronous run, then after an asynchronous one with its
// own semaphore waited on by the GPU. Both equal a host Run; the
// validation layer stays silent; the application's device works after
// the engine closes.
func TestApplicationDevice(t *testing.T) {
	a, validation := testApp(t)
	dev, err := gpu.Adopt(a.handles(), gpu.Options{Validation: validation})
	if err != nil {
		t.Fatal(err)
	}
	net, err := models.LoadOn(dev, "random:vgg16", models.Options{})
	if err != nil {
		t.Fatal(err)
	}
	const size = 224
	words, rgb := photoWords(t, size)
	pix, err := a.newBuffer(int64(len(words)))
	if err != nil {
		t.Fatal(err)
	}
	defer a.freeBuffer(pix)
	copy(pix.bytes(), words)
	in, err := dev.WrapBuffer(pix.handle(), pix.size())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	want, err := net.Run(ctx, graph.Batch{N: 1, H: size, W: size, Data: rgb}, "pool5")
	if err != nil {
		t.Fatal(err)
	}
	w, _ := want.Feature("pool5")

	res, err := net.RunOnDevice(ctx, graph.DeviceInput{N: 1, H: size, W: size, Buf: in, RGBA8: true}, "pool5")
	if err != nil {
		t.Fatal(err)
	}
	f, _ := res.Feature("pool5")
	if !slices.Equal(f.Shape, []int{1, 7, 7, 512}) {
		t.Fatalf("pool5 shape %v", f.Shape)
	}
	dst, err := a.newBuffer(f.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	defer a.freeBuffer(dst)
	if err := a.copy(f.Buf.Handle(), dst, f.Bytes, 0); err != nil {
		t.Fatal(err)
	}
	sync := floatsOf(dst.bytes())
	// GLSL's division is not correctly rounded: the unpacked inputs may
	// differ from the host's in their last bit.
	if e := layertest.NormErr(sync, w.Data); !(e < 1e-4) {
		t.Errorf("pool5 copied by the application: normalised error %.3g against the host run", e)
	}
	if slices.Max(sync) <= 0 {
		t.Fatal("pool5 is all zeros")
	}

	sem, err := a.newSemaphore()
	if err != nil {
		t.Fatal(err)
	}
	defer a.freeSemaphore(sem)
	clear(dst.bytes())
	res2, err := net.RunOnDeviceAsync(ctx, graph.DeviceInput{N: 1, H: size, W: size, Buf: in, RGBA8: true}, gpu.Signal{Semaphore: sem}, "pool5")
	if err != nil {
		t.Fatal(err)
	}
	f2, _ := res2.Feature("pool5")
	// The application's copy waits for the engine on the GPU, not on the host.
	if err := a.copy(f2.Buf.Handle(), dst, f2.Bytes, sem); err != nil {
		t.Fatal(err)
	}
	if got := floatsOf(dst.bytes()); !slices.Equal(got, sync) {
		t.Errorf("after the asynchronous run and the semaphore: pool5 differs from the synchronous run")
	}
	for _, r := range []*graph.DeviceResult{res, res2} {
		if err := r.Release(); err != nil {
			t.Error(err)
		}
	}
	in.Close()
	if err := net.Close(); err != nil {
		t.Error(err)
	}
	msgs := dev.ValidationMessages()
	if err := dev.Close(); err != nil {
		t.Errorf("closing the adopted device: %v", err)
	}
	if len(msgs) > 0 {
		t.Errorf("%d validation messages:\n%s", len(msgs), strings.Join(msgs, "\n"))
	}
	// The application's device is still its own and works.
	if err := a.copy(pix.handle(), dst, 64, 0); err != nil {
		t.Fatalf("the application's device after the engine closed: %v", err)
	}
	if !slices.Equal(dst.bytes()[:64], words[:64]) {
		t.Error("the application's copy after the engine closed is wrong")
	}
}

// TestAdoptBadHandles: handles the engine cannot use get a clear error,
// not a crash.
func TestAdoptBadHandles(t *testing.T) {
	a, validation := testApp(t)
	h := a.handles()
	bad := h
	bad.Device = 0
	if _, err := gpu.Adopt(bad, gpu.Options{}); err == nil || !strings.Contains(err.Error(), "needs the instance, physical device, device and queue") {
		t.Errorf("a null device: %v", err)
	}
	bad = h
	bad.QueueFamily = 99
	if _, err := gpu.Adopt(bad, gpu.Options{}); err == nil || !strings.Contains(err.Error(), "queue family 99") || !strings.Contains(err.Error(), "no compute") {
		t.Errorf("a queue family without compute: %v", err)
	}
	dev, err := gpu.Adopt(h, gpu.Options{Validation: validation})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dev.WrapBuffer(0, 64); err == nil {
		t.Error("WrapBuffer of a null buffer: no error")
	}
	if _, err := dev.WrapBuffer(1, 6); err == nil {
		t.Error("WrapBuffer of 6 bytes: no error")
	}
	if err := dev.Close(); err != nil {
		t.Error(err)
	}
}
