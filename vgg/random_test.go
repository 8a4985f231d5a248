package vgg

import (
	"context"
	"math"
	"runtime"
	"slices"
	"testing"

	"github.com/vkvgg/vkvgg/internal/randw"
	"github.com/vkvgg/vkvgg/internal/testdev"
)

// TestRandomWeightsSeparateImages: the built-in random VGG16 gives the
// sample photographs different classes, with a softmax that is neither
// uniform nor one-hot.
func TestRandomWeightsSeparateImages(t *testing.T) {
	if testing.Short() {
		t.Skip("full-size network")
	}
	shape, data := testdev.SampleBatch(t)
	paths := testdev.SamplePhotos
	net := openGPU(t, RandomWeights(VGG16, 1))
	res, err := net.Run(context.Background(), Batch{N: shape[0], H: shape[1], W: shape[2], Data: data}, "prob")
	if err != nil {
		t.Fatal(err)
	}
	prob, _ := res.Feature("prob")
	seen := map[int]bool{}
	for i := range paths {
		p := prob.Data[i*1000 : (i+1)*1000]
		top := topK(p, 1)[0]
		t.Logf("%s: class %d, p=%.3f", paths[i], top, p[top])
		if p[top] < 0.005 || p[top] > 0.999 {
			t.Errorf("%s: top probability %.4f: the random network is uniform or saturated", paths[i], p[top])
		}
		seen[top] = true
	}
	if len(seen) < 2 {
		t.Errorf("all %d images got the same class", len(paths))
	}
}

// TestRandomWeightsDeterministic: the random weights depend on the seed
// alone, not on the cores that fill them, lie within the He-uniform
// limits, and each unit's weights sum to zero.
func TestRandomWeightsDeterministic(t *testing.T) {
	// fc6's 5000 x 300 fills from several streams (randw.Chunk).
	gen := func(procs int, seed uint64) *Weights {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
		return randomWeights(VGG16, [5]int{4, 5, 6, 7, 8}, 5000, [3]int{300, 7, 5}, seed)
	}
	one, four, other := gen(1, 3), gen(4, 3), gen(4, 4)
	if n := len(one.Params["fc6"].W); n <= randw.Chunk {
		t.Fatalf("fc6 has %d weights, want more than one stream's %d", n, randw.Chunk)
	}
	for name, p := range one.Params {
		q := four.Params[name]
		if !slices.Equal(p.W, q.W) || !slices.Equal(p.B, q.B) {
			t.Errorf("%s: 1 and 4 cores made different weights", name)
		}
		if slices.Equal(p.W, other.Params[name].W) {
			t.Errorf("%s: seeds 3 and 4 made the same weights", name)
		}
		fanIn := len(p.W) / p.Out
		limit := math.Sqrt(6/float64(fanIn)) * randomGain
		if name == "conv1_1" {
			limit = math.Sqrt(6/float64(fanIn)) / 64
		}
		sums := make([]float64, p.Out)
		var sq float64
		for i, v := range p.W {
			if math.Abs(float64(v)) > 2*limit {
				t.Fatalf("%s: weight %d is %v, beyond twice the limit %v", name, i, v, limit)
			}
			sums[i%p.Out] += float64(v)
			sq += float64(v) * float64(v)
		}
		// Uniform on [-limit, limit): variance limit^2/3, less what the
		// shift removes.
		if rms, want := math.Sqrt(sq/float64(len(p.W))), limit/math.Sqrt(3)*math.Sqrt(1-1/float64(fanIn)); math.Abs(rms-want) > 0.1*want+1e-9 && len(p.W) > 100 {
			t.Errorf("%s: rms %.4g, want about %.4g", name, rms, want)
		}
		for o, s := range sums {
			if math.Abs(s) > 1e-4*limit*float64(fanIn) {
				t.Errorf("%s: unit %d's weights sum to %g", name, o, s)
				break
			}
		}
	}
}
