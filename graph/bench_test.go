package graph_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/vkvgg/vkvgg/graph"
	"github.com/vkvgg/vkvgg/internal/testdev"
)

// BenchmarkSharedNet compares the throughput of one Net used by one
// goroutine with the same Net shared by 8 (runs are serialised, so the
// shared Net must not be slower): go test -run '^$' -bench SharedNet ./graph
func BenchmarkSharedNet(b *testing.B) {
	sd := model(b, "resnet18")
	n, err := graph.NewOn(testdev.OpenBench(b), sd.Graph, false)
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
