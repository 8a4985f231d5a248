#version 450
#include "store.glsl"
// gpool: global average or max pooling, NHWC [n,hw,c] -> [n,c], as a
// parallel reduction: a workgroup takes one image and CB channels; its
// WG/CB pixel groups each reduce every (WG/CB)-th pixel of those channels
// (neighbouring invocations read neighbouring channels), and the groups'
// partial results are combined in shared memory.
// Bindings: 0 in [n,hw,c] (readonly), 1 out [n,c] (writeonly).
// Push: n, hw, c, inBase, outBase.
// Spec: 0 workgroup size WG, 1 CB (channels per workgroup; WG/CB a power
// of two), 2 AVG (1 average, 0 max).
// Dispatch: x = ceil(c / CB), y = n.
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint CB = 32;
layout(constant_id = 2) const uint AVG = 1;
const uint WG = gl_WorkGroupSize.x;
const uint PG = WG / CB;
layout(std430, binding = 0) readonly buffer In { sfloat x[]; };
layout(std430, binding = 1) writeonly buffer Out { sfloat y[]; };
layout(push_constant) uniform Push { uint n, hw, c, inBase, outBase; } p;

shared float part[WG];

void main() {
    uint lid = gl_LocalInvocationID.x;
    uint cl = lid % CB, pg = lid / CB;
    uint ch = gl_WorkGroupID.x * CB + cl;
    uint img = gl_WorkGroupID.y;
    float acc = AVG != 0u ? 0.0 : uintBitsToFloat(0xff800000u); // -inf
    if (ch < p.c) {
        uint base = p.inBase + img * p.hw * p.c + ch;
        for (uint px = pg; px < p.hw; px += PG) {
            float v = float(x[base + px * p.c]);
            acc = AVG != 0u ? acc + v : max(acc, v);
        }
    }
    part[lid] = acc;
    barrier();
    for (uint s = PG / 2u; s > 0u; s >>= 1u) {
        if (pg < s) {
            float o = part[lid + s * CB];
            part[lid] = AVG != 0u ? part[lid] + o : max(part[lid], o);
        }
        barrier();
    }
    if (pg == 0u && ch < p.c) {
        y[p.outBase + img * p.c + ch] = sfloat(AVG != 0u ? part[lid] / float(p.hw) : part[lid]);
    }
}
