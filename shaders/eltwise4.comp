#version 450
#include "store.glsl"
// eltwise4: eltwise.comp four elements at a time (vec4 loads and stores),
// for counts and element bases that are multiples of 4: on CPU devices
// every storage-buffer load is a loop over the SIMD lanes, so a quarter
// of the loads is most of the speed.
// Bindings: 0 a (readonly), 1 b (readonly; bind a again when unused),
//           2 out (writeonly), all as vec4 arrays.
// Push: count4 (vec4s), aBase4, bBase4, outBase4 (in vec4s), flags
//       (bit 0 add b, bit 1 ReLU).
// Spec: 0 workgroup size. Dispatch: ceil(count4 / wg) workgroups, 2D grid.
#include "common.glsl"
layout(local_size_x_id = 0) in;
layout(std430, binding = 0) readonly buffer A { svec4 a[]; };
layout(std430, binding = 1) readonly buffer B { svec4 b[]; };
layout(std430, binding = 2) writeonly buffer Out { svec4 y[]; };
layout(push_constant) uniform Push { uint count, aBase, bBase, outBase, flags; } p;

void main() {
    uint i = linearID();
    if (i >= p.count) {
        return;
    }
    vec4 v = vec4(a[p.aBase + i]);
    if ((p.flags & 1u) != 0u) {
        v += vec4(b[p.bBase + i]);
    }
    if ((p.flags & 2u) != 0u) {
        v = max(v, vec4(0.0));
    }
    y[p.outBase + i] = svec4(v);
}
