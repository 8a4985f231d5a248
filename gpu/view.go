package gpu

// The methods of Buffer here only build Views, so both builds share them;
// each build's Buffer has a size field in bytes (always 0 without cgo,
// where no buffer can be made).

// View is a byte range of a buffer, what a kernel binds.
type View struct {
	Buf    *Buffer
	Offset int64 // bytes
	Size   int64 // bytes
}

// All is a view of the whole buffer.
func (b *Buffer) All() View { return View{Buf: b, Size: b.size} }

// Slice is a view of size bytes from offset.
func (b *Buffer) Slice(offset, size int64) View { return View{Buf: b, Offset: offset, Size: size} }

// Floats is a view of n float32 elements starting at element off.
func (b *Buffer) Floats(off, n int) View {
	return View{Buf: b, Offset: int64(off) * 4, Size: int64(n) * 4}
}

// Size is the buffer's size in bytes.
func (b *Buffer) Size() int64 { return b.size }

// Access says how a dispatch uses a bound view; the sequence derives its
// memory barriers from it.
type Access int

// Access modes.
const (
	Read Access = iota
	Write
	ReadWrite
)

// Arg binds a view to the next binding of a kernel.
type Arg struct {
	View
	Access Access
	Texels bool // a read-only texel buffer of vec4 float
	Half   bool // with Texels: the buffer holds fp16 (R16G16B16A16_SFLOAT)
}

// Texels binds v for reading as a uniform texel buffer of vec4 float
// (GLSL samplerBuffer, read with texelFetch). On CPU devices such as
// lavapipe, texel fetches are vectorised gathers while storage-buffer
// loads go lane by lane.
func Texels(v View) Arg { return Arg{View: v, Access: Read, Texels: true} }

// HalfTexels is Texels for a buffer of fp16 values, which the shader
// reads as vec4 float all the same (Device.Half says whether it can).
func HalfTexels(v View) Arg { return Arg{View: v, Access: Read, Texels: true, Half: true} }

// R binds v for reading.
func R(v View) Arg { return Arg{View: v, Access: Read} }

// W binds v for writing.
func W(v View) Arg { return Arg{View: v, Access: Write} }

// RW binds v for reading and writing.
func RW(v View) Arg { return Arg{View: v, Access: ReadWrite} }
