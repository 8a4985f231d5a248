#version 450
#include "store.glsl"
// fcreduce: v[r, m] = bias[m] + sum_s part[s, r, m]; writes v (before the
// ReLU) to y and max(v, 0) to z, each where its flag bit is set
// (bit 0: y, bit 1: z).
// Bindings: 0 part [slices, rows, M] (readonly), 1 bias [M] (readonly),
//           2 y [rows, M] (writeonly), 3 z [rows, M] (writeonly).
// Push: rows, M, slices, flags, yBase, zBase.
// Spec: 0 workgroup size. Dispatch: ceil(rows*M / wg) workgroups, 2D grid.
#include "common.glsl"
layout(local_size_x_id = 0) in;
layout(std430, binding = 0) readonly buffer Part { float part[]; };
layout(std430, binding = 1) readonly buffer Bias { float bias[]; };
layout(std430, binding = 2) writeonly buffer Y { sfloat y[]; };
layout(std430, binding = 3) writeonly buffer Z { sfloat z[]; };
layout(push_constant) uniform Push { uint rows, M, slices, flags, yBase, zBase; } p;

void main() {
    uint i = linearID();
    uint n = p.rows * p.M;
    if (i >= n) {
        return;
    }
    float v = bias[i % p.M];
    for (uint s = 0u; s < p.slices; s++) {
        v += part[s * n + i];
    }
    if ((p.flags & 1u) != 0u) {
        y[p.yBase + i] = sfloat(v);
    }
    if ((p.flags & 2u) != 0u) {
        z[p.zBase + i] = sfloat(max(v, 0.0));
    }
}
