#version 450
#include "rows.glsl"
// wino_gemm: the A*A products (16 for F(2x2,3x3), 36 for F(4x4,3x3)) of
// a Winograd convolution,
//   M[xi, t, co] = sum_ci V[xi, t, ci] * U[xi, ci, co],
// register-blocked as conv3x3_cpu.comp: each invocation owns TM tiles x
// 4*TN4 output channels, V and U are read as vec4 texel buffers. The
// invocations of a workgroup share their TM tiles; in the SUBGROUP
// variant (wino_gemm_sg) each fetches a WG-th of the tiles' texels and
// takes the rest from its neighbours (rows.glsl).
// Requires cin and cout to be multiples of 4; with SUBGROUP, see
// rows.glsl.
// Bindings: 0 V [A*A, tcount, cin] (texel buffer), 1 U [A*A, cin, cout]
// (texel buffer), 2 M [A*A, tcount, cout] (writeonly, vec4).
// Push: tcount, cin, cout.
// Spec: 0 workgroup size WG, 1 TM, 2 TN4.
// Dispatch: x = ceil(tcount / TM), y = ceil(cout / (4*TN4*WG)), z = A*A.
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint TM = 16;
layout(constant_id = 2) const uint TN4 = 4;
layout(binding = 0) uniform samplerBuffer vt;
layout(binding = 1) uniform samplerBuffer ut;
layout(std430, binding = 2) writeonly buffer M { vec4 m[]; };
layout(push_constant) uniform Push { uint tcount, cin, cout; } p;

void main() {
    uint cout4 = p.cout / 4u, cin4 = p.cin / 4u;
    uint cg0 = (gl_WorkGroupID.y * gl_WorkGroupSize.x + gl_LocalInvocationID.x) * TN4;
    ROWS_IDLE(cg0 >= cout4) // channel indices are clamped below
    uint xi = gl_WorkGroupID.z;
    uint t0 = gl_WorkGroupID.x * TM;
    uint vrow[ROWS];
    for (uint r = 0u; r < ROWS; r++) {
        vrow[r] = (xi * p.tcount + min(t0 + rowOf(r), p.tcount - 1u)) * cin4;
    }
    vec4 acc[TM][TN4];
    for (uint i = 0u; i < TM; i++) {
        for (uint j = 0u; j < TN4; j++) {
            acc[i][j] = vec4(0.0);
        }
    }
    uint urow = xi * p.cin * cout4;
    for (uint c4 = 0u; c4 < cin4; c4++) {
        vec4 b[4][TN4];
        for (uint q = 0u; q < 4u; q++) {
            for (uint j = 0u; j < TN4; j++) {
                b[q][j] = texelFetch(ut, int(urow + (4u * c4 + q) * cout4 + min(cg0 + j, cout4 - 1u)));
            }
        }
        vec4 mine[ROWS];
        for (uint r = 0u; r < ROWS; r++) {
            mine[r] = texelFetch(vt, int(vrow[r] + c4));
        }
        vec4 a[TM];
        for (uint i = 0u; i < TM; i++) {
            a[i] = rowValue(mine, i);
        }
        // Channels outermost: a channel group's four weight texels stay in
        // registers across the tiles (on lavapipe the accumulators spill
        // either way; this order reloads fewer values: about 5% faster).
        for (uint j = 0u; j < TN4; j++) {
            for (uint i = 0u; i < TM; i++) {
                acc[i][j] = fma(vec4(a[i].x), b[0][j], acc[i][j]);
                acc[i][j] = fma(vec4(a[i].y), b[1][j], acc[i][j]);
                acc[i][j] = fma(vec4(a[i].z), b[2][j], acc[i][j]);
                acc[i][j] = fma(vec4(a[i].w), b[3][j], acc[i][j]);
            }
        }
    }
    ROWS_RETURN_IDLE
    for (uint i = 0u; i < TM; i++) {
        uint t = t0 + i;
        if (t >= p.tcount) {
            break;
        }
        for (uint j = 0u; j < TN4; j++) {
            uint cg = cg0 + j;
            if (cg < cout4) {
                m[(xi * p.tcount + t) * cout4 + cg] = acc[i][j];
            }
        }
    }
}
