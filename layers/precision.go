package layers

import (
	"fmt"

	"github.com/vkvgg/vkvgg/gpu"
)

// Precision is how a kit stores activations and weights on the device.
// Arithmetic and accumulation are fp32 in both; with FP16 the tensors,
// the conv and fc weights and the Winograd-transformed weights are
// 16-bit floats (GL_EXT_shader_16bit_storage), which halves memory
// traffic, while biases and the kernels' internal scratch stay fp32.
type Precision int

// The precisions.
const (
	FP32 Precision = iota
	FP16
)

// String is "fp32" or "fp16".
func (p Precision) String() string {
	if p == FP16 {
		return "fp16"
	}
	return "fp32"
}

// Size is the bytes of one stored element.
func (p Precision) Size() int {
	if p == FP16 {
		return 2
	}
	return 4
}

// Bytes is the size of a buffer for n elements in p: whole 16-byte
// vec4s, so that any view of it is a valid storage or texel range.
func (p Precision) Bytes(n int) int64 {
	return (int64(n)*int64(p.Size()) + 15) / 16 * 16
}

// CheckPrecision reports whether dev can store tensors in p: FP16 needs
// 16-bit storage buffers and fp16 texel buffers (gpu.Device.Half).
func CheckPrecision(dev *gpu.Device, p Precision) error {
	if p == FP16 && !dev.Half() {
		info := dev.Info()
		return fmt.Errorf("layers: %s cannot store fp16: it needs storageBuffer16BitAccess and R16G16B16A16_SFLOAT texel buffers (16-bit storage %v, fp16 texels %v)", info.Name, info.Storage16Bit, info.HalfTexels)
	}
	return nil
}

// ParsePrecision reads "fp32" or "fp16" ("" is fp32).
func ParsePrecision(s string) (Precision, error) {
	switch s {
	case "", "fp32", "float32":
		return FP32, nil
	case "fp16", "float16", "half":
		return FP16, nil
	}
	return FP32, fmt.Errorf("layers: unknown precision %q (fp32 or fp16)", s)
}
