// rows.glsl: rows of A shared by the invocations of a register-blocked
// kernel's workgroup. In kernels such as wino_gemm and conv_cpu, every
// invocation of a workgroup owns the same TM rows (pixels, tiles) and
// its own output channels, so each fetches the same TM texels of A per
// step. Compiled with SUBGROUP (the _sg variants, for devices with
// subgroup shuffles), invocation l fetches only rows l, l + WG, ... and
// takes row i from invocation i % WG by subgroupShuffle: on SIMD CPUs
// (lavapipe), where a texel fetch is a gather, a shuffle is a register
// permute. That needs every invocation at every shuffle, so those past
// the last output channel stay to the end (ROWS_IDLE), WG to divide TM,
// and the workgroup to be one subgroup numbered 0 ... WG-1. The host
// checks the first and that WG fits in a subgroup; Vulkan does not
// promise the rest, so it takes these variants on CPU devices only,
// which run such a workgroup as one SIMD vector.
//
// Use: #include after #version (it may enable an extension), declare TM
// before main, then
//   ROWS_IDLE(cond)              where an invocation without output may stop
//   T rowdata[ROWS]; for r < ROWS: rowdata[r] = fetch of row rowOf(r)
//   for i < TM: value of row i = rowValue(rowdata, i)
//   ROWS_RETURN_IDLE             before the stores
#ifdef SUBGROUP
#extension GL_KHR_shader_subgroup_shuffle : require
#define ROWS (TM / gl_WorkGroupSize.x)
#define rowOf(r) ((r) * gl_WorkGroupSize.x + gl_SubgroupInvocationID)
#define rowValue(mine, i) subgroupShuffle(mine[(i) / gl_WorkGroupSize.x], (i) % gl_WorkGroupSize.x)
#define ROWS_IDLE(cond) bool rowsIdle = (cond);
#define ROWS_RETURN_IDLE if (rowsIdle) { return; }
#else
#define ROWS TM
#define rowOf(r) (r)
#define rowValue(mine, i) mine[i]
#define ROWS_IDLE(cond) if (cond) { return; }
#define ROWS_RETURN_IDLE
#endif
