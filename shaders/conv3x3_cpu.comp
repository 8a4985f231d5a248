#version 450
#include "rows.glsl"
#include "store.glsl"
// conv3x3_cpu: the conv3x3 of conv3x3.comp (same bindings, push constants
// and result) register-blocked for CPU Vulkan devices such as lavapipe.
// There, every invocation runs as one SIMD lane and each load from a
// storage buffer or shared memory costs a loop over the lanes, while
// arithmetic is vectorised and texel fetches are vectorised gathers: the
// kernel therefore reads input and weights as vec4 texel buffers, skips
// the shared-memory staging, and gives each invocation a large register
// tile, TM pixels x 4*TN4 output channels, so that each fetch feeds many
// FMAs. The invocations of a workgroup share their TM pixels; in the
// SUBGROUP variant (conv3x3_cpu_sg) each computes the addresses of a
// WG-th of them and fetches their texels, and takes the rest from its
// neighbours (rows.glsl).
// Requires cin, cout, inBase, outBase to be multiples of 4 (vec4 loads);
// the host falls back to conv3x3.comp otherwise.
// Bindings: 0 in [n,h,w,cin] (texel buffer), 1 w [9*cin, cout] (texel buffer),
//           2 bias [cout] (readonly), 3 out [n,h,w,cout] (writeonly).
// Push: n, h, w, cin, cout, relu (0/1), inBase, outBase.
// Spec: 0 workgroup size WG, 1 TM, 2 TN4.
// Dispatch: x = ceil(n*h*w / TM), y = ceil(cout / (4*TN4*WG)). Pixel
// blocks vary fastest, so workgroups that run one after the other share
// their weights (a CPU device runs workgroups roughly in order), which
// keeps a block of weights in cache instead of streaming all of them once
// per pixel block.
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint TM = 8;
layout(constant_id = 2) const uint TN4 = 2;

layout(binding = 0) uniform samplerBuffer inp;
layout(binding = 1) uniform samplerBuffer wt;
layout(std430, binding = 2) readonly buffer Bias { vec4 bias[]; };
layout(std430, binding = 3) writeonly buffer Out { svec4 outp[]; };
layout(push_constant) uniform Push { uint n, h, w, cin, cout, relu, inBase, outBase; } p;

void main() {
    uint cg0 = (gl_WorkGroupID.y * gl_WorkGroupSize.x + gl_LocalInvocationID.x) * TN4; // first vec4 channel group
    uint cout4 = p.cout / 4u, cin4 = p.cin / 4u;
    ROWS_IDLE(cg0 >= cout4) // channel indices are clamped below
    uint p0 = gl_WorkGroupID.x * TM;
    uint npix = p.n * p.h * p.w;
    int py[ROWS], px[ROWS];
    for (uint r = 0u; r < ROWS; r++) {
        uint pix = min(p0 + rowOf(r), npix - 1u); // tail pixels repeat the last
        px[r] = int(pix % p.w);
        py[r] = int((pix / p.w) % p.h);
    }
    vec4 acc[TM][TN4];
    for (uint j = 0u; j < TN4; j++) {
        uint cg = min(cg0 + j, cout4 - 1u);
        for (uint i = 0u; i < TM; i++) {
            acc[i][j] = bias[cg];
        }
    }
    for (uint tap = 0u; tap < 9u; tap++) {
        int dy = int(tap / 3u) - 1, dx = int(tap % 3u) - 1;
        uint src[ROWS];
        bool ok[ROWS];
        for (uint r = 0u; r < ROWS; r++) {
            int iy = py[r] + dy, ix = px[r] + dx;
            ok[r] = iy >= 0 && iy < int(p.h) && ix >= 0 && ix < int(p.w);
            uint pix = min(p0 + rowOf(r), npix - 1u);
            // Padding pixels fetch a real pixel and select zero instead,
            // keeping the loop free of branches.
            src[r] = (p.inBase / 4u) + (ok[r] ? uint(int(pix) + dy * int(p.w) + dx) : pix) * cin4;
        }
        uint wrow = tap * p.cin * cout4; // vec4 index of row (tap, ci=0)
        for (uint c4 = 0u; c4 < cin4; c4++) {
            vec4 b[4][TN4];
            for (uint q = 0u; q < 4u; q++) {
                for (uint j = 0u; j < TN4; j++) {
                    b[q][j] = texelFetch(wt, int(wrow + (4u * c4 + q) * cout4 + min(cg0 + j, cout4 - 1u)));
                }
            }
            vec4 mine[ROWS];
            for (uint r = 0u; r < ROWS; r++) {
                mine[r] = mix(vec4(0.0), texelFetch(inp, int(src[r] + c4)), bvec4(ok[r]));
            }
            for (uint i = 0u; i < TM; i++) {
                vec4 a = rowValue(mine, i);
                for (uint j = 0u; j < TN4; j++) {
                    acc[i][j] = fma(vec4(a.x), b[0][j], acc[i][j]);
                    acc[i][j] = fma(vec4(a.y), b[1][j], acc[i][j]);
                    acc[i][j] = fma(vec4(a.z), b[2][j], acc[i][j]);
                    acc[i][j] = fma(vec4(a.w), b[3][j], acc[i][j]);
                }
            }
        }
    }
    ROWS_RETURN_IDLE
    for (uint i = 0u; i < TM; i++) {
        uint pix = p0 + i;
        if (pix >= npix) {
            break;
        }
        for (uint j = 0u; j < TN4; j++) {
            uint cg = cg0 + j;
            if (cg < cout4) {
                vec4 v = acc[i][j];
                outp[p.outBase / 4u + pix * cout4 + cg] = svec4(p.relu != 0u ? max(v, vec4(0.0)) : v);
            }
        }
    }
}
