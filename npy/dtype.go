package npy

import (
	"encoding/binary"
	"io"
	"math"
	"math/bits"
	"strconv"
	"unsafe"
)

// nativeLE reports whether this machine stores numbers little-endian, so that
// '<f4' bytes can be read straight into a []float32.
var nativeLE = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// dtype is a numpy array-protocol type string, parsed: '<f4' is
// {order '<', kind 'f', size 4}.
type dtype struct {
	order byte // '<', '>', '|' or '='
	kind  byte // 'f', 'i', 'u', 'b', 'c', 'O', 'S', 'U', 'V', 'M', 'm', '?'
	size  int  // bytes per item as the descr says (characters for 'U')
}

// parseDescr parses a descr such as "<f4", "|O", "f4" or "O8". A string that
// is no numpy descr is an ErrDType error naming it.
func parseDescr(s string) (dtype, error) {
	d := dtype{order: '='}
	rest := s
	if rest != "" && (rest[0] == '<' || rest[0] == '>' || rest[0] == '|' || rest[0] == '=') {
		d.order = rest[0]
		rest = rest[1:]
	}
	if rest == "" {
		return dtype{}, dtypeErr("unsupported dtype %q", s)
	}
	d.kind = rest[0]
	switch d.kind {
	case 'f', 'i', 'u', 'b', 'c', 'O', 'S', 'U', 'V', 'M', 'm', '?':
	default:
		return dtype{}, dtypeErr("unsupported dtype %q", s)
	}
	digits := rest[1:]
	if i := indexByte(digits, '['); i >= 0 && (d.kind == 'M' || d.kind == 'm') {
		digits = digits[:i] // datetime unit, "<M8[ns]"
	}
	switch {
	case digits == "" && d.kind == 'O':
		d.size = 8
	case digits == "" && (d.kind == 'b' || d.kind == '?'):
		d.size = 1
	default:
		n, err := strconv.Atoi(digits)
		if err != nil || n < 0 || n > 1<<20 {
			return dtype{}, dtypeErr("unsupported dtype %q", s)
		}
		d.size = n
	}
	return d, nil
}

func indexByte(s string, c byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return i
		}
	}
	return -1
}

// String returns the descr as numpy writes it, "<f4".
func (d dtype) String() string {
	if d.kind == 'O' {
		return "|O"
	}
	return string(d.order) + string(d.kind) + strconv.Itoa(d.size)
}

// name is the numpy name of d ("float32") for messages, or its descr.
func (d dtype) name() string {
	switch d.kind {
	case 'f':
		switch d.size {
		case 2, 4, 8:
			return "float" + strconv.Itoa(8*d.size) + " (" + d.String() + ")"
		}
	case 'i':
		return "int" + strconv.Itoa(8*d.size) + " (" + d.String() + ")"
	case 'u':
		return "uint" + strconv.Itoa(8*d.size) + " (" + d.String() + ")"
	case 'c':
		return "complex" + strconv.Itoa(8*d.size) + " (" + d.String() + ")"
	case 'b', '?':
		return "bool (" + d.String() + ")"
	case 'O':
		return "object (|O)"
	}
	return d.String()
}

// isFloat reports whether d is one of the dtypes this package converts.
func (d dtype) isFloat() bool {
	return d.kind == 'f' && (d.size == 2 || d.size == 4 || d.size == 8)
}

// bigEndian reports whether d's items are stored big-endian.
func (d dtype) bigEndian() bool {
	switch d.order {
	case '>':
		return true
	case '<':
		return false
	}
	return !nativeLE // '=' and '|' mean native
}

// checkFloat returns an ErrDType error unless d is float16, float32 or float64.
func (d dtype) checkFloat() error {
	if d.isFloat() {
		return nil
	}
	return dtypeErr("unsupported dtype %s (want float16, float32 or float64)", d.name())
}

// maxElems bounds an array's element count so that its float32 data and its
// byte length both fit an int on every platform.
const maxElems = math.MaxInt / 8

// elemCount returns the number of elements of shape, or an ErrFormat error
// for a negative dimension or a product that overflows.
func elemCount(shape []int) (int, error) {
	n := 1
	for _, d := range shape {
		if d < 0 {
			return 0, formatErr("negative dimension %d in shape %v", d, shape)
		}
		hi, lo := bits.Mul64(uint64(n), uint64(d))
		if hi != 0 || lo > maxElems {
			return 0, formatErr("shape %v has more than %d elements", shape, int64(maxElems))
		}
		n = int(lo)
	}
	return n, nil
}

// float32Bytes views f's memory as bytes.
func float32Bytes(f []float32) []byte {
	if len(f) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(f))), 4*len(f))
}

// convertChunk is the size of the staging buffer used for float16, float64
// and for float32 on a machine of the other byte order.
const convertChunk = 1 << 16

// readFloats reads n items of the float dtype d from r into dst[:n]. float32
// in this machine's byte order is read straight into dst; other dtypes go
// through a small staging buffer. what names the data for errors.
func readFloats(r io.Reader, dst []float32, d dtype, what string) error {
	dst = dst[:len(dst):len(dst)]
	if d.size == 4 {
		if _, err := io.ReadFull(r, float32Bytes(dst)); err != nil {
			return ioErr(err, what)
		}
		if d.bigEndian() == nativeLE {
			swap32(dst)
		}
		return nil
	}
	buf := make([]byte, min(convertChunk, len(dst)*d.size))
	per := convertChunk / d.size
	for len(dst) > 0 {
		k := min(per, len(dst))
		b := buf[:k*d.size]
		if _, err := io.ReadFull(r, b); err != nil {
			return ioErr(err, what)
		}
		decodeChunk(dst[:k], b, d)
		dst = dst[k:]
	}
	return nil
}

// decodeChunk converts len(dst) items of d from b into dst.
func decodeChunk(dst []float32, b []byte, d dtype) {
	var order binary.ByteOrder = binary.LittleEndian
	if d.bigEndian() {
		order = binary.BigEndian
	}
	switch d.size {
	case 2:
		for i := range dst {
			dst[i] = float16to32(order.Uint16(b[2*i:]))
		}
	case 4:
		for i := range dst {
			dst[i] = math.Float32frombits(order.Uint32(b[4*i:]))
		}
	case 8:
		for i := range dst {
			// Go's conversion rounds to nearest even, as numpy's astype does.
			dst[i] = float32(math.Float64frombits(order.Uint64(b[8*i:])))
		}
	}
}

// swap32 reverses the bytes of every item of f in place.
func swap32(f []float32) {
	for i, v := range f {
		f[i] = math.Float32frombits(bits.ReverseBytes32(math.Float32bits(v)))
	}
}

// float16to32 converts IEEE 754 half-precision bits to float32 exactly, as
// numpy does: NaN payloads keep their bits, subnormals become normal.
func float16to32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	man := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // Inf, NaN
		return math.Float32frombits(sign | 0x7f800000 | man<<13)
	case exp == 0 && man == 0:
		return math.Float32frombits(sign)
	case exp == 0: // subnormal: value man * 2^-24, normalised
		e := uint32(127 - 14)
		for man&0x400 == 0 {
			man <<= 1
			e--
		}
		return math.Float32frombits(sign | e<<23 | (man&0x3ff)<<13)
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | man<<13)
}

// fortranToC returns data, stored in Fortran (column-major) order for shape,
// rearranged into C (row-major) order, in a new slice.
func fortranToC(data []float32, shape []int) []float32 {
	if len(shape) < 2 || len(data) == 0 {
		return data
	}
	out := make([]float32, len(data))
	cstride := make([]int, len(shape))
	s := 1
	for i := len(shape) - 1; i >= 0; i-- {
		cstride[i] = s
		s *= shape[i]
	}
	idx := make([]int, len(shape))
	off := 0
	for _, v := range data {
		out[off] = v
		// Advance the Fortran multi-index: the first dimension moves fastest.
		for d := range shape {
			idx[d]++
			off += cstride[d]
			if idx[d] < shape[d] {
				break
			}
			off -= cstride[d] * shape[d]
			idx[d] = 0
		}
	}
	return out
}
