package torchvision

import (
	"context"
	"math"
	"runtime"
	"slices"
	"sort"
	"testing"

	"github.com/vkvgg/vkvgg/graph"
	"github.com/vkvgg/vkvgg/internal/testdev"
)

// TestRandomSeparateImages: the built-in random networks give the sample
// photographs different classes, with a softmax that is neither uniform
// nor one-hot, so that random:NAME demos look like a classifier at work.
func TestRandomSeparateImages(t *testing.T) {
	if testing.Short() {
		t.Skip("full-size networks")
	}
	shape, data := testdev.SampleBatch(t)
	paths := testdev.SamplePhotos
	b := graph.Batch{N: shape[0], H: shape[1], W: shape[2], Data: data}
	dev := testdev.Open(t)
	for _, name := range []string{"alexnet", "resnet18", "resnet50"} { // VGG16: the tensorflow-vgg test covers its shapes
		t.Run(name, func(t *testing.T) {
			sd, err := Random(name, 1)
			if err != nil {
				t.Fatal(err)
			}
			m, err := Build(sd)
			if err != nil {
				t.Fatal(err)
			}
			if m.Name != name || m.Classes != 1000 {
				t.Errorf("built %s with %d classes", m.Name, m.Classes)
			}
			n, err := graph.NewOnOptions(dev, m.Graph, graph.Options{Release: true, Kernels: testdev.Kernels(t)})
			if err != nil {
				t.Fatal(err)
			}
			defer n.Close()
			res, err := n.Run(context.Background(), b, "prob")
			if err != nil {
				t.Fatal(err)
			}
			prob, _ := res.Feature("prob")
			seen := map[int]bool{}
			for i := range paths {
				p := prob.Data[i*1000 : (i+1)*1000]
				idx := make([]int, len(p))
				for j := range idx {
					idx[j] = j
				}
				sort.Slice(idx, func(a, b int) bool { return p[idx[a]] > p[idx[b]] })
				top := idx[0]
				t.Logf("%s: class %d, p=%.3f", paths[i], top, p[top])
				if p[top] < 0.005 || p[top] > 0.999 {
					t.Errorf("%s: top probability %.4f: the random network is uniform or saturated", paths[i], p[top])
				}
				seen[top] = true
			}
			if len(seen) < 2 {
				t.Errorf("all %d images got the same class", len(paths))
			}
		})
	}
}

// TestRandomDeterministic: Random depends on the seed alone, not on the
// cores that fill it, and each unit's weights lie within the limits and
// sum to zero.
func TestRandomDeterministic(t *testing.T) {
	gen := func(procs int, seed uint64) StateDict {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
		sd, err := Random("resnet18", seed)
		if err != nil {
			t.Fatal(err)
		}
		return sd
	}
	one, four, other := gen(1, 1), gen(4, 1), gen(4, 2)
	if len(one) != len(four) {
		t.Fatalf("%d and %d entries", len(one), len(four))
	}
	for name, a := range one {
		if !slices.Equal(a.Data, four[name].Data) {
			t.Errorf("%s: 1 and 4 cores made different values", name)
		}
		if len(a.Data) > 1 && slices.Equal(a.Data, other[name].Data) {
			t.Errorf("%s: seeds 1 and 2 made the same values", name)
		}
	}
	specs, err := shapes("resnet18")
	if err != nil {
		t.Fatal(err)
	}
	for _, sp := range specs {
		if sp.kind == kBN {
			continue
		}
		a := one[sp.name+".weight"]
		fanIn, limit := sp.fanIn(), sp.limit()
		var sq float64
		for u := range sp.units() {
			var sum float64
			for _, v := range a.Data[u*fanIn : (u+1)*fanIn] {
				// Uniform within the limit, less the unit's mean.
				if math.Abs(float64(v)) > 1.5*limit {
					t.Fatalf("%s: unit %d has %v, beyond 1.5 times the limit %v", sp.name, u, v, limit)
				}
				sum += float64(v)
				sq += float64(v) * float64(v)
			}
			if math.Abs(sum) > 1e-4*limit*float64(fanIn) {
				t.Fatalf("%s: unit %d's weights sum to %g", sp.name, u, sum)
			}
		}
		// Uniform on [-limit, limit): variance limit^2/3, less what the
		// shift removes.
		rms, want := math.Sqrt(sq/float64(len(a.Data))), limit/math.Sqrt(3)*math.Sqrt(1-1/float64(fanIn))
		if math.Abs(rms-want) > 0.05*want {
			t.Errorf("%s: rms %.4g, want about %.4g", sp.name, rms, want)
		}
	}
	if w := one["fc.weight"].Data; len(w) != 1000*512 {
		t.Errorf("fc.weight has %d values", len(w))
	}
}
