#version 450
// pool: max or average pooling over windows of any size, stride and
// padding, or adaptive windows, NHWC. One invocation per output element.
// Fixed windows (flags bit 1 clear): output (oy, ox) covers input rows
// oy*sh - padT ... + kh - 1 and columns ox*sw - padL ... + kw - 1; only
// pixels inside the image are compared or summed (padding never wins a
// max). The average divides by the pixels inside the image, or with
// flags bit 2 (PyTorch's count_include_pad) by the window clipped to the
// padded image, min(y0 + kh, h + padB) - y0 rows times the same for
// columns.
// Adaptive windows (flags bit 1 set, PyTorch's AdaptiveAvg/MaxPool2d):
// rows floor(oy*h/oh) to ceil((oy+1)*h/oh) - 1, columns likewise.
// Bindings: 0 in [n,h,w,c] (readonly), 1 out [n,oh,ow,c] (writeonly).
// Push: n, h, w, c, oh, ow, inBase, outBase, kh, kw, sh, sw, padT, padL,
//       padB, padR, flags (bit 0 average, bit 1 adaptive, bit 2 count padding).
// Spec: 0 workgroup size. Dispatch: ceil(n*oh*ow*c / wg) workgroups, 2D grid.
#include "common.glsl"
layout(local_size_x_id = 0) in;
layout(std430, binding = 0) readonly buffer In { float x[]; };
layout(std430, binding = 1) writeonly buffer Out { float y[]; };
layout(push_constant) uniform Push {
    uint n, h, w, c, oh, ow, inBase, outBase;
    uint kh, kw, sh, sw;
    int padT, padL, padB, padR;
    uint flags;
} p;

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
    bool avg = (p.flags & 1u) != 0u;
    int y0, y1, x0, x1;
    float count;
    if ((p.flags & 2u) != 0u) {
        y0 = int((oy * p.h) / p.oh);
        y1 = int(((oy + 1u) * p.h + p.oh - 1u) / p.oh);
        x0 = int((ox * p.w) / p.ow);
        x1 = int(((ox + 1u) * p.w + p.ow - 1u) / p.ow);
        count = float((y1 - y0) * (x1 - x0));
    } else {
        y0 = int(oy * p.sh) - p.padT;
        x0 = int(ox * p.sw) - p.padL;
        y1 = y0 + int(p.kh);
        x1 = x0 + int(p.kw);
        count = float((min(y1, int(p.h) + p.padB) - y0) * (min(x1, int(p.w) + p.padR) - x0));
        y0 = max(y0, 0);
        x0 = max(x0, 0);
        y1 = min(y1, int(p.h));
        x1 = min(x1, int(p.w));
        if ((p.flags & 4u) == 0u) {
            count = float((y1 - y0) * (x1 - x0));
        }
    }
    uint base = p.inBase + img * p.h * p.w * p.c + ch;
    float m = avg ? 0.0 : uintBitsToFloat(0xff800000u); // -inf
    for (int yy = y0; yy < y1; yy++) {
        for (int xx = x0; xx < x1; xx++) {
            float v = x[base + (uint(yy) * p.w + uint(xx)) * p.c];
            m = avg ? m + v : max(m, v);
        }
    }
    y[p.outBase + i] = avg ? m / count : m;
}
