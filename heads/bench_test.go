package heads

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkEpochPool5 times one epoch of a linear head over 10,000 pool5
// vectors (25,088 features) in 10 classes, the size the README quotes:
// go test -run '^$' -bench EpochPool5 -benchtime 3x ./heads
func BenchmarkEpochPool5(b *testing.B) {
	const n, d, k = 10000, 25088, 10
	rng := rand.New(rand.NewPCG(1, 2))
	data := &Data{X: make([]float32, n*d), Y: make([]int32, n), N: n, D: d, K: k, Labels: make([]string, k)}
	for i := range data.X {
		data.X[i] = float32(rng.Float64())
	}
	for i := range data.Y {
		data.Y[i] = int32(i % k)
	}
	train, val := Split(data.Y, k, 0.2, 1)
	b.ResetTimer()
	for range b.N {
		if _, err := Train(data, train, val, Config{Epochs: 1, LR: 1e-3, Batch: 64, Seed: 1}); err != nil {
			b.Fatal(err)
		}
	}
}
