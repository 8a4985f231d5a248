package torchvision

import (
	"context"
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
			n, err := graph.NewOn(dev, m.Graph, true)
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
