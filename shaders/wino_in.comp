#version 450
// wino_in: the input transform of the Winograd F(2x2,3x3) convolution
// (3x3, stride 1, padding 1): each 4x4 input patch d of tile t (output
// rows 2ty, 2ty+1 and columns 2tx, 2tx+1, patch from row 2ty-1 and column
// 2tx-1; pixels outside the image are 0) becomes B^T d B, 16 values per
// channel, stored as V[xi, tl, c] for xi = 4*row + column. Tiles are
// counted over the batch (tw = ceil(w/2) per row, th = ceil(h/2) rows per
// image) and the kernel transforms tiles t0 ... t0+tcount-1 (tl = t - t0).
// Four channels per invocation (vec4 texel reads).
// Requires cin and inBase to be multiples of 4.
// Bindings: 0 in [n,h,w,cin] (texel buffer), 1 V [16, tcount, cin]
// (writeonly, vec4).
// Push: n, h, w, cin, inBase, t0, tcount.
// Dispatch: ceil(tcount*cin/4 / 64) workgroups of 64, 2D grid.
#include "common.glsl"
layout(local_size_x = 64) in;
layout(binding = 0) uniform samplerBuffer inp;
layout(std430, binding = 1) writeonly buffer V { vec4 v[]; };
layout(push_constant) uniform Push { uint n, h, w, cin, inBase, t0, tcount; } p;

void main() {
    uint i = linearID();
    uint cin4 = p.cin / 4u;
    if (i >= p.tcount * cin4) {
        return;
    }
    uint c4 = i % cin4;
    uint tl = i / cin4;
    uint t = p.t0 + tl;
    uint tw = (p.w + 1u) / 2u, th = (p.h + 1u) / 2u;
    int tx = int(t % tw);
    int ty = int((t / tw) % th);
    uint img = t / (tw * th);
    vec4 d[4][4];
    for (int r = 0; r < 4; r++) {
        int y = 2 * ty - 1 + r;
        for (int c = 0; c < 4; c++) {
            int x = 2 * tx - 1 + c;
            bool ok = y >= 0 && y < int(p.h) && x >= 0 && x < int(p.w);
            // Outside the image: fetch a real pixel and select zero.
            uint pix = ok ? (img * p.h + uint(y)) * p.w + uint(x) : img * p.h * p.w;
            d[r][c] = mix(vec4(0.0), texelFetch(inp, int(p.inBase / 4u + pix * cin4 + c4)), bvec4(ok));
        }
    }
    vec4 s[4][4];
    for (int c = 0; c < 4; c++) {
        s[0][c] = d[0][c] - d[2][c];
        s[1][c] = d[1][c] + d[2][c];
        s[2][c] = d[2][c] - d[1][c];
        s[3][c] = d[1][c] - d[3][c];
    }
    uint stride = p.tcount * cin4;
    uint o = tl * cin4 + c4;
    for (int r = 0; r < 4; r++) {
        v[o + uint(4 * r + 0) * stride] = s[r][0] - s[r][2];
        v[o + uint(4 * r + 1) * stride] = s[r][1] + s[r][2];
        v[o + uint(4 * r + 2) * stride] = s[r][2] - s[r][1];
        v[o + uint(4 * r + 3) * stride] = s[r][1] - s[r][3];
    }
}
