#version 450
// fc_cpu: the partial products of fc.comp (same push constants and
// result) for CPU Vulkan devices: x and the weight block are read as vec4
// texel buffers (vectorised gathers on lavapipe, where storage-buffer
// loads go lane by lane), each invocation owning 4*C columns and R rows.
//   part[s, r, m0 + 4*j4 + c] = sum_{k in slice s} x[r, k] * Wblk[k, 4*j4 + c]
// Requires K, mc and the offsets of x and the block to be multiples of 4.
// Bindings: 0 x [rows, K] (texel buffer), 1 Wblk [K, mc] (texel buffer),
//           2 part [slices, rows, M] (writeonly storage buffer).
// Push: rows, K, M, m0, mc, kslice, wBase, xBase (kslice a multiple of 4).
// Spec: 0 workgroup size WG, 1 R (rows per invocation), 2 C (vec4 column
// groups per invocation: each x fetch serves 4*C weight fetches).
// Dispatch: x = ceil(mc / (4*C*WG)), y = slices, z = ceil(rows / R).
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint R = 4;
layout(constant_id = 2) const uint C = 1;
layout(binding = 0) uniform samplerBuffer x;
layout(binding = 1) uniform samplerBuffer w;
layout(std430, binding = 2) writeonly buffer Part { float part[]; };
layout(push_constant) uniform Push { uint rows, K, M, m0, mc, kslice, wBase, xBase; } p;

void main() {
    uint mc4 = p.mc / 4u, K4 = p.K / 4u;
    // Invocation i owns the vec4 columns i, i + G, ..., i + (C-1)*G with
    // G the number of invocations along x, so that neighbouring lanes
    // read neighbouring texels.
    uint G = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
    uint j4 = gl_GlobalInvocationID.x;
    if (j4 >= mc4) {
        return;
    }
    uint s = gl_WorkGroupID.y;
    uint r0 = gl_WorkGroupID.z * R;
    uint k0 = s * p.kslice / 4u;
    uint k1 = min(k0 + p.kslice / 4u, K4);
    vec4 acc[R][C];
    uint xrow[R];
    for (uint r = 0u; r < R; r++) {
        for (uint c = 0u; c < C; c++) {
            acc[r][c] = vec4(0.0);
        }
        xrow[r] = p.xBase / 4u + min(r0 + r, p.rows - 1u) * K4;
    }
    uint col[C];
    for (uint c = 0u; c < C; c++) {
        col[c] = min(j4 + c * G, mc4 - 1u); // past the end: read a valid column, write nothing
    }
    uint wi = p.wBase / 4u + 4u * k0 * mc4;
    for (uint k4 = k0; k4 < k1; k4++) {
        vec4 wv[C][4];
        for (uint c = 0u; c < C; c++) {
            wv[c][0] = texelFetch(w, int(wi + col[c]));
            wv[c][1] = texelFetch(w, int(wi + mc4 + col[c]));
            wv[c][2] = texelFetch(w, int(wi + 2u * mc4 + col[c]));
            wv[c][3] = texelFetch(w, int(wi + 3u * mc4 + col[c]));
        }
        wi += 4u * mc4;
        for (uint r = 0u; r < R; r++) {
            vec4 xv = texelFetch(x, int(xrow[r] + k4));
            for (uint c = 0u; c < C; c++) {
                acc[r][c] = fma(vec4(xv.x), wv[c][0], acc[r][c]);
                acc[r][c] = fma(vec4(xv.y), wv[c][1], acc[r][c]);
                acc[r][c] = fma(vec4(xv.z), wv[c][2], acc[r][c]);
                acc[r][c] = fma(vec4(xv.w), wv[c][3], acc[r][c]);
            }
        }
    }
    for (uint r = 0u; r < R; r++) {
        if (r0 + r < p.rows) {
            for (uint c = 0u; c < C; c++) {
                uint jc = j4 + c * G;
                if (jc < mc4) {
                    uint o = (s * p.rows + r0 + r) * p.M + p.m0 + 4u * jc;
                    part[o] = acc[r][c].x;
                    part[o + 1u] = acc[r][c].y;
                    part[o + 2u] = acc[r][c].z;
                    part[o + 3u] = acc[r][c].w;
                }
            }
        }
    }
}
