// The body of pool.comp, pool4.comp and pool4t.comp: T is float, or vec4
// for four channels at a time (then c, inBase and outBase count vec4s),
// and S its storage type (store.glsl); with TEXEL the input is a vec4
// texel buffer.
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint FLAGS = 0;
layout(constant_id = 2) const uint KH = 2;
layout(constant_id = 3) const uint KW = 2;
#ifdef TEXEL
layout(binding = 0) uniform samplerBuffer xt;
#define LOAD(i) texelFetch(xt, int(i))
#else
layout(std430, binding = 0) readonly buffer In { S x[]; };
#define LOAD(i) T(x[i])
#endif
layout(std430, binding = 1) writeonly buffer Out { S y[]; };
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
    const bool avg = (FLAGS & 1u) != 0u;
    int y0, y1, x0, x1;
    float count;
    uint base = p.inBase + img * p.h * p.w * p.c + ch;
    T m = T(avg ? 0.0 : uintBitsToFloat(0xff800000u)); // -inf
    if ((FLAGS & 2u) != 0u) {
        y0 = int((oy * p.h) / p.oh);
        y1 = int(((oy + 1u) * p.h + p.oh - 1u) / p.oh);
        x0 = int((ox * p.w) / p.ow);
        x1 = int(((ox + 1u) * p.w + p.ow - 1u) / p.ow);
        count = float((y1 - y0) * (x1 - x0));
        for (int yy = y0; yy < y1; yy++) {
            for (int xx = x0; xx < x1; xx++) {
                T v = LOAD(base + (uint(yy) * p.w + uint(xx)) * p.c);
                m = avg ? m + v : max(m, v);
            }
        }
    } else {
        // A fixed window, unrolled: taps outside the image are skipped.
        y0 = int(oy * p.sh) - p.padT;
        x0 = int(ox * p.sw) - p.padL;
        y1 = y0 + int(KH);
        x1 = x0 + int(KW);
        count = float((min(y1, int(p.h) + p.padB) - y0) * (min(x1, int(p.w) + p.padR) - x0));
        if ((FLAGS & 4u) == 0u) {
            count = float((min(y1, int(p.h)) - max(y0, 0)) * (min(x1, int(p.w)) - max(x0, 0)));
        }
        for (uint ky = 0u; ky < KH; ky++) {
            int yy = y0 + int(ky);
            for (uint kx = 0u; kx < KW; kx++) {
                int xx = x0 + int(kx);
                if (yy >= 0 && yy < int(p.h) && xx >= 0 && xx < int(p.w)) {
                    T v = LOAD(base + (uint(yy) * p.w + uint(xx)) * p.c);
                    m = avg ? m + v : max(m, v);
                }
            }
        }
    }
    y[p.outBase + i] = S(avg ? m / count : m);
}
