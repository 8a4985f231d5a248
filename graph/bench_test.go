package graph_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/vkvgg/vkvgg/gpu"
	"github.com/vkvgg/vkvgg/graph"
	"github.com/vkvgg/vkvgg/internal/testdev"
)

// BenchmarkSharedNet compares the throughput of one Net used by one
// goroutine with the same Net shared by 8 (runs are serialised, so the
// shared Net must not be slower): go test -run '^$' -bench SharedNet ./graph
func BenchmarkSharedNet(b *testing.B) {
	sd := model(b, "resnet18")
	n, err := graph.NewOnOptions(testdev.OpenBench(b), sd.Graph, graph.Options{Kernels: testdev.Kernels(b)})
	if err != nil {
		b.Fatal(err)
	}
	defer n.Close()
	batch := randomBatch(1, 1, 224, 224)
	ctx := context.Background()
	if _, err := n.Run(ctx, batch, "prob"); err != nil { // records the plan
		b.Fatal(err)
	}
	for _, workers := range []int{1, 8} {
		b.Run(map[int]string{1: "sequential", 8: "8-goroutines"}[workers], func(b *testing.B) {
			// Timed by hand: the last runs end after the last job is handed
			// out, and they count.
			start := time.Now()
			var wg sync.WaitGroup
			jobs := make(chan struct{})
			for range workers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range jobs {
						if _, err := n.Run(ctx, batch, "prob"); err != nil {
							b.Error(err)
						}
					}
				}()
			}
			for range b.N {
				jobs <- struct{}{}
			}
			close(jobs)
			wg.Wait()
			b.ReportMetric(float64(time.Since(start).Microseconds())/1000/float64(b.N), "ms/image")
		})
	}
}

// BenchmarkTransfers times a small run on device-only memory (the path of
// discrete GPUs; VKVGG_STAGING's) with the input and features moved by
// the plan's recorded transfers against the same run with each transfer
// a submission and wait of its own through the device's staging buffer,
// in one process: go test -run '^$' -bench Transfers ./graph
func BenchmarkTransfers(b *testing.B) {
	dev, err := gpu.Open(gpu.Options{Device: testdev.DeviceName(), Staging: true})
	if err != nil {
		b.Skip(err)
	}
	defer dev.Close()
	sd := model(b, "resnet18")
	batch := randomBatch(1, 1, 32, 32)
	names := []string{"layer1", "layer2", "layer3", "layer4", "prob"}
	ctx := context.Background()
	for _, c := range []struct {
		name  string
		limit int64
	}{{"recorded", 64 << 20}, {"staging-buffer", 0}} {
		b.Run(c.name, func(b *testing.B) {
			n, err := graph.NewOnOptions(dev, sd.Graph, graph.Options{Kernels: testdev.Kernels(b)})
			if err != nil {
				b.Fatal(err)
			}
			defer n.Close()
			n.SetTransferLimit(c.limit)
			if _, err := n.Run(ctx, batch, names...); err != nil { // records the plan
				b.Fatal(err)
			}
			subs := dev.Submissions()
			b.ResetTimer()
			for range b.N {
				if _, err := n.Run(ctx, batch, names...); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(dev.Submissions()-subs)/float64(b.N), "submissions/run")
		})
	}
}
