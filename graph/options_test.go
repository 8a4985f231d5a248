package graph_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/vkvgg/vkvgg/graph"
	"github.com/vkvgg/vkvgg/internal/testdev"
	"github.com/vkvgg/vkvgg/layers"
	"github.com/vkvgg/vkvgg/layers/layertest"
)

// TestKernelOptions: the kernel options given to NewOnOptions reach the
// kit (a profiled run of ResNet-18 names the kernels of the family asked
// for, with the same results), and options no kit knows are refused
// before any upload.
func TestKernelOptions(t *testing.T) {
	dev := testdev.Open(t)
	m := model(t, "resnet18")
	if _, err := graph.NewOnOptions(dev, m.Graph, graph.Options{Kernels: layers.KernelOptions{Family: "tpu"}}); !errors.Is(err, layers.ErrOptions) {
		t.Fatalf("family tpu: got %v, want ErrOptions", err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	b := graph.Batch{N: 1, H: 40, W: 36, Data: make([]float32, 40*36*3)}
	for i := range b.Data {
		b.Data[i] = rng.Float32()
	}
	var ref []float32
	for _, o := range []layers.KernelOptions{{Family: "cpu", Winograd: "off"}, {Family: "gpu", Winograd: "off"}, {Family: "cpu", Winograd: "f2", NoSubgroups: true}} {
		n, err := graph.NewOnOptions(dev, m.Graph, graph.Options{Kernels: o})
		if err != nil {
			t.Fatal(err)
		}
		n.SetProfile(true)
		res, err := n.Run(context.Background(), b, "fc")
		if err != nil {
			n.Close()
			t.Fatal(err)
		}
		tm, err := n.Timings()
		n.Close()
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, x := range tm {
			names = append(names, x.Label)
		}
		all := strings.Join(names, " ")
		// The convolutions tell the families apart (a GPU kit may time
		// the fc kernels and choose fc_cpu's texel fetches).
		if cpu := strings.Contains(all, "conv_cpu") || strings.Contains(all, "conv3x3_cpu"); cpu != (o.Family == "cpu") {
			t.Errorf("%+v: kernels %s", o, all)
		}
		if wino := strings.Contains(all, "wino"); wino != (o.Winograd == "f2") {
			t.Errorf("%+v: Winograd kernels %v in %s", o, wino, all)
		}
		if strings.Contains(all, "_sg") && o.NoSubgroups {
			t.Errorf("%+v: subgroup kernels in %s", o, all)
		}
		f, _ := res.Feature("fc")
		if ref == nil {
			ref = f.Data
		} else if e := layertest.NormErr(f.Data, ref); !(e < 1e-4) {
			t.Errorf("%+v: fc differs from the first options' by %.3g", o, e)
		}
	}
}
