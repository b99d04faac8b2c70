// Scalar definitions of the vectorized host-op helpers (sparq_vmath.h) and
// the run-time choice of path. The vector files repeat these operations
// lane by lane; test_layers checks every path against these bit for bit.
#include "sparq_vmath.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "vmath_internal.h"

static float pow2i(int e) // 2^e for e in [-126, 127]
{
    uint32_t bits = (uint32_t)(e + 127) << 23;
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

float sparq_expf(float x)
{
    if (x != x)
        return x + x;
    x = VM_LO > x ? VM_LO : x; // the vector max/min operand order
    x = VM_HI < x ? VM_HI : x;
    float n = rintf(x * VM_LOG2E);
    float r = fmaf(n, -VM_LN2_HI, x);
    r = fmaf(n, -VM_LN2_LO, r);
    float p = VM_P0;
    p = fmaf(p, r, VM_P1);
    p = fmaf(p, r, VM_P2);
    p = fmaf(p, r, VM_P3);
    p = fmaf(p, r, VM_P4);
    p = fmaf(p, r, VM_P5);
    float y = fmaf(p, r * r, r) + 1.0f;
    // 2^n in two steps: n in [-150, 128] does not fit one exponent field.
    int ni = (int)n, n1 = ni >> 1, n2 = ni - n1;
    return y * pow2i(n1) * pow2i(n2);
}

// The 16 interleaved partial sums, reduced as the vector code does: lane i
// takes lane i + h for h = 8, 4, 2, 1.
static float reduce16(float acc[16])
{
    for (int h = 8; h >= 1; h /= 2)
        for (int i = 0; i < h; i++)
            acc[i] += acc[i + h];
    return acc[0];
}

static void vexp_scalar(float *y, const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        y[i] = sparq_expf(x[i]);
}
static void vsigmoid_scalar(float *y, const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        y[i] = 1.0f / (1.0f + sparq_expf(-x[i]));
}
static void vsilu_scalar(float *y, const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        y[i] = x[i] * (1.0f / (1.0f + sparq_expf(-x[i])));
}
static void vglu_scalar(float *y, const float *a, const float *g, size_t n)
{
    for (size_t i = 0; i < n; i++)
        y[i] = a[i] * (1.0f / (1.0f + sparq_expf(-g[i])));
}
static void vsoftmax_scalar(float *x, int n)
{
    float mx = x[0], acc[16] = { 0 };
    for (int i = 1; i < n; i++)
        mx = x[i] > mx ? x[i] : mx;
    for (int i = 0; i < n; i++) {
        x[i] = sparq_expf(x[i] - mx);
        acc[i % 16] += x[i];
    }
    float inv = 1.0f / reduce16(acc);
    for (int i = 0; i < n; i++)
        x[i] *= inv;
}
static void vlayernorm_scalar(float *y, float *mean, float *rstd, const float *x, const float *w, const float *b,
                              int C, float eps)
{
    float acc[16] = { 0 };
    for (int i = 0; i < C; i++)
        acc[i % 16] += x[i];
    float m = reduce16(acc) / (float)C;
    memset(acc, 0, sizeof acc);
    for (int i = 0; i < C; i++)
        acc[i % 16] = fmaf(x[i] - m, x[i] - m, acc[i % 16]);
    float s = 1.0f / sqrtf(reduce16(acc) / (float)C + eps);
    for (int i = 0; i < C; i++)
        y[i] = fmaf((x[i] - m) * s, w[i], b[i]);
    *mean = m;
    *rstd = s;
}

enum { VM_SCALAR, VM_AVX2, VM_AVX512, VM_COUNT };
static const char *const names[VM_COUNT] = { "scalar", "avx2", "avx512" };
static int forced = -1;

static int cpu_has(int p)
{
    switch (p) {
    case VM_SCALAR: return 1;
    case VM_AVX2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case VM_AVX512: // the flags vmath_avx512.c is compiled with (host.mk)
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
    default: return 0;
    }
}

static int path(void)
{
    if (forced >= 0)
        return forced;
    static int best = -1; // computed once; a race writes the same value
    if (best < 0) {
        int p = VM_COUNT - 1;
        while (p > 0 && !cpu_has(p))
            p--;
        best = p;
    }
    return best;
}

const char *sparq_vmath_path(void) { return names[path()]; }

static int by_name(const char *name)
{
    for (int i = 0; name && i < VM_COUNT; i++)
        if (!strcmp(name, names[i]))
            return i;
    return -1;
}

int sparq_vmath_path_supported(const char *name)
{
    int p = by_name(name);
    return p >= 0 && cpu_has(p);
}

int sparq_vmath_set_path(const char *name)
{
    if (!name || !strcmp(name, "auto")) {
        forced = -1;
        return 0;
    }
    int p = by_name(name);
    if (p < 0 || !cpu_has(p))
        return -1;
    forced = p;
    return 0;
}

#define DISPATCH(FN, ...)                     \
    switch (path()) {                         \
    case VM_AVX512: FN##_avx512(__VA_ARGS__); break; \
    case VM_AVX2: FN##_avx2(__VA_ARGS__); break;     \
    default: FN##_scalar(__VA_ARGS__); break;        \
    }

void sparq_vexp(float *y, const float *x, size_t n) { DISPATCH(vexp, y, x, n) }
void sparq_vsigmoid(float *y, const float *x, size_t n) { DISPATCH(vsigmoid, y, x, n) }
void sparq_vsilu(float *y, const float *x, size_t n) { DISPATCH(vsilu, y, x, n) }
void sparq_vglu(float *y, const float *a, const float *g, size_t n) { DISPATCH(vglu, y, a, g, n) }
void sparq_vsoftmax(float *x, int n) { DISPATCH(vsoftmax, x, n) }
void sparq_vlayernorm(float *y, float *mean, float *rstd, const float *x, const float *w, const float *b, int C,
                      float eps)
{
    DISPATCH(vlayernorm, y, mean, rstd, x, w, b, C, eps)
}
