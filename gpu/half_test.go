package gpu

import (
	"encoding/binary"
	"math"
	"os"
	"testing"
)

// TestHalfNumpy checks Half against numpy's float16 conversion on the
// values of tools/golden/half.py: random bit patterns, every kind of tie,
// their neighbours and the edges.
func TestHalfNumpy(t *testing.T) {
	b, err := os.ReadFile("testdata/half.bin")
	if err != nil {
		t.Fatal(err)
	}
	if len(b)%6 != 0 || len(b) < 6*10000 {
		t.Fatalf("testdata/half.bin has %d bytes: run tools/golden/half.py", len(b))
	}
	bad := 0
	for i := 0; i < len(b); i += 6 {
		f := math.Float32frombits(binary.LittleEndian.Uint32(b[i:]))
		want := binary.LittleEndian.Uint16(b[i+4:])
		got := Half(f)
		if math.IsNaN(float64(f)) {
			if got&0x7c00 != 0x7c00 || got&0x3ff == 0 {
				t.Errorf("Half(NaN) = %#04x, not a NaN", got)
			}
			continue
		}
		if got != want {
			if bad++; bad <= 10 {
				t.Errorf("Half(%g [%#08x]) = %#04x, want %#04x", f, math.Float32bits(f), got, want)
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d conversions differ from numpy", bad, len(b)/6)
	}
}

// TestHalfRoundTrip checks Float on every half: exact against a formula,
// and Half(Float(h)) == h.
func TestHalfRoundTrip(t *testing.T) {
	for h := 0; h < 1<<16; h++ {
		exp, mant := h>>10&0x1f, h&0x3ff
		f := Float(uint16(h))
		var want float64
		switch {
		case exp == 0x1f && mant != 0:
			if !math.IsNaN(float64(f)) {
				t.Fatalf("Float(%#04x) = %g, want NaN", h, f)
			}
			continue
		case exp == 0x1f:
			want = math.Inf(1)
		case exp == 0:
			want = math.Ldexp(float64(mant), -24)
		default:
			want = math.Ldexp(float64(mant|0x400), exp-25)
		}
		if h&0x8000 != 0 {
			want = -want
		}
		if float64(f) != want || math.Signbit(float64(f)) != (h&0x8000 != 0) {
			t.Fatalf("Float(%#04x) = %g, want %g", h, f, want)
		}
		if back := Half(f); back != uint16(h) {
			t.Fatalf("Half(Float(%#04x)) = %#04x", h, back)
		}
	}
}
