#version 450
#include "store.glsl"
// padc: copies an NHWC tensor into one with more channels, the extra
// channels zero: out[p, c] = c < ic ? in[p, c] : 0. A 3-channel input
// becomes a 4-channel one that the vec4 register conv kernels can read.
// Bindings: 0 in [pixels, ic] (readonly), 1 out [pixels, oc] (writeonly).
// Push: pixels, ic, oc, inBase, outBase.
// Spec: 0 workgroup size. Dispatch: ceil(pixels*oc / wg) workgroups, 2D grid.
#include "common.glsl"
layout(local_size_x_id = 0) in;
layout(std430, binding = 0) readonly buffer In { sfloat x[]; };
layout(std430, binding = 1) writeonly buffer Out { sfloat y[]; };
layout(push_constant) uniform Push { uint pixels, ic, oc, inBase, outBase; } p;

void main() {
    uint i = linearID();
    if (i >= p.pixels * p.oc) {
        return;
    }
    uint c = i % p.oc, px = i / p.oc;
    y[p.outBase + i] = sfloat(c < p.ic ? float(x[p.inBase + px * p.ic + c]) : 0.0);
}
