#version 450
#include "store.glsl"
// resize: bilinear resizing of an NHWC map to oh x ow, as PyTorch's
// F.interpolate(mode='bilinear', align_corners=False): output pixel y
// samples the input at (y + 0.5) * h / oh - 0.5, clamped at the borders.
// A dispatch may cover a band of the output: rows output rows from row
// row0 on, reading an input window whose first row is inRow0 (a whole
// image: rows = oh, row0 = inRow0 = 0).
// Bindings: 0 in [n,h,w,c] (readonly), 1 out [n,rows,ow,c] (writeonly).
// Push: n, h, w, c, oh, ow, inBase, outBase, rows, row0, inRow0.
// Spec: 0 workgroup size. Dispatch: ceil(n*rows*ow*c / wg) workgroups, 2D grid.
#include "common.glsl"
layout(local_size_x_id = 0) in;
layout(std430, binding = 0) readonly buffer In { sfloat x[]; };
layout(std430, binding = 1) writeonly buffer Out { sfloat y[]; };
layout(push_constant) uniform Push { uint n, h, w, c, oh, ow, inBase, outBase, rows, row0, inRow0; } p;

void main() {
    uint i = linearID();
    if (i >= p.n * p.rows * p.ow * p.c) {
        return;
    }
    uint ch = i % p.c;
    uint t = i / p.c;
    uint ox = t % p.ow;
    t /= p.ow;
    uint oy = t % p.rows + p.row0;
    uint img = t / p.rows;
    float sy = max((float(oy) + 0.5) * float(p.h) / float(p.oh) - 0.5, 0.0);
    float sx = max((float(ox) + 0.5) * float(p.w) / float(p.ow) - 0.5, 0.0);
    uint y0 = min(uint(sy), p.h - 1u), x0 = min(uint(sx), p.w - 1u);
    uint y1 = min(y0 + 1u, p.h - 1u), x1 = min(x0 + 1u, p.w - 1u);
    float fy = sy - float(y0), fx = sx - float(x0);
    uint base = p.inBase + img * p.h * p.w * p.c + ch;
    y0 -= p.inRow0;
    y1 -= p.inRow0;
    float a = float(x[base + (y0 * p.w + x0) * p.c]), b = float(x[base + (y0 * p.w + x1) * p.c]);
    float c = float(x[base + (y1 * p.w + x0) * p.c]), d = float(x[base + (y1 * p.w + x1) * p.c]);
    y[p.outBase + i] = sfloat((a * (1.0 - fx) + b * fx) * (1.0 - fy) + (c * (1.0 - fx) + d * fx) * fy);
}
