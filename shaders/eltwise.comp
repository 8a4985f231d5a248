#version 450
#include "store.glsl"
// eltwise: element-wise a + b (flags bit 0) or a alone, then an optional
// ReLU (flags bit 1): out[i] = act(a[i] (+ b[i])).
// Bindings: 0 a (readonly), 1 b (readonly; bind a again when unused),
//           2 out (writeonly).
// Push: count, aBase, bBase, outBase, flags.
// Spec: 0 workgroup size. Dispatch: ceil(count / wg) workgroups, 2D grid.
#include "common.glsl"
layout(local_size_x_id = 0) in;
layout(std430, binding = 0) readonly buffer A { sfloat a[]; };
layout(std430, binding = 1) readonly buffer B { sfloat b[]; };
layout(std430, binding = 2) writeonly buffer Out { sfloat y[]; };
layout(push_constant) uniform Push { uint count, aBase, bBase, outBase, flags; } p;

void main() {
    uint i = linearID();
    if (i >= p.count) {
        return;
    }
    float v = float(a[p.aBase + i]);
    if ((p.flags & 1u) != 0u) {
        v += float(b[p.bBase + i]);
    }
    if ((p.flags & 2u) != 0u) {
        v = max(v, 0.0);
    }
    y[p.outBase + i] = sfloat(v);
}
