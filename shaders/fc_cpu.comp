#version 450
// fc_cpu: the partial products of fc.comp (same push constants and
// result) for CPU Vulkan devices: x and the weight block are read as vec4
// texel buffers (vectorised gathers on lavapipe, where storage-buffer
// loads go lane by lane), each invocation owning 4 columns and R rows.
//   part[s, r, m0 + 4*j4 + c] = sum_{k in slice s} x[r, k] * Wblk[k, 4*j4 + c]
// Requires K, mc and the offsets of x and the block to be multiples of 4.
// Bindings: 0 x [rows, K] (texel buffer), 1 Wblk [K, mc] (texel buffer),
//           2 part [slices, rows, M] (writeonly storage buffer).
// Push: rows, K, M, m0, mc, kslice, wBase, xBase (kslice a multiple of 4).
// Spec: 0 workgroup size WG, 1 R (rows per invocation).
// Dispatch: x = ceil(mc / (4*WG)), y = slices, z = ceil(rows / R).
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint R = 4;
layout(binding = 0) uniform samplerBuffer x;
layout(binding = 1) uniform samplerBuffer w;
layout(std430, binding = 2) writeonly buffer Part { float part[]; };
layout(push_constant) uniform Push { uint rows, K, M, m0, mc, kslice, wBase, xBase; } p;

void main() {
    uint j4 = gl_GlobalInvocationID.x;
    uint mc4 = p.mc / 4u, K4 = p.K / 4u;
    if (j4 >= mc4) {
        return;
    }
    uint s = gl_WorkGroupID.y;
    uint r0 = gl_WorkGroupID.z * R;
    uint k0 = s * p.kslice / 4u;
    uint k1 = min(k0 + p.kslice / 4u, K4);
    vec4 acc[R];
    uint xrow[R];
    for (uint r = 0u; r < R; r++) {
        acc[r] = vec4(0.0);
        xrow[r] = p.xBase / 4u + min(r0 + r, p.rows - 1u) * K4;
    }
    uint wi = p.wBase / 4u + 4u * k0 * mc4 + j4;
    for (uint k4 = k0; k4 < k1; k4++) {
        vec4 w0 = texelFetch(w, int(wi));
        vec4 w1 = texelFetch(w, int(wi + mc4));
        vec4 w2 = texelFetch(w, int(wi + 2u * mc4));
        vec4 w3 = texelFetch(w, int(wi + 3u * mc4));
        wi += 4u * mc4;
        for (uint r = 0u; r < R; r++) {
            vec4 xv = texelFetch(x, int(xrow[r] + k4));
            acc[r] = fma(vec4(xv.x), w0, acc[r]);
            acc[r] = fma(vec4(xv.y), w1, acc[r]);
            acc[r] = fma(vec4(xv.z), w2, acc[r]);
            acc[r] = fma(vec4(xv.w), w3, acc[r]);
        }
    }
    for (uint r = 0u; r < R; r++) {
        if (r0 + r < p.rows) {
            uint o = (s * p.rows + r0 + r) * p.M + p.m0 + 4u * j4;
            part[o] = acc[r].x;
            part[o + 1u] = acc[r].y;
            part[o + 2u] = acc[r].z;
            part[o + 3u] = acc[r].w;
        }
    }
}
