#version 450
#include "store.glsl"
// im2col: the windows of a convolution as rows, so that any window runs
// as a 1x1 convolution (a GEMM) over kh*kw*cin channels:
//   out[pix, (dy*kw + dx)*cin + c] = in[img, oy*sh - padT + dy, ox*sw - padL + dx, c]
// and 0 where the window reaches into the padding. The order of a row is
// that of the convolution's weights [kh, kw, cin, cout], so the 1x1
// convolution takes them unchanged. Each invocation writes one output
// pixel's row, looping over the window: integer division, which SIMD
// CPUs do lane by lane, happens once per row. Four channels at a time:
// cin, inBase and outBase are multiples of 4; the input is read as vec4
// texels (the CPU devices' way: lavapipe's texel fetches are vectorised
// gathers).
// Bindings: 0 in [n,h,w,cin] (texel buffer), 1 out [n*oh*ow, kh*kw*cin]
//           (writeonly).
// Push: n, h, w, cin, oh, ow, kh, kw, sh, sw, padT, padL, inBase, outBase.
// Spec: 0 workgroup size. Dispatch: ceil(n*oh*ow / wg) workgroups, 2D grid.
#include "common.glsl"
layout(local_size_x_id = 0) in;
layout(binding = 0) uniform samplerBuffer inp;
layout(std430, binding = 1) writeonly buffer Out { svec4 outp[]; };
layout(push_constant) uniform Push {
    uint n, h, w, cin, oh, ow, kh, kw, sh, sw;
    int padT, padL;
    uint inBase, outBase;
} p;

void main() {
    uint pix = linearID();
    if (pix >= p.n * p.oh * p.ow) {
        return;
    }
    uint cin4 = p.cin / 4u;
    uint ox = pix % p.ow, t = pix / p.ow;
    uint oy = t % p.oh, img = t / p.oh;
    int y0 = int(oy * p.sh) - p.padT, x0 = int(ox * p.sw) - p.padL;
    uint o = p.outBase / 4u + pix * p.kh * p.kw * cin4;
    uint base = p.inBase / 4u + img * p.h * p.w * cin4;
    for (uint dy = 0u; dy < p.kh; dy++) {
        int iy = y0 + int(dy);
        bool rowOK = iy >= 0 && iy < int(p.h);
        for (uint dx = 0u; dx < p.kw; dx++) {
            int ix = x0 + int(dx);
            bool ok = rowOK && ix >= 0 && ix < int(p.w);
            // Padding fetches the image's first texel and stores zero.
            uint src = base + (ok ? (uint(iy) * p.w + uint(ix)) * cin4 : 0u);
            for (uint c4 = 0u; c4 < cin4; c4++) {
                vec4 v = texelFetch(inp, int(src + c4));
                outp[o++] = svec4(ok ? v : vec4(0.0));
            }
        }
    }
}
