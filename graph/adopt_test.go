package graph_test

import (
	"context"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/vkvgg/vkvgg/gpu"
	"github.com/vkvgg/vkvgg/graph"
	"github.com/vkvgg/vkvgg/internal/testdev"
	"github.com/vkvgg/vkvgg/layers"
	"github.com/vkvgg/vkvgg/layers/layertest"
)

// TestAdoptedDevice plays an application that owns a Vulkan device and
// its queue: the engine adopts them (raw handles and the application's
// queue lock), runs a network on them while the application submits its
// own work under the same lock, gives the same results as the CPU
// reference, and at Close leaves the application's device working.
func TestAdoptedDevice(t *testing.T) {
	app := testdev.Open(t) // the application's own device, validation on
	// Handles carries the lock the application's submissions take.
	dev, err := gpu.Adopt(app.Handles(), gpu.Options{})
	if err != nil {
		t.Fatal(err)
	}
	m := model(t, "resnet18")
	n, err := graph.NewOnOptions(dev, m.Graph, graph.Options{Kernels: testdev.Kernels(t)})
	if err != nil {
		t.Fatal(err)
	}
	b := randomBatch(11, 2, 57, 63)
	cpu, _ := graph.NewCPU(m.Graph)
	want, err := cpu.Run(context.Background(), b, "layer2", "prob")
	if err != nil {
		t.Fatal(err)
	}
	// The application keeps submitting work of its own meanwhile.
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf, err := app.NewBuffer(1 << 16)
		if err != nil {
			t.Error(err)
			return
		}
		defer buf.Close()
		for range 20 {
			seq, err := app.NewSequence(gpu.SequenceOptions{})
			if err != nil {
				t.Error(err)
				return
			}
			seq.Fill(buf.All(), 7)
			err = seq.Submit()
			seq.Close()
			if err != nil {
				t.Error(err)
				return
			}
		}
	}()
	for range 3 {
		got, err := n.Run(context.Background(), b, "layer2", "prob")
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"layer2", "prob"} {
			g, _ := got.Feature(name)
			w, _ := want.Feature(name)
			if e := layertest.NormErr(g.Data, w.Data); !(e < 1e-4) {
				t.Errorf("%s on the adopted device: normalised error %.3g", name, e)
			}
		}
	}
	<-done
	if err := n.Close(); err != nil {
		t.Error(err)
	}
	if err := dev.Close(); err != nil {
		t.Errorf("closing the adopted device: %v", err)
	}
	// The application's device still works.
	buf, err := app.NewBuffer(1024)
	if err != nil {
		t.Fatalf("the application's device after the engine closed: %v", err)
	}
	if err := buf.Upload(0, []float32{1, 2, 3}); err != nil {
		t.Error(err)
	}
	buf.Close()
	if _, err := gpu.Adopt(gpu.Adopted{}, gpu.Options{}); err == nil {
		t.Error("adopting zero handles: no error")
	}
}

// TestRunOnDevice: an input in the application's device buffer, features
// left in device buffers; the application's own read of those buffers
// equals a host Run bit for bit.
func TestRunOnDevice(t *testing.T) {
	app, n := resnetOn(t)
	b := randomBatch(12, 2, 49, 61)
	src, err := app.NewBuffer(int64(len(b.Data)+7) * 4)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if err := src.Upload(7, b.Data); err != nil { // the application's pixels, at an offset
		t.Fatal(err)
	}
	names := []string{"layer1", "avgpool", "prob"}
	res, err := n.RunOnDevice(context.Background(), graph.DeviceInput{N: 2, H: 49, W: 61, Buf: src, Off: 7}, names...)
	if err != nil {
		t.Fatal(err)
	}
	want, err := n.Run(context.Background(), b, names...)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		f, ok := res.Feature(name)
		if !ok || f.Buf.Handle() == 0 {
			t.Fatalf("%s: no device feature", name)
		}
		got := make([]float32, f.Bytes/4)
		if err := f.Buf.Download(0, got); err != nil {
			t.Fatal(err)
		}
		w, _ := want.Feature(name)
		if !slices.Equal(got, w.Data) || !slices.Equal(f.Shape, w.Shape) {
			t.Errorf("%s: the device buffer differs from the host run", name)
		}
	}
	if err := res.Release(); err != nil {
		t.Error(err)
	}
	if _, err := n.RunOnDevice(context.Background(), graph.DeviceInput{N: 3, H: 49, W: 61, Buf: src}, "prob"); err == nil {
		t.Error("an input larger than its buffer: no error")
	}
	// RGBA8 pixels, as a renderer stores them, unpacked on the device.
	words := make([]uint32, 2*49*61)
	rgb := make([]float32, 3*len(words))
	for i := range words {
		r, g, bl := uint32(i*7%256), uint32(i*13%256), uint32(i*29%256)
		words[i] = r | g<<8 | bl<<16 | 0xff<<24
		rgb[3*i], rgb[3*i+1], rgb[3*i+2] = float32(r)/255, float32(g)/255, float32(bl)/255
	}
	pix, err := app.NewBuffer(int64(len(words)) * 4)
	if err != nil {
		t.Fatal(err)
	}
	defer pix.Close()
	asFloats := make([]float32, len(words))
	for i, w := range words {
		asFloats[i] = math.Float32frombits(w)
	}
	if err := pix.Upload(0, asFloats); err != nil {
		t.Fatal(err)
	}
	res, err = n.RunOnDevice(context.Background(), graph.DeviceInput{N: 2, H: 49, W: 61, Buf: pix, RGBA8: true}, "prob")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Release()
	want, err = n.Run(context.Background(), graph.Batch{N: 2, H: 49, W: 61, Data: rgb}, "prob")
	if err != nil {
		t.Fatal(err)
	}
	f, _ := res.Feature("prob")
	got := make([]float32, f.Bytes/4)
	f.Buf.Download(0, got)
	w, _ := want.Feature("prob")
	// GLSL's division is not correctly rounded (2.5 ulp): the inputs may
	// differ in their last bit.
	if e := layertest.NormErr(got, w.Data); !(e < 1e-4) {
		t.Errorf("RGBA8 input: normalised error %.3g against the float input", e)
	}
}

// TestRunOnDeviceAsync: the asynchronous variant returns before the
// device is done; Wait, Release and the Net's next run each wait for it,
// and the features equal a host run's.
func TestRunOnDeviceAsync(t *testing.T) {
	app, n := resnetOn(t)
	b := randomBatch(13, 1, 45, 52)
	src, err := app.NewBuffer(int64(len(b.Data)) * 4)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if err := src.Upload(0, b.Data); err != nil {
		t.Fatal(err)
	}
	in := graph.DeviceInput{N: 1, H: 45, W: 52, Buf: src}
	want, err := n.Run(context.Background(), b, "layer3", "prob")
	if err != nil {
		t.Fatal(err)
	}
	check := func(res *graph.DeviceResult, what string) {
		t.Helper()
		for _, name := range []string{"layer3", "prob"} {
			f, _ := res.Feature(name)
			got := make([]float32, f.Bytes/4)
			if err := f.Buf.Download(0, got); err != nil {
				t.Fatal(err)
			}
			w, _ := want.Feature(name)
			if !slices.Equal(got, w.Data) {
				t.Errorf("%s: %s differs from the host run", what, name)
			}
		}
	}
	res, err := n.RunOnDeviceAsync(context.Background(), in, gpu.Signal{}, "layer3", "prob")
	if err != nil {
		t.Fatal(err)
	}
	if err := res.Wait(); err != nil {
		t.Fatal(err)
	}
	check(res, "after Wait")
	// Two runs in a row: the second waits for the first; a host run
	// after them waits for both.
	r1, err := n.RunOnDeviceAsync(context.Background(), in, gpu.Signal{}, "layer3", "prob")
	if err != nil {
		t.Fatal(err)
	}
	r2, err := n.RunOnDeviceAsync(context.Background(), in, gpu.Signal{}, "layer3", "prob")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.Run(context.Background(), b, "prob"); err != nil {
		t.Fatal(err)
	}
	check(r1, "first of two")
	check(r2, "second of two")
	for _, r := range []*graph.DeviceResult{res, r1, r2} {
		if err := r.Release(); err != nil {
			t.Error(err)
		}
	}
	// A run left running when the Net closes is waited for.
	last, err := n.RunOnDeviceAsync(context.Background(), in, gpu.Signal{}, "prob")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := n.RunOnDeviceAsync(ctx, in, gpu.Signal{}, "prob"); err == nil {
		t.Error("a cancelled context: no error")
	}
	if err := n.Close(); err != nil {
		t.Error(err)
	}
	if err := last.Release(); err != nil { // the features outlive the Net
		t.Error(err)
	}
}

// resnetOn opens the device (as the application's) and a random ResNet-18
// on it, closed at the test's end.
func resnetOn(t *testing.T) (*gpu.Device, *graph.Net) {
	t.Helper()
	app := testdev.Open(t)
	n, err := graph.NewOnOptions(app, model(t, "resnet18").Graph, graph.Options{Kernels: testdev.Kernels(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return app, n
}

// TestRunOnDeviceFP16: an FP16 Net takes its float input in fp16 and
// leaves fp16 features (DeviceFeature.Half) that equal its host Run bit
// for bit once converted; RGBA8 pixels go in as for fp32.
func TestRunOnDeviceFP16(t *testing.T) {
	app := testdev.Open(t)
	if !app.Half() {
		t.Skipf("%s has no fp16 storage", app.Info().Name)
	}
	n, err := graph.NewOnOptions(app, model(t, "resnet18").Graph, graph.Options{Precision: layers.FP16, Kernels: testdev.Kernels(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if n.Precision() != layers.FP16 {
		t.Fatalf("precision %v", n.Precision())
	}
	b := randomBatch(5, 2, 33, 41)
	src, err := app.NewBuffer(int64(len(b.Data)+7) / 2 * 4)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if err := src.UploadHalf(3, b.Data); err != nil { // at an odd fp16 element
		t.Fatal(err)
	}
	names := []string{"layer1", "avgpool", "prob"}
	res, err := n.RunOnDevice(context.Background(), graph.DeviceInput{N: 2, H: 33, W: 41, Buf: src, Off: 3}, names...)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Release()
	want, err := n.Run(context.Background(), b, names...)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		f, _ := res.Feature(name)
		w, _ := want.Feature(name)
		if !f.Half || f.Bytes != int64(2*len(w.Data)) {
			t.Fatalf("%s: Half %v, %d bytes for %d values", name, f.Half, f.Bytes, len(w.Data))
		}
		got := make([]float32, len(w.Data))
		if err := f.Buf.DownloadHalf(0, got); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, w.Data) {
			t.Errorf("%s: the device buffer differs from the host run", name)
		}
	}
	// The CPU reference, in float32, is near: fp16's rounding only.
	cpu, err := graph.NewCPU(model(t, "resnet18").Graph)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := cpu.Run(context.Background(), b, names...)
	if err != nil {
		t.Fatal(err)
	}
	// The feature maps measured 7e-4 (layer1) and 1.5e-3 (avgpool); the
	// class probabilities of random weights are sharp, and move more.
	for _, name := range []string{"layer1", "avgpool"} {
		w, _ := want.Feature(name)
		r, _ := ref.Feature(name)
		if e := layertest.NormErr(w.Data, r.Data); !(e < 1e-2) {
			t.Errorf("%s: fp16 against the CPU reference: normalised error %.3g", name, e)
		}
	}
}

// TestFP16Overflow: a layer beyond fp16's range (65504) is an error
// naming the feature, not infinities handed back, and a weight beyond it
// is refused at upload; fp32 runs both.
func TestFP16Overflow(t *testing.T) {
	dev := testdev.Open(t)
	if !dev.Half() {
		t.Skipf("%s has no fp16 storage", dev.Info().Name)
	}
	w := make([]float32, 9*3*4)
	for i := range w {
		w[i] = 4000 // 27 taps of inputs near 1: about 1e5
	}
	conv := &layers.Conv{Window: layers.Window{KH: 3, KW: 3, SH: 1, SW: 1, Same: true}, Cin: 3, Cout: 4, W: w, B: make([]float32, 4)}
	g := &graph.Graph{Name: "loud", Nodes: []graph.Node{{Name: "conv", Op: conv, Inputs: []string{graph.Input}}}}
	b := graph.Batch{N: 1, H: 5, W: 6, Data: make([]float32, 5*6*3)}
	for i := range b.Data {
		b.Data[i] = 0.9
	}
	// A weight beyond fp16's range is refused at upload, naming the layer.
	big := &layers.Conv{Window: conv.Window, Cin: 3, Cout: 4, W: append([]float32(nil), w...), B: make([]float32, 4)}
	big.W[5] = 70000
	bg := &graph.Graph{Name: "big", Nodes: []graph.Node{{Name: "bigconv", Op: big, Inputs: []string{graph.Input}}}}
	if n, err := graph.NewOnOptions(dev, bg, graph.Options{Precision: layers.FP16, Kernels: testdev.Kernels(t)}); err == nil || !strings.Contains(err.Error(), "bigconv") || !strings.Contains(err.Error(), "65504") {
		t.Errorf("a weight of 70000 in fp16: got %v", err)
		n.Close()
	}
	for _, p := range []layers.Precision{layers.FP32, layers.FP16} {
		n, err := graph.NewOnOptions(dev, g, graph.Options{Precision: p, Kernels: testdev.Kernels(t)})
		if err != nil {
			t.Fatal(err)
		}
		_, err = n.Run(context.Background(), b, "conv")
		if p == layers.FP32 && err != nil {
			t.Errorf("fp32: %v", err)
		}
		if p == layers.FP16 && (err == nil || !strings.Contains(err.Error(), "conv") || !strings.Contains(err.Error(), "65504")) {
			t.Errorf("fp16 overflow: got %v", err)
		}
		n.Close()
	}
}
