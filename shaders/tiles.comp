#version 450
#include "store.glsl"
// tiles: draws a picture into a canvas of 32-bit pixels: the photo
// (RGBA8 words, red in the low byte) scaled into a rectangle, and a grid
// of `count` channels of one image of an NHWC map from channel `first`,
// each stretched from its own minimum to its maximum (chanrange) over the
// viridis colour map, in tiles of tileW x tileH one pixel apart (map
// pixels by nearest neighbour), from grid origin (gridX, gridY). The rest
// is the background. Pixels are written RGBA, or BGRA when bgra is 1 (the
// swapchain's byte order), with alpha 255.
// Bindings: 0 photo [srcH, srcW] words (readonly), 1 map from element
// base (readonly), 2 ranges [count, 2] (readonly), 3 canvas [H, W] words
// (writeonly).
// Push: canvasW, canvasH, bgra, photoX, photoY, photoW, photoH, srcW,
// srcH, gridX, gridY, cols, count, tileW, tileH, mapH, mapW, c, first,
// base, highlight (a tile drawn with a white frame; >= count for none).
// Dispatch: ceil(canvasW / 16) x ceil(canvasH / 16) workgroups.
layout(local_size_x = 16, local_size_y = 16) in;
layout(std430, binding = 0) readonly buffer Photo { uint px[]; };
layout(std430, binding = 1) readonly buffer Map { sfloat m[]; };
layout(std430, binding = 2) readonly buffer Ranges { float r[]; };
layout(std430, binding = 3) writeonly buffer Canvas { uint out_[]; };
layout(push_constant) uniform Push {
    uint canvasW, canvasH, bgra;
    int photoX, photoY, photoW, photoH;
    uint srcW, srcH;
    int gridX, gridY;
    uint cols, count, tileW, tileH, mapH, mapW, c, first, base, highlight;
} p;

// The points of matplotlib's viridis colour map (as package viz).
const vec3 viridis[10] = vec3[10](
    vec3(68, 1, 84), vec3(72, 40, 120), vec3(62, 74, 137), vec3(49, 104, 142), vec3(38, 130, 142),
    vec3(31, 158, 137), vec3(53, 183, 121), vec3(109, 205, 89), vec3(180, 222, 44), vec3(253, 231, 37));

vec3 colour(float t) {
    t = clamp(t, 0.0, 1.0);
    float f = t * 9.0;
    int i = min(int(f), 8);
    float u = f - float(i);
    return viridis[i] * (1.0 - u) + viridis[i + 1] * u;
}

void main() {
    uint x = gl_GlobalInvocationID.x;
    uint y = gl_GlobalInvocationID.y;
    if (x >= p.canvasW || y >= p.canvasH) {
        return;
    }
    vec3 col = vec3(30.0);
    int px0 = int(x) - p.photoX;
    int py0 = int(y) - p.photoY;
    int gx = int(x) - p.gridX;
    int gy = int(y) - p.gridY;
    if (px0 >= 0 && py0 >= 0 && px0 < p.photoW && py0 < p.photoH) {
        uint sx = uint(px0) * p.srcW / uint(p.photoW);
        uint sy = uint(py0) * p.srcH / uint(p.photoH);
        uint v = px[sy * p.srcW + sx];
        col = vec3(float(v & 255u), float((v >> 8u) & 255u), float((v >> 16u) & 255u));
    } else if (gx >= 0 && gy >= 0) {
        uint tx = uint(gx) / (p.tileW + 1u);
        uint ty = uint(gy) / (p.tileH + 1u);
        uint ix = uint(gx) % (p.tileW + 1u);
        uint iy = uint(gy) % (p.tileH + 1u);
        uint i = ty * p.cols + tx;
        if (tx < p.cols && i < p.count) {
            if (ix < p.tileW && iy < p.tileH) {
                uint mx = ix * p.mapW / p.tileW;
                uint my = iy * p.mapH / p.tileH;
                float v = float(m[p.base + (my * p.mapW + mx) * p.c + p.first + i]);
                float lo = r[2u * i];
                float hi = r[2u * i + 1u];
                col = colour(hi > lo ? (v - lo) / (hi - lo) : 0.0);
            } else if (i == p.highlight) {
                col = vec3(255.0);
            }
        }
    }
    uvec3 c8 = uvec3(round(col));
    uint w = p.bgra == 1u ? (c8.b | (c8.g << 8u) | (c8.r << 16u)) : (c8.r | (c8.g << 8u) | (c8.b << 16u));
    out_[y * p.canvasW + x] = w | (255u << 24u);
}
