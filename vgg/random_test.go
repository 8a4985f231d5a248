package vgg

import (
	"context"
	"github.com/vkvgg/vkvgg/internal/testdev"
	"testing"
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
