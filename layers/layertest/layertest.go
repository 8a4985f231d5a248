// Package layertest is the conformance helper that compares a GPU layer
// with its CPU reference.
package layertest

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"
)

// Tol is a tolerance: |got - want| <= Atol + Rtol*|want|.
type Tol struct{ Atol, Rtol float64 }

// Exact is the tolerance of layers that only move or compare values.
var Exact = Tol{}

// Compare returns a description of the first elements out of tolerance
// (NaN and infinities included), or "" when all match.
func Compare(got, want []float32, tol Tol) string {
	if len(got) != len(want) {
		return fmt.Sprintf("got %d elements, want %d", len(got), len(want))
	}
	bad, first := 0, -1
	worst := 0.0
	for i := range got {
		g, w := float64(got[i]), float64(want[i])
		d := math.Abs(g - w)
		if !(d <= tol.Atol+tol.Rtol*math.Abs(w)) || math.IsNaN(g) != math.IsNaN(w) {
			if math.IsNaN(w) && math.IsNaN(g) {
				continue
			}
			bad++
			if first < 0 {
				first = i
			}
		}
		if d > worst && !math.IsNaN(d) {
			worst = d
		}
	}
	if bad == 0 {
		return ""
	}
	return fmt.Sprintf("%d of %d elements out of tolerance %+v; first at %d: got %v, want %v (largest finite difference %.3g)",
		bad, len(got), tol, first, got[first], want[first], worst)
}

// Check fails t when got and want differ beyond tol.
func Check(t testing.TB, name string, got, want []float32, tol Tol) {
	t.Helper()
	if msg := Compare(got, want, tol); msg != "" {
		t.Errorf("%s: %s", name, msg)
	}
}

// NormErr is ||got - want|| / ||want|| (||got - want|| when want is all
// zeros), the measure whole networks are compared by: elementwise
// tolerances do not survive many layers of float32 rounding in another
// summation order, a normalised error does.
func NormErr(got, want []float32) float64 {
	var d, n float64
	for i := range want {
		e := float64(got[i]) - float64(want[i])
		d += e * e
		n += float64(want[i]) * float64(want[i])
	}
	if n == 0 {
		return math.Sqrt(d)
	}
	return math.Sqrt(d / n)
}

// Uniform returns n values uniform in [lo, hi).
func Uniform(rng *rand.Rand, n int, lo, hi float64) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(lo + (hi-lo)*rng.Float64())
	}
	return out
}

// NaNs returns n NaNs, to poison an output before a GPU run.
func NaNs(n int) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(math.NaN())
	}
	return out
}

// Seed returns a generator with a fresh seed for each run, logged so that
// a failure can be reproduced by setting VKVGG_SEED to it.
func Seed(t testing.TB) *rand.Rand {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("VKVGG_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("VKVGG_SEED=%q: %v", s, err)
		}
		seed = v
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("random inputs from VKVGG_SEED=%d", seed)
		}
	})
	return rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
}
