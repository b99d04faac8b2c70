// Activation quantization and result read-out around the integer GEMM
// (sparq_gemm_act.h): the scalar definitions, and the run-time choice of a
// vector version (the GEMM's path), which gives the same bits.
#include "sparq_gemm_act.h"

#include <math.h>
#include <stdlib.h>
#include <omp.h>

#include "gemm_act_internal.h"
#include "gemm_fast_internal.h"

static float act_maxabs_scalar(const float *x, int n)
{
    float maxabs = 0.0f;
    for (int k = 0; k < n; k++)
        maxabs = fmaxf(maxabs, fabsf(x[k]));
    return maxabs;
}

static float act_scale_scalar(const float *x, int n)
{
    const float maxabs = act_maxabs_scalar(x, n);
    return maxabs > 0.0f ? maxabs / 127.0f : 1.0f;
}

static void act_quantize_scalar(int8_t *q, const float *x, int n, float s)
{
    for (int k = 0; k < n; k++) {
        float c = rintf(x[k] / s);
        q[k] = (int8_t)(c != c ? 0 : c > 127.0f ? 127 : c < -127.0f ? -127 : (int)c);
    }
}

// relu_forward's definition: NaN and -0 give +0.
static inline float relu1(float v, int relu)
{
    return relu && !(v > 0.0f) ? 0.0f : v;
}

static void readout_i32_scalar(float *y, int ldy, const int32_t *acc, int ldacc, const float *rs, const float *cs,
                               const float *bias, int rows, int cols, int relu)
{
    for (int t = 0; t < rows; t++)
        for (int o = 0; o < cols; o++)
            y[(size_t)t * ldy + o] =
                relu1((float)acc[(size_t)t * ldacc + o] * (rs[t] * cs[o]) + (bias ? bias[o] : 0.0f), relu);
}

static void readout_q8_scalar(float *y, int ldy, const int8_t *q, int ldq, const float *rs, const float *cs,
                              const float *bias, int rows, int cols, int relu)
{
    for (int t = 0; t < rows; t++)
        for (int o = 0; o < cols; o++)
            y[(size_t)t * ldy + o] =
                relu1((float)q[(size_t)t * ldq + o] * (rs[t] * cs[o]) + (bias ? bias[o] : 0.0f), relu);
}

// Elements below which a stage stays on the calling thread (a parallel
// region costs a few microseconds; the subsampling convs call from inside
// one, where a nested region runs on one thread anyway).
#define PARALLEL_MIN 65536.0

// Rows [t0, t0 + n) of a (rows, cols) stage, for the row-parallel wrappers.
#define ROW_SPLIT(rows, cols, BODY)                                                                        \
    _Pragma("omp parallel if ((double)(rows) * (cols) >= PARALLEL_MIN)")                                    \
    {                                                                                                       \
        int nth_ = omp_get_num_threads(), id_ = omp_get_thread_num();                                       \
        int t0 = (int)((long long)(rows) * id_ / nth_), n = (int)((long long)(rows) * (id_ + 1) / nth_) - t0; \
        if (n > 0) {                                                                                        \
            BODY;                                                                                           \
        }                                                                                                   \
    }

// A bad SPARQ_GEMM_PATH makes the GEMM fail; these stages cannot fail, so
// they fall back to scalar code.
static int path(void)
{
    int p = fast_path_now();
    return p < 0 ? FAST_PATH_SCALAR : p;
}

float sparq_act_scale(const float *x, int n)
{
    switch (path()) {
    case FAST_PATH_AVX512VNNI: return act_scale_avx512(x, n);
    case FAST_PATH_AVX2: return act_scale_avx2(x, n);
    default: return act_scale_scalar(x, n);
    }
}

void sparq_act_quantize(int8_t *q, const float *x, int n, float s)
{
    const int p = path();
    void (*f)(int8_t *, const float *, int, float) = p == FAST_PATH_AVX512VNNI ? act_quantize_avx512
                                                     : p == FAST_PATH_AVX2     ? act_quantize_avx2
                                                                               : act_quantize_scalar;
    // Element by element, so any split gives the same codes: the FFN chain
    // quantizes a whole (N, d) batch here, split in blocks of 64 (whole
    // vectors) across the threads.
    const long long blocks = (n + 63) / 64;
#pragma omp parallel if (n >= PARALLEL_MIN)
    {
        const int nth = omp_get_num_threads(), id = omp_get_thread_num();
        const long long e0 = blocks * id / nth * 64, e1 = blocks * (id + 1) / nth * 64;
        if (e0 < n)
            f(q + e0, x + e0, (int)((e1 < n ? e1 : n) - e0), s);
    }
}

void sparq_act_quantize_rows(int8_t *q, int ldq, float *scales, const float *x, int ldx, int rows, int n)
{
    const int p = path(); // once per call, not per row
    float (*scale)(const float *, int) = p == FAST_PATH_AVX512VNNI ? act_scale_avx512
                                         : p == FAST_PATH_AVX2     ? act_scale_avx2
                                                                   : act_scale_scalar;
    // Each row at its own scale: the AVX-512 quantizer's shorter form.
    void (*quantize)(int8_t *, const float *, int, float) = p == FAST_PATH_AVX512VNNI ? act_quantize_rowmax_avx512
                                                            : p == FAST_PATH_AVX2     ? act_quantize_avx2
                                                                                      : act_quantize_scalar;
#pragma omp parallel for schedule(static) if ((double)rows * n >= PARALLEL_MIN)
    for (int t = 0; t < rows; t++) {
        const float *xr = x + (size_t)t * ldx;
        scales[t] = scale(xr, n);
        quantize(q + (size_t)t * ldq, xr, n, scales[t]);
    }
}

// Rows [r0, r0 + rows) of the 3x3 stride-2 im2col matrix read where they lie in
// inp: row t * Fout + f is the three runs of 3 * Cin floats at input rows
// 2t, 2t + 1, 2t + 2, column 2f. The row's max is the max of the runs' maxima
// (exact), and each run is quantized in place of its copy, so the codes and
// scales are those of im2col + sparq_act_quantize_rows without the float copy.
void sparq_act_quantize_conv_s2(int8_t *q, int ldq, float *scales, const float *inp, int Fin, int Cin, int r0, int rows)
{
    const int p = path();
    float (*maxabs)(const float *, int) = p == FAST_PATH_AVX512VNNI ? act_maxabs_avx512
                                          : p == FAST_PATH_AVX2     ? act_maxabs_avx2
                                                                    : act_maxabs_scalar;
    // Each row at its own scale: the AVX-512 quantizer's shorter form.
    void (*quantize)(int8_t *, const float *, int, float) = p == FAST_PATH_AVX512VNNI ? act_quantize_rowmax_avx512
                                                            : p == FAST_PATH_AVX2     ? act_quantize_avx2
                                                                                      : act_quantize_scalar;
    const int Fout = (Fin - 1) / 2, run = 3 * Cin, n = 9 * Cin;
    // Short runs (the one-channel conv: 3 floats) cost a call each: copy the
    // row into a stack buffer and treat it whole.
    enum { GATHER_MAX = 48 };
    const int gather = n <= GATHER_MAX;
    // Longer rows: the max |x| of each input position (Cin values) once, so
    // a row's max reads 9 of them instead of its 9 * Cin values (the rows
    // overlap: each position serves up to 4 rows).
    const int in0 = 2 * (r0 / Fout), nin = rows > 0 ? 2 * ((r0 + rows - 1) / Fout) + 3 - in0 : 0;
    float *pm = gather || rows <= 0 ? NULL : malloc(sizeof(float) * (size_t)nin * Fin);
#pragma omp parallel for schedule(static) if (pm && (double)nin * Fin * Cin >= PARALLEL_MIN)
    for (int k = 0; k < (pm ? nin * Fin : 0); k++)
        pm[k] = maxabs(inp + ((size_t)in0 * Fin + k) * Cin, Cin);
#pragma omp parallel for schedule(static) if ((double)rows * n >= PARALLEL_MIN)
    for (int i = 0; i < rows; i++) {
        const int r = r0 + i, t = r / Fout, f = r - t * Fout;
        const float *src = inp + ((size_t)2 * t * Fin + 2 * (size_t)f) * Cin;
        int8_t *qr = q + (size_t)i * ldq;
        if (gather) {
            float g[GATHER_MAX];
            if (Cin == 1) // the first conv, unrolled
                for (int kh = 0; kh < 3; kh++) {
                    g[3 * kh] = src[(size_t)kh * Fin];
                    g[3 * kh + 1] = src[(size_t)kh * Fin + 1];
                    g[3 * kh + 2] = src[(size_t)kh * Fin + 2];
                }
            else
                for (int kh = 0; kh < 3; kh++)
                    for (int j = 0; j < run; j++)
                        g[kh * run + j] = src[(size_t)kh * Fin * Cin + j];
            const float m = maxabs(g, n);
            scales[i] = m > 0.0f ? m / 127.0f : 1.0f;
            quantize(qr, g, n, scales[i]);
            continue;
        }
        float m = 0.0f;
        if (pm) // the 9 positions' maxima
            for (int kh = 0; kh < 3; kh++)
                for (int kw = 0; kw < 3; kw++)
                    m = fmaxf(m, pm[(size_t)(2 * t + kh - in0) * Fin + 2 * f + kw]);
        else
            for (int kh = 0; kh < 3; kh++)
                m = fmaxf(m, maxabs(src + (size_t)kh * Fin * Cin, run));
        scales[i] = m > 0.0f ? m / 127.0f : 1.0f;
        for (int kh = 0; kh < 3; kh++)
            quantize(qr + kh * run, src + (size_t)kh * Fin * Cin, run, scales[i]);
    }
    free(pm);
}

typedef void (*readout_i32_fn)(float *, int, const int32_t *, int, const float *, const float *, const float *, int,
                               int, int);
typedef void (*readout_q8_fn)(float *, int, const int8_t *, int, const float *, const float *, const float *, int, int,
                              int);

static void readout_i32(float *y, int ldy, const int32_t *acc, int ldacc, const float *rs, const float *cs,
                        const float *bias, int rows, int cols, int relu)
{
    const int p = path();
    readout_i32_fn f = p == FAST_PATH_AVX512VNNI ? readout_i32_avx512
                       : p == FAST_PATH_AVX2     ? readout_i32_avx2
                                                 : readout_i32_scalar;
    ROW_SPLIT(rows, cols,
              f(y + (size_t)t0 * ldy, ldy, acc + (size_t)t0 * ldacc, ldacc, rs + t0, cs, bias, n, cols, relu))
}

static void readout_q8(float *y, int ldy, const int8_t *q, int ldq, const float *rs, const float *cs, const float *bias,
                       int rows, int cols, int relu)
{
    const int p = path();
    readout_q8_fn f = p == FAST_PATH_AVX512VNNI ? readout_q8_avx512
                      : p == FAST_PATH_AVX2     ? readout_q8_avx2
                                                : readout_q8_scalar;
    ROW_SPLIT(rows, cols, f(y + (size_t)t0 * ldy, ldy, q + (size_t)t0 * ldq, ldq, rs + t0, cs, bias, n, cols, relu))
}

void sparq_gemm_readout_i32(float *y, int ldy, const int32_t *acc, int ldacc, const float *rs, const float *cs,
                            const float *bias, int rows, int cols)
{
    readout_i32(y, ldy, acc, ldacc, rs, cs, bias, rows, cols, 0);
}

void sparq_gemm_readout_q8(float *y, int ldy, const int8_t *q, int ldq, const float *rs, const float *cs,
                           const float *bias, int rows, int cols)
{
    readout_q8(y, ldy, q, ldq, rs, cs, bias, rows, cols, 0);
}

void sparq_gemm_readout_i32_relu(float *y, int ldy, const int32_t *acc, int ldacc, const float *rs, const float *cs,
                                 const float *bias, int rows, int cols)
{
    readout_i32(y, ldy, acc, ldacc, rs, cs, bias, rows, cols, 1);
}

void sparq_gemm_readout_q8_relu(float *y, int ldy, const int8_t *q, int ldq, const float *rs, const float *cs,
                                const float *bias, int rows, int cols)
{
    readout_q8(y, ldy, q, ldq, rs, cs, bias, rows, cols, 1);
}

void sparq_requant_rows(int8_t *y8, int ldy8, const int32_t *acc, int ldacc, const struct sparq_requant_params *p,
                        int rows, int cols)
{
    const int pth = path();
    void (*f)(int8_t *, int, const int32_t *, int, const struct sparq_requant_params *, int, int) =
        pth == FAST_PATH_AVX512VNNI ? requant_rows_avx512
        : pth == FAST_PATH_AVX2     ? requant_rows_avx2
                                    : sparq_requant_ref;
    ROW_SPLIT(rows, cols, f(y8 + (size_t)t0 * ldy8, ldy8, acc + (size_t)t0 * ldacc, ldacc, p, n, cols))
}

void lut_bytes_scalar(int8_t *h, size_t n, const int8_t *lut)
{
    for (size_t e = 0; e < n; e++)
        h[e] = lut[h[e] + 128];
}

void sparq_lut_bytes(int8_t *h, size_t n, const int8_t lut[256])
{
    if (path() == FAST_PATH_AVX512VNNI && __builtin_cpu_supports("avx512vbmi"))
        lut_bytes_avx512(h, n, lut);
    else
        lut_bytes_scalar(h, n, lut);
}
