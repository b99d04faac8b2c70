// The GEMM's input and output stages (sparq_gemm_act.h) on every path the
// CPU has, against definitions written out here: row scale, codes (round half
// to even written with floor, float division), the i32 and q8 read-outs, and
// the vectorized requantization against sparq_requant. Bit for bit, on
// ragged lengths, strides, half-integer quotients, NaN, infinities, zeros.
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "gemm_act_check.h"
#include "sparq_gemm.h"
#include "sparq_gemm_act.h"
#include "sparq_rng.h"

static uint64_t rng_state;
static uint32_t rnd(void) { return (uint32_t)(sparq_rng_next(&rng_state) >> 32); }
static float rndf(void) { return (float)(rnd() >> 8) / (float)(1 << 24) * 2.0f - 1.0f; }

static float want_scale(const float *x, int n)
{
    float m = 0.0f;
    for (int k = 0; k < n; k++)
        if (!isnan(x[k]) && fabsf(x[k]) > m)
            m = fabsf(x[k]);
    return m > 0.0f ? m / 127.0f : 1.0f;
}

static int8_t want_code(float x, float s)
{
    float v = x / s; // float division
    if (isnan(v))
        return 0;
    if (v >= 127.0f)
        return 127;
    if (v <= -127.0f)
        return -127;
    double f = floor((double)v), d = (double)v - f;
    double r = d > 0.5 ? f + 1 : d < 0.5 ? f : (fmod(f, 2.0) == 0.0 ? f : f + 1);
    return (int8_t)(r > 127 ? 127 : r < -127 ? -127 : r);
}

// A row of kind 0..5: random, half-integer quotients at s = 1 (max 127),
// quotients a few ulps around half-integers at a random scale, with NaN and
// infinities, all zero, tiny (subnormal) values.
static void make_row(float *x, int n, int kind)
{
    float s = 0.01f + (float)(rnd() % 1000) / 97.0f;
    for (int k = 0; k < n; k++) {
        int j = (int)(rnd() % 254) - 127;
        switch (kind) {
        case 0: x[k] = rndf() * (float)(1 << (rnd() % 8)); break;
        case 1: x[k] = k == 0 ? 127.0f : (float)j + (j < 0 ? -0.5f : 0.5f); break;
        case 2: {
            float v = ((float)j + 0.5f) * s;
            for (int u = (int)(rnd() % 5) - 2; u != 0; u += u > 0 ? -1 : 1)
                v = nextafterf(v, u > 0 ? INFINITY : -INFINITY);
            x[k] = v;
            break;
        }
        case 3: x[k] = k % 7 == 3 ? NAN : k % 11 == 5 ? (k % 2 ? INFINITY : -INFINITY) : rndf(); break;
        case 4: x[k] = (k % 3) ? 0.0f : -0.0f; break;
        default: x[k] = rndf() * 1e-40f; break;
        }
    }
    if (kind == 2 && n > 0)
        x[0] = 127.0f * s; // the row's max: scale s (up to the rounding of the division)
}

static void test_quantize(void)
{
    int bad_scale[NPATHS] = { 0 }, bad_codes[NPATHS] = { 0 }, bad_rows[NPATHS] = { 0 }, rows_total = 0;
    for (int iter = 0; iter < 600; iter++) {
        int n = 1 + (int)(rnd() % (iter % 10 == 0 ? 1400 : 200)), kind = iter % 6;
        float *x = malloc(sizeof(float) * n);
        int8_t *want = malloc(n), *got = malloc(n);
        make_row(x, n, kind);
        float s = want_scale(x, n);
        for (int k = 0; k < n; k++)
            want[k] = want_code(x[k], s);
        for (int p = 0; p < NPATHS; p++) {
            if (sparq_gemm_set_path(paths[p]))
                continue;
            float gs = sparq_act_scale(x, n);
            bad_scale[p] += memcmp(&gs, &s, sizeof s) != 0;
            memset(got, 0x55, n);
            sparq_act_quantize(got, x, n, s);
            bad_codes[p] += memcmp(got, want, n) != 0;
        }
        rows_total++;
        free(x);
        free(want);
        free(got);
    }
    // Several rows at once, with strides wider than the rows.
    for (int iter = 0; iter < 60; iter++) {
        // The first is big enough to be split across threads (PARALLEL_MIN).
        int rows = iter ? 1 + (int)(rnd() % 40) : 701, n = iter ? 1 + (int)(rnd() % 300) : 297;
        int ldx = n + (int)(rnd() % 5), ldq = n + (int)(rnd() % 5);
        float *x = malloc(sizeof(float) * rows * ldx), *ws = malloc(sizeof(float) * rows);
        float *gs = malloc(sizeof(float) * rows);
        int8_t *want = malloc((size_t)rows * ldq), *got = malloc((size_t)rows * ldq);
        for (int t = 0; t < rows; t++) {
            make_row(x + (size_t)t * ldx, ldx, (int)(rnd() % 6));
            ws[t] = want_scale(x + (size_t)t * ldx, n);
            for (int k = 0; k < ldq; k++)
                want[(size_t)t * ldq + k] = k < n ? want_code(x[(size_t)t * ldx + k], ws[t]) : 0x33;
        }
        for (int p = 0; p < NPATHS; p++) {
            if (sparq_gemm_set_path(paths[p]))
                continue;
            memset(got, 0x33, (size_t)rows * ldq);
            sparq_act_quantize_rows(got, ldq, gs, x, ldx, rows, n);
            bad_rows[p] += !rows_equal(got, gs, want, ws, rows, ldq);
        }
        free(x);
        free(ws);
        free(gs);
        free(want);
        free(got);
    }
    sparq_gemm_set_path(NULL);
    for (int p = 0; p < NPATHS; p++) {
        if (path_skipped(p, "activation quantizer"))
            continue;
        CHECK(!bad_scale[p], "%s: row scale max|x|/127 on %d rows (NaN ignored, zero row -> 1): %d wrong", paths[p],
              rows_total, bad_scale[p]);
        CHECK(!bad_codes[p], "%s: codes rint(x/s) clamped, half to even, NaN -> 0, on %d rows: %d wrong", paths[p],
              rows_total, bad_codes[p]);
        CHECK(!bad_rows[p], "%s: quantize_rows with strides (60 matrices): %d wrong, padding untouched", paths[p],
              bad_rows[p]);
    }
}

static void test_readout(void)
{
    int bad_i32[NPATHS] = { 0 }, bad_q8[NPATHS] = { 0 }, bad_rq[NPATHS] = { 0 };
    for (int iter = 0; iter < 120; iter++) {
        int rows = iter ? 1 + (int)(rnd() % 30) : 1203, cols = iter ? 1 + (int)(rnd() % 100) : 99; // first: threaded
        int lda = cols + (int)(rnd() % 4), ldy = cols + (int)(rnd() % 4), with_bias = iter % 3 != 0;
        int32_t *acc = malloc(sizeof(int32_t) * rows * lda);
        int8_t *q = malloc((size_t)rows * lda), *want8 = malloc((size_t)rows * lda), *got8 = malloc((size_t)rows * lda);
        float *rs = malloc(sizeof(float) * rows), *cs = malloc(sizeof(float) * cols), *b = malloc(sizeof(float) * cols);
        float *want = malloc(sizeof(float) * rows * ldy), *got = malloc(sizeof(float) * rows * ldy);
        struct sparq_requant_params *rq = malloc(sizeof *rq * cols);
        for (int i = 0; i < rows * lda; i++) {
            acc[i] = (int32_t)rnd() >> (rnd() % 32);
            q[i] = (int8_t)rnd();
        }
        for (int t = 0; t < rows; t++)
            rs[t] = fabsf(rndf()) * 0.1f + 1e-6f;
        for (int o = 0; o < cols; o++) {
            cs[o] = fabsf(rndf()) * 0.01f + 1e-7f;
            b[o] = rndf();
            rq[o].bias = (int32_t)rnd() >> (rnd() % 32);
            rq[o].mult = (int32_t)(rnd() & 0x7FFFFFFF);
            rq[o].shift = (int8_t)(iter % 3 == 2 ? 33 + rnd() % 30 : o % 5 == 0 ? 0 : rnd() % 63); // 3rd: all >= 33
        }
        const float *bias = with_bias ? b : NULL;
        for (int p = 0; p < NPATHS; p++) {
            if (sparq_gemm_set_path(paths[p]))
                continue;
            for (int pass = 0; pass < 2; pass++) { // i32, then q8
                for (int i = 0; i < rows * ldy; i++)
                    want[i] = got[i] = -7.0f; // the padding must stay
                for (int t = 0; t < rows; t++)
                    for (int o = 0; o < cols; o++) {
                        float r = pass ? (float)q[t * lda + o] : (float)acc[t * lda + o];
                        float sc = rs[t] * cs[o];
                        float v = r * sc;
                        want[t * ldy + o] = v + (bias ? bias[o] : 0.0f);
                    }
                if (pass)
                    sparq_gemm_readout_q8(got, ldy, q, lda, rs, cs, bias, rows, cols);
                else
                    sparq_gemm_readout_i32(got, ldy, acc, lda, rs, cs, bias, rows, cols);
                (pass ? bad_q8 : bad_i32)[p] += memcmp(got, want, sizeof(float) * rows * ldy) != 0;
            }
            memset(want8, 0x11, (size_t)rows * lda);
            memset(got8, 0x11, (size_t)rows * lda);
            for (int t = 0; t < rows; t++)
                for (int o = 0; o < cols; o++)
                    want8[t * lda + o] = sparq_requant(acc[t * lda + o], rq[o].bias, rq[o].mult, rq[o].shift);
            sparq_requant_rows(got8, lda, acc, lda, rq, rows, cols);
            bad_rq[p] += memcmp(got8, want8, (size_t)rows * lda) != 0;
        }
        free(acc);
        free(q);
        free(want8);
        free(got8);
        free(rs);
        free(cs);
        free(b);
        free(want);
        free(got);
        free(rq);
    }
    sparq_gemm_set_path(NULL);
    for (int p = 0; p < NPATHS; p++) {
        if (path_skipped(p, "read-out"))
            continue;
        CHECK(!bad_i32[p] && !bad_q8[p],
              "%s: read-outs acc * (s_row * s_col) + bias, i32 and q8 (120 cases): %d, %d wrong", paths[p],
              bad_i32[p], bad_q8[p]);
        CHECK(!bad_rq[p], "%s: requant_rows equals sparq_requant per element (120 cases, shifts 0..62): %d wrong",
              paths[p], bad_rq[p]);
    }
}

// The requantization's corners on every path: int32 extremes, a bias that
// wraps, the largest multiplier, shifts 0, 1, 31, 32 and 62, every output
// clamped both ways; 37 channels so full 16-channel blocks and a ragged end
// both see each corner. Three sets of shifts: mixed, all >= 33 (the avx512
// high-dword form), all >= 32 with some 32 (must not take that form).
static const int corner_shifts[3][6] = { { 0, 1, 31, 32, 62, 45 },
                                         { 33, 34, 62, 45, 61, 40 },
                                         { 32, 33, 62, 32, 47, 40 } };
static void test_requant_corners(int set)
{
    static const int32_t accs[] = { INT32_MIN, INT32_MIN + 1, -65536, -129, -1, 0, 1, 127, 128, 65535, INT32_MAX };
    static const int32_t mults[] = { 0, 1, 1 << 30, 0x7FFFFFFF, 1518500250 };
    const int *shifts = corner_shifts[set];
    enum { ROWS = 11, COLS = 37 };
    int32_t acc[ROWS * COLS];
    int8_t want[ROWS * COLS], got[ROWS * COLS];
    struct sparq_requant_params rq[COLS];
    for (int o = 0; o < COLS; o++) {
        rq[o].bias = o % 4 == 0 ? INT32_MAX : o % 4 == 1 ? INT32_MIN : o % 4 == 2 ? -3 : 0;
        rq[o].mult = mults[o % 5];
        rq[o].shift = (int8_t)shifts[o % 6];
    }
    for (int t = 0; t < ROWS; t++)
        for (int o = 0; o < COLS; o++) {
            acc[t * COLS + o] = accs[(t + o) % 11];
            want[t * COLS + o] = sparq_requant(acc[t * COLS + o], rq[o].bias, rq[o].mult, rq[o].shift);
        }
    for (int p = 0; p < NPATHS; p++) {
        if (path_skipped(p, "requantization corners") || sparq_gemm_set_path(paths[p]))
            continue;
        sparq_requant_rows(got, COLS, acc, COLS, rq, ROWS, COLS);
        int bad = 0;
        for (int i = 0; i < ROWS * COLS; i++)
            bad += got[i] != want[i];
        CHECK(!bad, "%s: requant_rows at int32 extremes, wrapping bias, mult 2^31-1, shifts %d..62: %d of %d wrong",
              paths[p], shifts[0], bad, ROWS * COLS);
    }
    sparq_gemm_set_path(NULL);
}

// sparq_act_quantize with a given scale (the FFN chain's static input scale),
// not the row's own: scales from 2^-126 to 2^126 (the AVX-512 path replaces
// the division by FMA corrections inside [2^-90, 2^90] and divides outside),
// quotients a few ulps around every half-integer, far beyond +-127, and
// infinities, NaN, FLT_MAX and subnormal inputs.
static void test_quantize_scales(void)
{
    int bad[NPATHS] = { 0 }, cases = 0;
    enum { N = 1000 };
    float x[N];
    int8_t want[N], got[N];
    for (int iter = 0; iter < 400; iter++) {
        float s = ldexpf(1.0f + (float)(rnd() >> 8) / 16777216.0f, (int)(rnd() % 253) - 126);
        if (iter < 6) // the bounds of the FMA range and just outside
            s = iter == 0 ? 0x1p-90f : iter == 1 ? 0x1p90f : iter == 2 ? nextafterf(0x1p-90f, 0) :
                iter == 3 ? nextafterf(0x1p90f, INFINITY) : iter == 4 ? 0x1.fffffep-91f : 1.0f;
        for (int k = 0; k < N; k++) {
            float y = (float)((int)(rnd() % 261) - 130) + 0.5f, v = y * s;
            switch (k % 8) {
            case 0: case 1: case 2:
                for (int u = (int)(rnd() % 9) - 4; u != 0; u += u > 0 ? -1 : 1)
                    v = nextafterf(v, u > 0 ? INFINITY : -INFINITY);
                break;
            case 3: v = rndf() * 300.0f * s; break;
            case 4: v = rndf() * ldexpf(1.0f, (int)(rnd() % 256) - 127); break;
            case 5: v = k % 3 == 0 ? INFINITY : k % 3 == 1 ? -INFINITY : NAN; break;
            case 6: v = (k % 2 ? 1.0f : -1.0f) * (k % 4 < 2 ? 3.4028235e38f : 1e-45f * (float)(rnd() % 1000)); break;
            default: v = (float)((int)(rnd() % 255) - 127) * s; break;
            }
            x[k] = v;
            want[k] = want_code(v, s);
        }
        cases += N;
        for (int p = 0; p < NPATHS; p++) {
            if (sparq_gemm_set_path(paths[p]))
                continue;
            int n = 1 + (int)(rnd() % N); // ragged lengths
            memset(got, 0x55, N);
            sparq_act_quantize(got, x, n, s);
            bad[p] += memcmp(got, want, (size_t)n) != 0 || got[n % N] != (n < N ? 0x55 : got[0]);
        }
    }
    sparq_gemm_set_path(NULL);
    for (int p = 0; p < NPATHS; p++) {
        if (path_skipped(p, "static-scale quantizer"))
            continue;
        CHECK(!bad[p], "%s: codes rint(x/s) at 400 given scales 2^-126..2^126 (%d values, near-halves, inf, NaN): %d "
                       "rows wrong", paths[p], cases, bad[p]);
    }
}

// A static-scale batch large enough to be split across two threads (the FFN
// chain's whole (N, d) input): every code as the scalar definition gives it.
static void test_quantize_split(void)
{
    const int n = 65536 * 2 + 77; // above PARALLEL_MIN, ragged last block
    float *x = malloc(sizeof(float) * n), s = 0.037f;
    int8_t *want = malloc(n), *got = malloc(n + 1);
    for (int k = 0; k < n; k++) {
        x[k] = rndf() * 6.0f;
        want[k] = want_code(x[k], s);
    }
    int threads = omp_get_max_threads();
    omp_set_num_threads(2);
    for (int p = 0; p < NPATHS; p++) {
        if (path_skipped(p, "split quantizer") || sparq_gemm_set_path(paths[p]))
            continue;
        memset(got, 0x55, n + 1);
        sparq_act_quantize(got, x, n, s);
        CHECK(!memcmp(got, want, n) && got[n] == 0x55, "%s: a %d-value static-scale batch on 2 threads == scalar codes",
              paths[p], n);
    }
    sparq_gemm_set_path(NULL);
    omp_set_num_threads(threads);
    free(x), free(want), free(got);
}

// sparq_lut_bytes against the loop it replaces, on ragged lengths.
static void test_lut(void)
{
    int8_t lut[256], h[300], want[300];
    int bad[NPATHS] = { 0 };
    for (int i = 0; i < 256; i++)
        lut[i] = (int8_t)rnd();
    for (int iter = 0; iter < 50; iter++) {
        int n = iter < 2 ? 256 * iter : (int)(rnd() % 300);
        for (int p = 0; p < NPATHS; p++) {
            if (sparq_gemm_set_path(paths[p]))
                continue;
            for (int e = 0; e < 300; e++)
                h[e] = want[e] = (int8_t)(iter == 1 ? e - 128 : (int)rnd()); // iter 1: every code once
            for (int e = 0; e < n; e++)
                want[e] = lut[want[e] + 128];
            sparq_lut_bytes(h, (size_t)n, lut);
            bad[p] += memcmp(h, want, sizeof h) != 0;
        }
    }
    sparq_gemm_set_path(NULL);
    for (int p = 0; p < NPATHS; p++) {
        if (path_skipped(p, "byte table"))
            continue;
        CHECK(!bad[p], "%s: lut_bytes h = lut[h + 128] on 50 ragged rows, bytes past n untouched: %d wrong", paths[p],
              bad[p]);
    }
}

int main(void)
{
    rng_state = check_seed(4242);
    test_quantize();
    test_readout();
    for (int set = 0; set < 3; set++)
        test_requant_corners(set);
    test_quantize_scales();
    test_lut();
    test_quantize_split();
    return check_done();
}
