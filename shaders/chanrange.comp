#version 450
#include "store.glsl"
// chanrange: the minimum and maximum of each of `count` channels of one
// image of an NHWC map, from channel `first`, for drawing each channel
// stretched over the colour map.
// Bindings: 0 x [hw, c] from element base (readonly), 1 out [count, 2]
// (min, max; writeonly).
// Push: hw, c, first, base.
// Dispatch: count workgroups of 64.
layout(local_size_x = 64) in;
layout(std430, binding = 0) readonly buffer X { sfloat x[]; };
layout(std430, binding = 1) writeonly buffer Out { float o[]; };
layout(push_constant) uniform Push { uint hw, c, first, base; } p;

shared float lo[64];
shared float hi[64];

void main() {
    uint k = gl_WorkGroupID.x;
    uint t = gl_LocalInvocationID.x;
    uint ch = p.base + p.first + k;
    float a = uintBitsToFloat(0x7f800000u);
    float b = -a;
    for (uint i = t; i < p.hw; i += 64u) {
        float v = float(x[ch + i * p.c]);
        a = min(a, v);
        b = max(b, v);
    }
    lo[t] = a;
    hi[t] = b;
    barrier();
    for (uint s = 32u; s > 0u; s >>= 1u) {
        if (t < s) {
            lo[t] = min(lo[t], lo[t + s]);
            hi[t] = max(hi[t], hi[t + s]);
        }
        barrier();
    }
    if (t == 0u) {
        o[2u * k] = lo[0];
        o[2u * k + 1u] = hi[0];
    }
}
