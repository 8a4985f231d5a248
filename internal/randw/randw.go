// Package randw makes the built-in random weights of package vgg and
// package torchvision: deterministic streams, and uniform values that are
// the same on every machine and core count.
package randw

import (
	"hash/fnv"
	"math/rand/v2"
)

// Chunk is about how many weights one stream fills. Callers split a layer
// into chunks fixed by its shape, never by the cores, and fill them in
// parallel.
const Chunk = 1 << 20

// Stream is the random stream i of the layer name for seed.
func Stream(seed uint64, name string, i int) *rand.Rand {
	h := fnv.New64a()
	h.Write([]byte(name))
	return rand.New(rand.NewPCG(seed, h.Sum64()+uint64(i)*0x9e3779b97f4a7c15))
}

// Uniform fills dst with values uniform on [-limit, limit) from rng: two
// per 64 random bits, 24 bits each (a float32's precision), at half the
// generator calls of Float64. The subtraction is exact and leaves one
// multiplication, which no architecture fuses: the same values
// everywhere.
func Uniform(dst []float32, limit float64, rng *rand.Rand) {
	scale := limit / (1 << 23)
	for i := 0; i < len(dst); i += 2 {
		r := rng.Uint64()
		dst[i] = float32((float64(r>>40) - (1 << 23)) * scale)
		if i+1 < len(dst) {
			dst[i+1] = float32((float64(r>>8&(1<<24-1)) - (1 << 23)) * scale)
		}
	}
}
