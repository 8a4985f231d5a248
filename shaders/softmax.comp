#version 450
#include "store.glsl"
// softmax over the last axis of [rows, m], numerically stable:
//   y = exp(x - max(x)) / sum(exp(x - max(x))).
// Bindings: 0 in (readonly), 1 out (writeonly).
// Push: rows, m, inBase, outBase. Spec: 0 workgroup size (a power of two).
// Dispatch: one workgroup per row (rows workgroups along x).
layout(local_size_x_id = 0) in;
layout(std430, binding = 0) readonly buffer In { sfloat x[]; };
layout(std430, binding = 1) writeonly buffer Out { sfloat y[]; };
layout(push_constant) uniform Push { uint rows, m, inBase, outBase; } p;
const uint WG = gl_WorkGroupSize.x;
shared float red[WG];

void main() {
    uint row = gl_WorkGroupID.x;
    uint lid = gl_LocalInvocationID.x;
    uint base = p.inBase + row * p.m;
    uint obase = p.outBase + row * p.m;
    float mx = -1.0 / 0.0;
    for (uint j = lid; j < p.m; j += WG) {
        mx = max(mx, float(x[base + j]));
    }
    red[lid] = mx;
    barrier();
    for (uint s = WG / 2u; s > 0u; s >>= 1) {
        if (lid < s) {
            red[lid] = max(red[lid], red[lid + s]);
        }
        barrier();
    }
    mx = red[0];
    barrier();
    float sum = 0.0;
    for (uint j = lid; j < p.m; j += WG) {
        sum += exp(float(x[base + j]) - mx);
    }
    red[lid] = sum;
    barrier();
    for (uint s = WG / 2u; s > 0u; s >>= 1) {
        if (lid < s) {
            red[lid] += red[lid + s];
        }
        barrier();
    }
    float inv = 1.0 / red[0];
    for (uint j = lid; j < p.m; j += WG) {
        y[obase + j] = sfloat(exp(float(x[base + j]) - mx) * inv);
    }
}
