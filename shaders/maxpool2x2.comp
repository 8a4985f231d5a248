#version 450
// maxpool2x2: 2x2 max pooling, stride 2, TensorFlow SAME padding, NHWC.
// Output is ceil(H/2) x ceil(W/2); an odd size pads one row/column at the
// bottom/right, and the padding never wins (only real pixels are compared).
// Bindings: 0 in [N,H,W,C] (readonly), 1 out [N,OH,OW,C] (writeonly).
// Push: n, h, w, c, oh, ow, inBase, outBase.
// Spec: 0 workgroup size. Dispatch: one invocation per output element,
// ceil(n*oh*ow*c / wg) workgroups, 2D grid.
#include "common.glsl"
layout(local_size_x_id = 0) in;
layout(std430, binding = 0) readonly buffer In { float x[]; };
layout(std430, binding = 1) writeonly buffer Out { float y[]; };
layout(push_constant) uniform Push { uint n, h, w, c, oh, ow, inBase, outBase; } p;

void main() {
    uint i = linearID();
    if (i >= p.n * p.oh * p.ow * p.c) {
        return;
    }
    uint ch = i % p.c;
    uint t = i / p.c;
    uint ox = t % p.ow;
    t /= p.ow;
    uint oy = t % p.oh;
    uint img = t / p.oh;
    uint y0 = 2u * oy, x0 = 2u * ox;
    uint base = p.inBase + ((img * p.h + y0) * p.w + x0) * p.c + ch;
    float m = x[base];
    bool right = x0 + 1u < p.w;
    if (right) {
        m = max(m, x[base + p.c]);
    }
    if (y0 + 1u < p.h) {
        uint down = base + p.w * p.c;
        m = max(m, x[down]);
        if (right) {
            m = max(m, x[down + p.c]);
        }
    }
    y[p.outBase + i] = m;
}
