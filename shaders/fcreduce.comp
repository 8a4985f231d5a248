#version 450
// fcreduce: y[r, m] = act(bias[m] + sum_s part[s, r, m]).
// Bindings: 0 part [slices, rows, M] (readonly), 1 bias [M] (readonly),
//           2 y [rows, M] (writeonly).
// Push: rows, M, slices, relu (0 or 1).
// Spec: 0 workgroup size. Dispatch: ceil(rows*M / wg) workgroups, 2D grid.
#include "common.glsl"
layout(local_size_x_id = 0) in;
layout(std430, binding = 0) readonly buffer Part { float part[]; };
layout(std430, binding = 1) readonly buffer Bias { float bias[]; };
layout(std430, binding = 2) writeonly buffer Y { float y[]; };
layout(push_constant) uniform Push { uint rows, M, slices, relu; } p;

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
    y[i] = p.relu != 0u ? max(v, 0.0) : v;
}
