package gpu

import "time"

// KernelSpec describes a compute shader to build into a Kernel.
type KernelSpec struct {
	Name     string // for errors and timings
	SPIRV    []byte // the module; entry point "main"
	Bindings int    // buffers at bindings 0..Bindings-1 of set 0
	// Texels marks (bit i for binding i) the bindings that are uniform
	// texel buffers of vec4 float (samplerBuffer in GLSL, bound with
	// gpu.Texels) instead of storage buffers.
	Texels    uint32
	PushWords int      // 32-bit push constant words
	Spec      []uint32 // specialization constants by constant_id 0..len-1
}

// SequenceOptions configure a Sequence.
type SequenceOptions struct {
	// Timestamps records GPU timestamps around every dispatch where the
	// device supports them (see Sequence.Timings).
	Timestamps bool
	// AfterPrevious starts the recording with a barrier that makes the
	// writes of every command submitted earlier on the queue visible to
	// this sequence (and orders its writes after their reads), for a
	// computation split into several sequences submitted in order.
	AfterPrevious bool
}

// Timing is the GPU time of one dispatch.
type Timing struct {
	Label    string
	Duration time.Duration
}
