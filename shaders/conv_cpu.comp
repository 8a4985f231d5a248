#version 450
#include "rows.glsl"
#include "store.glsl"
// conv_cpu: the convolution of conv.comp (any kernel size, stride and
// padding; same bindings, push constants and result) register-blocked for
// CPU Vulkan devices such as lavapipe, as conv3x3_cpu.comp is for 3x3
// stride-1 layers: input and weights are read as vec4 texel buffers and
// each invocation keeps TM pixels x 4*TN4 output channels in registers.
// The invocations of a workgroup share their TM pixels; in the SUBGROUP
// variant (conv_cpu_sg) each computes the addresses of a WG-th of them
// and fetches their texels, and takes the rest from its neighbours
// (rows.glsl).
// Requires cin, cout, inBase, outBase to be multiples of 4 (vec4 loads);
// the host pads narrower inputs or falls back to conv.comp.
// With RES, a residual [n,oh,ow,cout] is added before the ReLU (a ResNet
// block's sum fused into its last convolution).
// Bindings: 0 in [n,h,w,cin] (texel buffer), 1 w [kh*kw*cin, cout] (texel buffer),
//           2 bias [cout] (readonly), 3 out [n,oh,ow,cout] (writeonly),
//           4 residual (readonly; any buffer when RES is 0).
// Push: n, h, w, cin, cout, relu (0/1), inBase, outBase, oh, ow, kh, kw,
//       sh, sw, padT, padL, resBase (a multiple of 4).
// Spec: 0 workgroup size WG, 1 TM, 2 TN4, 3 RES (0/1).
// Dispatch: x = ceil(n*oh*ow / TM), y = ceil(cout / (4*TN4*WG)).
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint TM = 8;
layout(constant_id = 2) const uint TN4 = 2;
layout(constant_id = 3) const uint RES = 0;

layout(binding = 0) uniform samplerBuffer inp;
layout(binding = 1) uniform samplerBuffer wt;
layout(std430, binding = 2) readonly buffer Bias { vec4 bias[]; };
layout(std430, binding = 3) writeonly buffer Out { svec4 outp[]; };
layout(std430, binding = 4) readonly buffer Res { svec4 res[]; };
layout(push_constant) uniform Push {
    uint n, h, w, cin, cout, relu, inBase, outBase;
    uint oh, ow, kh, kw, sh, sw;
    int padT, padL;
    uint resBase;
} p;

void main() {
    uint cg0 = (gl_WorkGroupID.y * gl_WorkGroupSize.x + gl_LocalInvocationID.x) * TN4; // first vec4 channel group
    uint cout4 = p.cout / 4u, cin4 = p.cin / 4u;
    ROWS_IDLE(cg0 >= cout4) // channel indices are clamped below
    uint p0 = gl_WorkGroupID.x * TM;
    uint npix = p.n * p.oh * p.ow;
    int py[ROWS], px[ROWS];
    uint img[ROWS];
    for (uint r = 0u; r < ROWS; r++) {
        uint pix = min(p0 + rowOf(r), npix - 1u); // tail pixels repeat the last
        uint t = pix / p.ow;
        px[r] = int(pix % p.ow) * int(p.sw) - p.padL;
        py[r] = int(t % p.oh) * int(p.sh) - p.padT;
        img[r] = (t / p.oh) * p.h * p.w;
    }
    vec4 acc[TM][TN4];
    for (uint j = 0u; j < TN4; j++) {
        uint cg = min(cg0 + j, cout4 - 1u);
        for (uint i = 0u; i < TM; i++) {
            acc[i][j] = bias[cg];
        }
    }
    uint taps = p.kh * p.kw;
    for (uint tap = 0u; tap < taps; tap++) {
        int dy = int(tap / p.kw), dx = int(tap % p.kw);
        uint src[ROWS];
        bool ok[ROWS];
        for (uint r = 0u; r < ROWS; r++) {
            int iy = py[r] + dy, ix = px[r] + dx;
            ok[r] = iy >= 0 && iy < int(p.h) && ix >= 0 && ix < int(p.w);
            // Padding pixels fetch the image's first pixel and select
            // zero instead, keeping the loop free of branches.
            src[r] = (p.inBase / 4u) + (img[r] + (ok[r] ? uint(iy) * p.w + uint(ix) : 0u)) * cin4;
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
                if (RES == 1u) {
                    v += vec4(res[p.resBase / 4u + pix * cout4 + cg]);
                }
                outp[p.outBase / 4u + pix * cout4 + cg] = svec4(p.relu != 0u ? max(v, vec4(0.0)) : v);
            }
        }
    }
}
