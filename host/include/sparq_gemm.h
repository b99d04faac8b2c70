// sparq-layer: pack
// Integer GEMM on packed N:M weights and the one requantization formula.
//   Y[t][o] = sum_k X[t][k] * Wcode[o][k]      int8 x int-w -> exact int32
#ifndef SPARQ_GEMM_H
#define SPARQ_GEMM_H

#include <stdint.h>

#include "sparq_format.h"

// Reference GEMM: plain C, the golden model for the RTL and fast kernels.
// x: (t, x_stride) int8 with x_stride >= w->in; y: (t, y_stride) int32,
// y_stride >= w->out. accumulate != 0 adds into y, else overwrites.
void sparq_gemm_ref(int32_t *y, int y_stride, const int8_t *x, int x_stride,
                    const struct sparq_packed *w, int t, int accumulate);

// Requantization of one int32 accumulator to int8 (docs/format.md §5):
//   v = (int32)(acc + bias)                 (two's-complement wrap)
//   p = (int64)v * mult                     (mult in [0, 2^31))
//   r = shift > 0 ? (p + 2^(shift-1)) >> shift : p   (arithmetic shift)
//   y = clamp(r, -128, 127)
// i.e. round half up (toward +inf) of v * mult / 2^shift. shift in [0, 62].
static inline int8_t sparq_requant(int32_t acc, int32_t bias, int32_t mult, int shift)
{
    int32_t v = (int32_t)((uint32_t)acc + (uint32_t)bias);
    int64_t p = (int64_t)v * (int64_t)mult;
    int64_t r = shift > 0 ? (p + ((int64_t)1 << (shift - 1))) >> shift : p;
    return (int8_t)(r < -128 ? -128 : r > 127 ? 127 : r);
}

// Per-channel requantization parameters.
struct sparq_requant_params {
    int32_t bias;  // added to the accumulator first
    int32_t mult;  // [0, 2^31)
    int8_t shift;  // [0, 62]
};

// Converts a positive real scale into mult * 2^-shift with mult in
// [2^30, 2^31) where possible (relative error below 2^-30). Returns
// SPARQ_EINVAL if scale is not finite and positive or is out of range.
int sparq_requant_from_scale(double scale, int32_t *mult, int *shift);

// Requantizes a (t, out) int32 matrix to int8 with per-channel params.
void sparq_requant_ref(int8_t *y8, int y8_stride, const int32_t *acc, int acc_stride,
                       const struct sparq_requant_params *params, int t, int out);

// Fast CPU kernel. The weights are first prepared (repacked once into the
// kernel's own layout); the GEMM then runs as often as needed on them.
struct sparq_gemm_prepared;
int sparq_gemm_prepare(struct sparq_gemm_prepared **dst, const struct sparq_packed *w);
void sparq_gemm_prepared_free(struct sparq_gemm_prepared *p);
// Same contract as sparq_gemm_ref. Bit-exact with it.
int sparq_gemm_fast(int32_t *y, int y_stride, const int8_t *x, int x_stride,
                    const struct sparq_gemm_prepared *w, int t, int accumulate);
// The GEMM with the device's read-out fused in: y8[r][o] =
// sparq_requant(sum, rq[o]) of the sums sparq_gemm_fast would give (not
// accumulated), then, if lut is not NULL, lut[code + 128] (the FFN chain's
// table). On avx512vnni each tile requantizes its sums in registers, so the
// int32 sums never reach memory; other paths run blocks of rows through
// sparq_gemm_fast, sparq_requant_rows and sparq_lut_bytes. Bit-exact with
// sparq_gemm_ref + sparq_requant_ref (+ the table).
int sparq_gemm_fast_requant(int8_t *y8, int ldy8, const int8_t *x, int x_stride, const struct sparq_gemm_prepared *w,
                            int t, const struct sparq_requant_params *rq, const int8_t *lut);
// Kernel paths: "scalar" (portable C), "avx2", "avx512vnni" (AVX-512 VNNI
// vpdpbusd). sparq_gemm_fast runs the fastest this CPU has, unless the
// environment variable SPARQ_GEMM_PATH (read at every call) or
// sparq_gemm_set_path() names another; a bad SPARQ_GEMM_PATH makes
// sparq_gemm_fast fail with a message naming it.
// Name of the path sparq_gemm_fast runs now ("invalid" for a bad variable).
const char *sparq_gemm_fast_kernel(void);
// 1 if `name` is a path this CPU can run.
int sparq_gemm_path_supported(const char *name);
// Forces a path (over SPARQ_GEMM_PATH); NULL or "auto" restores the automatic
// choice. SPARQ_EINVAL for an unknown name or a path the CPU lacks.
int sparq_gemm_set_path(const char *name);
// Forces the scalar path (for tests of the fallback); 0 restores auto.
void sparq_gemm_force_portable(int on);
// Turns off the u8 (vpmaddubsw) path for int4/int2 so the int16 path runs
// (for tests and A/B timing); 0 restores it.
void sparq_gemm_disable_narrow(int on);
// Turns off (1) the vpermb selection of the avx512vnni path's sparse kernels
// (AVX-512 VBMI) so the vpshufb one runs, for tests and A/B timing; 0 restores
// it. No effect on a CPU without VBMI (vpshufb always).
void sparq_gemm_disable_vbmi(int on);
// Microbenchmark of the avx512vnni kernels' inner instruction sequences
// (`sparq bench-gemm --micro`): rows of (what, unit, core cycles per unit),
// the clock from a chain of dependent adds in *ghz. Returns the number of
// rows (at most max; 0 if max is too small or the CPU lacks AVX-512 VNNI and
// VBMI). Takes about 0.1 s.
struct sparq_gemm_micro_row {
    const char *name, *unit;
    double cycles;
};
#define SPARQ_GEMM_MICRO_ROWS 24
int sparq_gemm_micro(struct sparq_gemm_micro_row *rows, int max, double *ghz);
// Turns on (1) or off (0, the default) the experimental 2:4 kernel of the
// avx512vnni path with frames as the vector dimension (calls with >= 32 rows;
// slower than the default shuffle kernel on the machines measured,
// docs/kernel.md). SPARQ_EINVAL if the CPU lacks AVX-512 VBMI.
int sparq_gemm_frame24(int on);

#endif
