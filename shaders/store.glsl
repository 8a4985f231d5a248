// Storage types of activations and weights. A shader that includes this
// file (right after #version) is compiled twice: as is, and with FP16
// defined into name_f16.spv, where sfloat and svec4 are 16-bit floats
// (GL_EXT_shader_16bit_storage). Loads convert with float(x) or vec4(x)
// and stores with sfloat(v) or svec4(v); arithmetic stays in fp32.
#ifdef FP16
#extension GL_EXT_shader_16bit_storage : require
#define sfloat float16_t
#define svec4 f16vec4
#else
#define sfloat float
#define svec4 vec4
#endif
