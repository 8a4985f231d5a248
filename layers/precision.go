package layers

import "fmt"

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
