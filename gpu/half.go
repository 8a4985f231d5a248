package gpu

import (
	"math"
	"runtime"
	"sync"
)

// halves converts src into dst (Half), on every CPU for long slices:
// fp16 weights are converted as they are uploaded, and VGG16 has 138M.
// It returns the index of the first finite value that overflowed to an
// infinity (65520 and beyond), or -1.
func halves(dst []uint16, src []float32) int {
	convert := func(lo, hi int) int {
		first := -1
		for i := lo; i < hi; i++ {
			h := Half(src[i])
			if h&0x7fff == 0x7c00 && first < 0 && !math.IsInf(float64(src[i]), 0) {
				first = i
			}
			dst[i] = h
		}
		return first
	}
	const piece = 1 << 16
	workers := min(runtime.GOMAXPROCS(0), (len(src)+piece-1)/piece)
	if workers <= 1 {
		return convert(0, len(src))
	}
	var wg sync.WaitGroup
	per := (len(src) + workers - 1) / workers
	firsts := make([]int, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			firsts[w] = convert(w*per, min(len(src), (w+1)*per))
		}()
	}
	wg.Wait()
	for _, f := range firsts {
		if f >= 0 {
			return f
		}
	}
	return -1
}

// Half converts f to IEEE 754 binary16, rounding to nearest even; values
// beyond the largest half (65504) become infinities, NaNs stay NaN.
func Half(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int(b>>23) & 0xff
	mant := b & 0x7fffff
	if exp == 0xff {
		if mant != 0 {
			return sign | 0x7e00
		}
		return sign | 0x7c00
	}
	e := exp - 127 + 15
	if e >= 0x1f {
		return sign | 0x7c00
	}
	if e <= 0 {
		// A subnormal half (or zero): the 24-bit significand shifted so
		// that its unit is 2^-24.
		if e < -10 {
			return sign
		}
		m := mant | 0x800000
		shift := uint(14 - e)
		k := m >> shift
		rem, halfway := m&(1<<shift-1), uint32(1)<<(shift-1)
		if rem > halfway || rem == halfway && k&1 != 0 {
			k++
		}
		return sign | uint16(k)
	}
	h := uint32(e)<<10 | mant>>13
	rem := mant & 0x1fff
	if rem > 0x1000 || rem == 0x1000 && h&1 != 0 {
		h++ // a carry into the exponent is right, up to infinity
	}
	return sign | uint16(h)
}

// Float converts a binary16 value to float32 (exactly).
func Float(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h & 0x3ff)
	switch {
	case exp == 0x1f:
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case exp == 0:
		v := float32(mant) * (1.0 / (1 << 24))
		if sign != 0 {
			return -v
		}
		return v
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
}
