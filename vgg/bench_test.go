package vgg

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/vkvgg/vkvgg/internal/testdev"
)

// BenchmarkVGG16 runs the full-size network on random weights at 224x224
// up to prob and reports milliseconds per image (the same figure as
// vkvgg bench).
func BenchmarkVGG16(b *testing.B) {
	net, err := Open(RandomWeights(VGG16, 1), Options{Device: testdev.DeviceName(), Kernels: testdev.Kernels(b)})
	if err != nil {
		b.Skipf("no Vulkan device: %v", err)
	}
	defer net.Close()
	for _, n := range []int{1, 8} {
		b.Run(fmt.Sprintf("batch%d", n), func(b *testing.B) {
			batch := randomBatch(rand.New(rand.NewPCG(1, 2)), n, 224, 224)
			ctx := context.Background()
			if _, err := net.Run(ctx, batch, "prob"); err != nil { // records the plan, compiles pipelines
				b.Fatal(err)
			}
			b.ResetTimer()
			for range b.N {
				if _, err := net.Run(ctx, batch, "prob"); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N*n), "ms/image")
		})
	}
}

// BenchmarkRandomWeights: making and checking the built-in random VGG16
// (what random:vgg16 costs every start).
func BenchmarkRandomWeights(b *testing.B) {
	for b.Loop() {
		if err := RandomWeights(VGG16, 1).validate(); err != nil {
			b.Fatal(err)
		}
	}
}
