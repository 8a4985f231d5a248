package npy

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestNonFinite(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	clean := make([]float32, 1003)
	for i := range clean {
		// Every exponent but the all-ones one, the largest finite values
		// and subnormals included.
		clean[i] = math.Float32frombits(rng.Uint32() % 0x7f800000)
		if i%2 == 1 {
			clean[i] = -clean[i]
		}
	}
	clean[5], clean[6] = math.MaxFloat32, -math.MaxFloat32
	clean[9] = math.Float32frombits(1) // the smallest subnormal
	for _, n := range []int{0, 1, 7, 8, 9, 16, 1003} {
		if got := NonFinite(clean[:n]); got != -1 {
			t.Fatalf("%d finite values: got %d, want -1", n, got)
		}
	}
	bad := []float32{float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()),
		math.Float32frombits(0x7fc00001), math.Float32frombits(0xff800001)}
	for _, v := range bad {
		for _, at := range []int{0, 3, 7, 8, 15, 500, 1000, 1002} {
			vals := append([]float32(nil), clean...)
			vals[at] = v
			if at+20 < len(vals) {
				vals[at+20] = v // the first one counts
			}
			if got := NonFinite(vals); got != at {
				t.Errorf("%v at %d: got %d", v, at, got)
			}
		}
	}
}

// BenchmarkNonFinite against the obvious loop; bytes per second.
func BenchmarkNonFinite(b *testing.B) {
	vals := make([]float32, 1<<22)
	for i := range vals {
		vals[i] = float32(i%1000) - 499.5
	}
	b.Run("bits", func(b *testing.B) {
		b.SetBytes(int64(4 * len(vals)))
		for b.Loop() {
			if NonFinite(vals) != -1 {
				b.Fatal("non-finite")
			}
		}
	})
	b.Run("IsNaN-IsInf", func(b *testing.B) {
		b.SetBytes(int64(4 * len(vals)))
		for b.Loop() {
			for _, v := range vals {
				if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
					b.Fatal("non-finite")
				}
			}
		}
	})
}
