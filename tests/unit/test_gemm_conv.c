// The front-end's conv stages (sparq_gemm_act.h): sparq_act_quantize_conv_s2
// (the 3x3 stride-2 im2col rows quantized where they lie) against an explicit
// im2col copy + the scalar sparq_act_quantize_rows, and the read-outs with ReLU against
// the plain read-outs + relu_forward's definition, bit for bit, on every path
// the CPU has.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "gemm_act_check.h"
#include "sparq_gemm.h"
#include "sparq_gemm_act.h"
#include "sparq_rng.h"

static uint64_t rng_state;
static uint32_t rnd(void)
{
    return (uint32_t)(sparq_rng_next(&rng_state) >> 32);
}
static float rndf(void)
{
    return (float)(rnd() >> 8) / (float)(1 << 24) * 2.0f - 1.0f;
}

// An input value: mostly ReLU-like (>= 0) with every kind of corner mixed in.
static float value(int kind)
{
    switch (rnd() % 64) {
    case 0:
        return NAN;
    case 1:
        return kind ? INFINITY : -INFINITY;
    case 2:
        return -0.0f;
    case 3:
        return 0.0f;
    case 4:
        return rndf() * 1e30f;
    case 5:
        return rndf() * 1e-30f;
    case 6:
        return -fabsf(rndf()) * 3.0f;
    default:
        return kind == 2 ? 0.0f : fabsf(rndf()) * 4.0f;
    }
}

// The im2col copy of conv2d_s2_forward (layers.c), written out.
static void im2col(float *col, const float *inp, int tout, int Fin, int Cin)
{
    int Fout = (Fin - 1) / 2, row = 9 * Cin;
    for (int t = 0; t < tout; t++)
        for (int f = 0; f < Fout; f++)
            for (int kh = 0; kh < 3; kh++)
                for (int kw = 0; kw < 3; kw++)
                    for (int c = 0; c < Cin; c++)
                        col[((size_t)t * Fout + f) * row + (kh * 3 + kw) * Cin + c] =
                            inp[((size_t)(2 * t + kh) * Fin + 2 * f + kw) * Cin + c];
}

// Rows [r0, r0 + rows) of the conv matrix of inp (tout output frames)
// quantized in place by sparq_act_quantize_conv_s2 on `path` against the
// definition: the im2col copy quantized by the scalar quantize_rows. 1 if
// codes (padding included, stride ldq) and scales agree bit for bit.
static int conv_matches(const float *inp, int tout, int Fin, int Cin, int r0, int rows, int ldq, const char *path)
{
    const int N = tout * ((Fin - 1) / 2), n = 9 * Cin;
    float *col = malloc(sizeof(float) * (size_t)N * n), *ws = malloc(sizeof(float) * (size_t)N);
    float *gs = malloc(sizeof(float) * (size_t)N);
    int8_t *wq = malloc((size_t)N * ldq), *gq = malloc((size_t)N * ldq);
    im2col(col, inp, tout, Fin, Cin);
    memset(wq, 0x55, (size_t)N * ldq);
    memset(gq, 0x55, (size_t)N * ldq);
    sparq_gemm_set_path("scalar");
    sparq_act_quantize_rows(wq, ldq, ws, col + (size_t)r0 * n, n, rows, n);
    sparq_gemm_set_path(path);
    sparq_act_quantize_conv_s2(gq, ldq, gs, inp, Fin, Cin, r0, rows);
    int ok = rows_equal(wq, ws, gq, gs, rows, ldq);
    free(col);
    free(ws);
    free(gs);
    free(wq);
    free(gq);
    return ok;
}

static void test_quantize_conv(void)
{
    static const int cins[] = { 1, 2, 3, 4, 5, 6, 7, 16, 33, 144 };
    int bad[NPATHS] = { 0 }, cases = 0;
    for (int iter = 0; iter < 200; iter++) {
        int Cin = cins[iter % 10], Fin = 7 + (int)(rnd() % 40), tout = 1 + (int)(rnd() % 6);
        int Fout = (Fin - 1) / 2, N = tout * Fout, n = 9 * Cin, ldq = n + (int)(rnd() % 5);
        int Tin = 2 * tout + 1 + (int)(rnd() % 2), kind = (int)(rnd() % 3);
        int r0 = (int)(rnd() % (unsigned)N), rows = 1 + (int)(rnd() % (unsigned)(N - r0));
        if (iter % 7 == 0) { // the whole matrix, as the device path quantizes it
            r0 = 0;
            rows = N;
        }
        float *inp = malloc(sizeof(float) * (size_t)Tin * Fin * Cin);
        for (int i = 0; i < Tin * Fin * Cin; i++)
            inp[i] = value(kind);
        if (iter % 11 == 0) // an all-zero input: scale 1
            memset(inp, 0, sizeof(float) * (size_t)Tin * Fin * Cin);
        cases++;
        for (int p = 0; p < NPATHS; p++)
            if (sparq_gemm_path_supported(paths[p]))
                bad[p] += !conv_matches(inp, tout, Fin, Cin, r0, rows, ldq, paths[p]);
        free(inp);
    }
    sparq_gemm_set_path(NULL);
    for (int p = 0; p < NPATHS; p++) {
        if (path_skipped(p, "conv quantizer"))
            continue;
        CHECK(!bad[p],
              "%s: quantize_conv_s2 == im2col + scalar quantize_rows (codes, scales, padding) on %d cases, Cin 1..144, "
              "NaN/inf/-0 mixed in: %d wrong",
              paths[p], cases, bad[p]);
    }
}

// A large conv split in threads (the device path quantizes a whole utterance).
static void test_quantize_conv_threads(void)
{
    const int Cin = 144, Fin = 39, tout = 40, Fout = (Fin - 1) / 2, N = tout * Fout, n = 9 * Cin;
    float *inp = malloc(sizeof(float) * (size_t)(2 * tout + 1) * Fin * Cin);
    for (int i = 0; i < (2 * tout + 1) * Fin * Cin; i++)
        inp[i] = value(0);
    const char *path = sparq_gemm_fast_kernel();
    CHECK(conv_matches(inp, tout, Fin, Cin, 0, N, n, NULL),
          "%s: a %d x %d conv matrix quantized in place (threaded) == scalar im2col + quantize_rows", path, N, n);
    free(inp);
}

// relu_forward's definition.
static float relu(float v)
{
    return v > 0.0f ? v : 0.0f;
}

static void test_readout_relu(void)
{
    int bad[NPATHS] = { 0 };
    for (int iter = 0; iter < 80; iter++) {
        int rows = iter ? 1 + (int)(rnd() % 30) : 1100, cols = iter ? 1 + (int)(rnd() % 100) : 144; // first: threaded
        int lda = cols + (int)(rnd() % 4), ldy = cols + (int)(rnd() % 4), with_bias = iter % 3 != 0;
        int32_t *acc = malloc(sizeof(int32_t) * rows * lda);
        int8_t *q = malloc((size_t)rows * lda);
        float *rs = malloc(sizeof(float) * rows), *cs = malloc(sizeof(float) * cols), *b = malloc(sizeof(float) * cols);
        float *want = malloc(sizeof(float) * rows * ldy), *got = malloc(sizeof(float) * rows * ldy);
        for (int i = 0; i < rows * lda; i++) {
            acc[i] = rnd() % 8 == 0 ? 0 : (int32_t)rnd() >> (rnd() % 32);
            q[i] = rnd() % 8 == 0 ? 0 : (int8_t)rnd();
        }
        for (int t = 0; t < rows; t++)
            rs[t] = fabsf(rndf()) * 0.1f + 1e-6f;
        for (int o = 0; o < cols; o++) {
            // -0 bias: 0 * s + -0 = +0 but -x * s + -0 stays negative; inf scale: 0 * inf = NaN
            cs[o] = o % 17 == 5 ? INFINITY : fabsf(rndf()) * 0.01f + 1e-7f;
            b[o] = o % 5 == 1 ? -0.0f : rndf();
        }
        const float *bias = with_bias ? b : NULL;
        for (int p = 0; p < NPATHS; p++) {
            if (sparq_gemm_set_path(paths[p]))
                continue;
            for (int pass = 0; pass < 2; pass++) { // i32, then q8
                for (int i = 0; i < rows * ldy; i++)
                    want[i] = got[i] = -7.0f; // the padding must stay
                if (pass) {
                    sparq_gemm_readout_q8(want, ldy, q, lda, rs, cs, bias, rows, cols);
                    sparq_gemm_readout_q8_relu(got, ldy, q, lda, rs, cs, bias, rows, cols);
                } else {
                    sparq_gemm_readout_i32(want, ldy, acc, lda, rs, cs, bias, rows, cols);
                    sparq_gemm_readout_i32_relu(got, ldy, acc, lda, rs, cs, bias, rows, cols);
                }
                for (int t = 0; t < rows; t++)
                    for (int o = 0; o < cols; o++)
                        want[t * ldy + o] = relu(want[t * ldy + o]);
                bad[p] += memcmp(got, want, sizeof(float) * rows * ldy) != 0;
            }
        }
        free(acc);
        free(q);
        free(rs);
        free(cs);
        free(b);
        free(want);
        free(got);
    }
    sparq_gemm_set_path(NULL);
    for (int p = 0; p < NPATHS; p++) {
        if (path_skipped(p, "read-out with ReLU"))
            continue;
        CHECK(!bad[p],
              "%s: read-outs with ReLU == read-out then v > 0 ? v : 0 (NaN, -0 -> +0), i32 and q8 (80 cases): "
              "%d wrong",
              paths[p], bad[p]);
    }
}

int main(void)
{
    rng_state = check_seed(1808);
    test_quantize_conv();
    test_quantize_conv_threads();
    test_readout_relu();
    return check_done();
}
