package graph_test

import (
	"context"
	"math"
	"testing"

	"github.com/vkvgg/vkvgg/graph"
	"github.com/vkvgg/vkvgg/internal/testdev"
	"github.com/vkvgg/vkvgg/layers"
	"github.com/vkvgg/vkvgg/layers/layertest"
)

// TestImageOverBinding runs a network whose activations for one image
// exceed the device's real maxStorageBufferRange (lavapipe's 128 MiB):
// a 3x3 convolution with its ReLU, a pooling, a 5x5 stride-2 convolution
// and a bilinear resize back to full size run in row bands and equal the
// CPU reference. On a device whose bindings hold more than 256 MiB it
// skips (the layers' tests band under a small limit everywhere).
func TestImageOverBinding(t *testing.T) {
	if testing.Short() {
		t.Skip("a 2100x2100 image: not in -short")
	}
	dev := testdev.Open(t)
	lim := dev.Info().MaxStorageBufferRange
	if lim > 256<<20 {
		t.Skipf("bindings of %d bytes: an image over one would take too much memory here", lim)
	}
	rng := layertest.Seed(t)
	conv := func(win layers.Window, cin, cout int, relu bool) *layers.Conv {
		scale := 1 / math.Sqrt(float64(win.KH*win.KW*cin))
		return &layers.Conv{Window: win, Cin: cin, Cout: cout, ReLU: relu,
			W: layertest.Uniform(rng, win.KH*win.KW*cin*cout, -scale, scale), B: layertest.Uniform(rng, cout, -0.5, 0.5)}
	}
	g := &graph.Graph{Name: "wide", Nodes: []graph.Node{
		{Name: "pre", Op: layers.VGGInput(), Inputs: []string{graph.Input}},
		{Name: "conv1", Op: conv(layers.Window{KH: 3, KW: 3, SH: 1, SW: 1, Same: true}, 3, 8, true), Inputs: []string{"pre"}},
		{Name: "pool", Op: &layers.Pool{Window: layers.Window{KH: 2, KW: 2, SH: 2, SW: 2, Same: true}}, Inputs: []string{"conv1"}},
		{Name: "conv2", Op: conv(layers.Window{KH: 5, KW: 5, SH: 2, SW: 2, Pad: [4]int{2, 2, 2, 2}}, 8, 12, false), Inputs: []string{"pool"}},
		{Name: "up", Op: layers.Resize{}, Inputs: []string{"conv2", graph.Input}},
	}}
	const side = 2101
	if bytes := uint64(side * side * 8 * 4); bytes <= lim {
		t.Fatalf("conv1's image of %d bytes fits a binding of %d", bytes, lim)
	}
	b := randomBatch(11, 1, side, side-4)
	names := []string{"pre", "conv1", "pool", "conv2", "up"}
	cpu, err := graph.NewCPU(g)
	if err != nil {
		t.Fatal(err)
	}
	want, err := cpu.Run(context.Background(), b, names...)
	if err != nil {
		t.Fatal(err)
	}
	net := onDevice(t, g)
	// Every layer's output, then only the last two: conv1's pooling is
	// then fused into it, in bands, and its whole output never exists.
	for _, names := range [][]string{names, {"pool", "up"}} {
		got, err := net.Run(context.Background(), b, names...)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range names {
			w, _ := want.Feature(name)
			f, ok := got.Feature(name)
			if !ok {
				t.Fatalf("no %s", name)
			}
			// The resize computes its sample positions in float32, the
			// reference in float64: over 2101 rows the weights differ by
			// about 1e-5 of a row, and up's error, 5.5e-6 to 1.2e-5 over
			// five seeds, is 20-40 times conv2's.
			tol := 1e-5
			if name == "up" {
				tol = 5e-5
			}
			if e := layertest.NormErr(f.Data, w.Data); !(e < tol) {
				t.Errorf("%s of %v: %v: normalised error %.3g", name, names, f.Shape, e)
			}
		}
	}
	// The fused plan never holds conv1's output: its tensors add up to
	// less than the input's and every layer's output together by at
	// least half of conv1's.
	info, err := net.Plan(graph.Batch{N: 1, H: side, W: side - 4}, "pool", "up")
	if err != nil {
		t.Fatal(err)
	}
	all := int64(len(b.Data)) * 4
	for _, name := range names {
		w, _ := want.Feature(name)
		all += int64(len(w.Data)) * 4
	}
	conv1, _ := want.Feature("conv1")
	if info.TensorBytes > all-int64(len(conv1.Data))*2 {
		t.Errorf("the plan of pool and up has %d bytes of tensors, the input and every output %d: conv1 is not fused", info.TensorBytes, all)
	}
}
