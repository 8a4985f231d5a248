package vgg

import (
	"context"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/vkvgg/vkvgg/graph"
	"github.com/vkvgg/vkvgg/internal/testdev"
)

// TestFCN: the fully convolutional network equals the ordinary one at
// the size fc6 takes, and on a larger input gives score maps whose
// corner equals the ordinary network on that corner's crop.
func TestFCN(t *testing.T) {
	// pool5 of 2x2x8 = fc6's 32 inputs: a 64x64 input.
	w := randomWeights(VGG16, [5]int{4, 5, 6, 7, 8}, 2*2*8, [3]int{6, 6, 5}, 3)
	gPlain, err := Graph(w, false)
	if err != nil {
		t.Fatal(err)
	}
	gFCN, err := Graph(w, true)
	if err != nil {
		t.Fatal(err)
	}
	dev := testdev.Open(t)
	nets := map[string]*graph.Net{}
	for name, g := range map[string]*graph.Graph{"plain": gPlain, "fcn": gFCN} {
		n, err := graph.NewOnOptions(dev, g, graph.Options{Kernels: testdev.Kernels(t)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { n.Close() })
		nets[name] = n
		c, _ := graph.NewCPU(g)
		nets[name+"/cpu"] = c
	}
	rng := rand.New(rand.NewPCG(4, 4))
	names := []string{"fc6", "relu7", "fc8", "prob"}
	small := randomBatch(rng, 2, 64, 64)
	ctx := context.Background()
	want, err := nets["plain/cpu"].Run(ctx, small, names...)
	if err != nil {
		t.Fatal(err)
	}
	for _, which := range []string{"plain", "fcn", "fcn/cpu"} {
		got, err := nets[which].Run(ctx, small, names...)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range names {
			g, _ := got.Feature(name)
			f, _ := want.Feature(name)
			if e := normErr(g.Data, f.Data); !(e < 1e-4) { // float32 against float64
				t.Errorf("%s %s at 64x64: normalised error %.3g", which, name, e)
			}
		}
	}
	// 96x128: pool5 3x4, so the score maps are 2x3.
	big := randomBatch(rng, 1, 96, 128)
	res, err := nets["fcn"].Run(ctx, big, "fc8", "prob")
	if err != nil {
		t.Fatal(err)
	}
	fc8, _ := res.Feature("fc8")
	if want := []int{1, 2, 3, 5}; !slices.Equal(fc8.Shape, want) {
		t.Fatalf("fc8 shape %v, want %v", fc8.Shape, want)
	}
	prob, _ := res.Feature("prob")
	for px := range 6 {
		var sum float64
		for _, v := range prob.Data[px*5 : px*5+5] {
			sum += float64(v)
		}
		if sum < 0.9999 || sum > 1.0001 {
			t.Errorf("pixel %d: probabilities sum to %v", px, sum)
		}
	}
	if _, err := nets["fcn"].Run(ctx, randomBatch(rng, 1, 20, 20), "fc6"); err == nil || !strings.Contains(err.Error(), "at least 64x64") {
		t.Errorf("fully convolutional fc6 on a 20x20 input: got %v, want an error giving the smallest size", err)
	}
}
