// Reference GEMM against a dense computation from known codes; the fast
// kernels (every path the CPU has) against the reference; the requantization
// formula against a 128-bit computation.
#include <math.h>
#include <string.h>

#include "check.h"
#include "sparq_error.h"
#include "sparq_gemm.h"
#include "sparq_rng.h"

static uint64_t rng_state;
static uint32_t rnd(void)
{
    return (uint32_t)(sparq_rng_next(&rng_state) >> 32);
}

// Random codes obeying N:M (zero outside the kept positions), in the range
// of the width's full grid.
static void random_codes(int8_t *codes, int out, int in, int width, int kept)
{
    int lo = -(1 << (width - 1)), span = 1 << width;
    memset(codes, 0, (size_t)out * in);
    for (int o = 0; o < out; o++)
        for (int g = 0; g * 4 < in; g++) {
            int chosen = 0;
            while (__builtin_popcount(chosen) < kept)
                chosen |= 1 << (rnd() % 4);
            for (int j = 0; j < 4; j++)
                if ((chosen >> j & 1) && g * 4 + j < in)
                    codes[o * in + g * 4 + j] = (int8_t)(lo + (int)(rnd() % span));
        }
}

static int pack_codes(struct sparq_packed *p, const int8_t *codes, int out, int in, int width, int kept)
{
    float *w = malloc(sizeof(float) * out * in), *scales = malloc(sizeof(float) * out);
    uint8_t *mask = malloc((size_t)out * in);
    for (int i = 0; i < out * in; i++) {
        w[i] = codes[i];
        mask[i] = codes[i] != 0;
    }
    for (int o = 0; o < out; o++)
        scales[o] = 1.0f; // w / 1 rounds to the code itself
    struct sparq_pack_options opt = { SPARQ_GRID_FULL, scales };
    int rc = sparq_pack(p, w, mask, width, kept, out, in, &opt);
    free(w);
    free(scales);
    free(mask);
    return rc;
}

// Every kernel path the CPU has, on every format, against the reference on
// random ragged shapes (T, N, K not multiples of any block; strides wider
// than the rows; accumulate and overwrite). Every 20th case is large enough
// to span many tiles and the kernels' OpenMP threshold.
// The 4th is avx512vnni with the vpermb selection (VBMI) off: the vpshufb
// sparse kernels, which CPUs without VBMI run.
static const char *const paths[] = { "scalar", "avx2", "avx512vnni", "avx512vnni" };
static const char *const path_labels[] = { "scalar", "avx2", "avx512vnni", "avx512vnni (vpshufb, VBMI off)" };
#define NPATHS 4
#define PATH_NOVBMI 3
static int path_runs(int k)
{
    return sparq_gemm_path_supported(paths[k]) && (k != PATH_NOVBMI || __builtin_cpu_supports("avx512vbmi"));
}

static void test_gemm_kernels(void)
{
    int count;
    const struct sparq_format_type *all = sparq_format_all(&count);
    int ref_ok = 1, wide_ok = 1, f24_ok = 1, f24_cases = 0, cases = 0;
    const int has_f24 = sparq_gemm_path_supported("avx512vnni") && __builtin_cpu_supports("avx512vbmi");
    int bad[NPATHS][16] = { { 0 } }; // failing cases per path and format
    int bad_rq[NPATHS][16] = { { 0 } }; // the same for the fused read-out
    for (int iter = 0; iter < 180; iter++) {
        const struct sparq_format_type *ft = &all[iter % count];
        int big = iter % 20 == 0;
        int t = 1 + (int)(rnd() % (big ? 300 : 70)), out = 1 + (int)(rnd() % (big ? 200 : 40));
        int in = 1 + (int)(rnd() % (big ? 300 : 100));
        int accumulate = (int)(rnd() & 1);
        int x_stride = in + (int)(rnd() % 3), y_stride = out + (int)(rnd() % 3);
        int8_t *codes = malloc((size_t)out * in), *x = malloc((size_t)t * x_stride);
        int32_t *expect = malloc(sizeof(int32_t) * t * y_stride), *y = malloc(sizeof(int32_t) * t * y_stride);
        int32_t *init = malloc(sizeof(int32_t) * t * y_stride);
        int8_t *want8 = malloc((size_t)t * y_stride), *got8 = malloc((size_t)t * y_stride), lut[256];
        struct sparq_requant_params *rq = malloc(sizeof *rq * out);
        // Every third case keeps all shifts >= 33, so whole 16-channel blocks
        // take the avx512 read-out's high-dword form (gemm_rq_avx512.h).
        const int high = iter % 3 == 2;
        for (int o = 0; o < out; o++)
            rq[o] = (struct sparq_requant_params){ (int32_t)rnd() >> (rnd() % 32), (int32_t)(rnd() & 0x7FFFFFFF),
                                                   (int8_t)(high         ? 33 + rnd() % 30
                                                            : o % 7 == 0 ? 0
                                                                         : rnd() % 63) };
        for (int i = 0; i < 256; i++)
            lut[i] = (int8_t)rnd();
        const int use_lut = (iter / count) % 2; // every format with and without the table
        random_codes(codes, out, in, ft->width, ft->kept);
        for (int i = 0; i < t * x_stride; i++)
            x[i] = (int8_t)(rnd() & 0xFF); // full int8 range including -128
        for (int i = 0; i < t * y_stride; i++)
            init[i] = (int32_t)rnd();
        // Dense expectation straight from the codes.
        for (int r = 0; r < t; r++)
            for (int o = 0; o < y_stride; o++) {
                int64_t acc = accumulate ? init[r * y_stride + o] : 0;
                if (o < out)
                    for (int k = 0; k < in; k++)
                        acc += x[r * x_stride + k] * codes[o * in + k];
                expect[r * y_stride + o] = o < out ? (int32_t)(uint32_t)(uint64_t)acc : init[r * y_stride + o];
                if (o < out) { // the fused read-out: the sums alone, requantized (and through the table)
                    int64_t sum = acc - (accumulate ? init[r * y_stride + o] : 0);
                    int8_t c = sparq_requant((int32_t)(uint32_t)(uint64_t)sum, rq[o].bias, rq[o].mult, rq[o].shift);
                    want8[r * y_stride + o] = use_lut ? lut[c + 128] : c;
                } else
                    want8[r * y_stride + o] = 0x5A;
            }
        struct sparq_packed p;
        if (pack_codes(&p, codes, out, in, ft->width, ft->kept)) {
            ref_ok = 0;
            break;
        }
        memcpy(y, init, sizeof(int32_t) * t * y_stride);
        sparq_gemm_ref(y, y_stride, x, x_stride, &p, t, accumulate);
        ref_ok &= memcmp(y, expect, sizeof(int32_t) * t * y_stride) == 0;

        struct sparq_gemm_prepared *prep;
        int prepared = sparq_gemm_prepare(&prep, &p) == 0;
        for (int k = 0; k < NPATHS; k++) {
            if (!path_runs(k))
                continue;
            sparq_gemm_disable_vbmi(k == PATH_NOVBMI);
            memcpy(y, init, sizeof(int32_t) * t * y_stride);
            int ok = prepared && sparq_gemm_set_path(paths[k]) == 0 &&
                     sparq_gemm_fast(y, y_stride, x, x_stride, prep, t, accumulate) == 0 &&
                     memcmp(y, expect, sizeof(int32_t) * t * y_stride) == 0;
            bad[k][iter % count] += !ok;
            memset(got8, 0x5A, (size_t)t * y_stride);
            ok = prepared &&
                 sparq_gemm_fast_requant(got8, y_stride, x, x_stride, prep, t, rq, use_lut ? lut : NULL) == 0 &&
                 memcmp(got8, want8, (size_t)t * y_stride) == 0;
            bad_rq[k][iter % count] += !ok;
        }
        sparq_gemm_disable_vbmi(0);
        if (has_f24) { // the opt-in 2:4 frame kernel (rows >= 32) beside the default kernels
            sparq_gemm_set_path("avx512vnni");
            sparq_gemm_frame24(1);
            memcpy(y, init, sizeof(int32_t) * t * y_stride);
            f24_ok &= prepared && sparq_gemm_fast(y, y_stride, x, x_stride, prep, t, accumulate) == 0 &&
                      memcmp(y, expect, sizeof(int32_t) * t * y_stride) == 0;
            f24_cases += ft->kept == 2 && t >= 32;
            sparq_gemm_frame24(0);
        }
        if (sparq_gemm_path_supported("avx2")) {
            sparq_gemm_set_path("avx2");
            sparq_gemm_disable_narrow(1);
            memcpy(y, init, sizeof(int32_t) * t * y_stride);
            wide_ok &= prepared && sparq_gemm_fast(y, y_stride, x, x_stride, prep, t, accumulate) == 0 &&
                       memcmp(y, expect, sizeof(int32_t) * t * y_stride) == 0;
            sparq_gemm_disable_narrow(0);
        }
        sparq_gemm_set_path(NULL);
        if (prepared)
            sparq_gemm_prepared_free(prep);
        cases++;
        sparq_packed_free(&p);
        free(codes);
        free(x);
        free(expect);
        free(y);
        free(init);
        free(want8);
        free(got8);
        free(rq);
    }
    CHECK(ref_ok, "sparq_gemm_ref equals the dense GEMM of the codes (%d random cases, every format)", cases);
    for (int k = 0; k < NPATHS; k++) {
        if (!path_runs(k)) {
            printf("# skip: kernel path %s is not supported by this CPU%s; not tested\n", path_labels[k],
                   k == PATH_NOVBMI ? " (without VBMI avx512vnni is this variant)" : "");
            continue;
        }
        char failing[256] = "";
        for (int f = 0; f < count; f++)
            if (bad[k][f])
                snprintf(failing + strlen(failing), sizeof failing - strlen(failing), " %s(%d)", all[f].name,
                         bad[k][f]);
        CHECK(!failing[0], "path %s is bit-exact with the reference on every format, ragged shapes%s%s", path_labels[k],
              failing[0] ? "; failing:" : "", failing);
        failing[0] = 0;
        for (int f = 0; f < count; f++)
            if (bad_rq[k][f])
                snprintf(failing + strlen(failing), sizeof failing - strlen(failing), " %s(%d)", all[f].name,
                         bad_rq[k][f]);
        CHECK(!failing[0], "path %s: fused GEMM + requant (+ table) equals ref + sparq_requant on every format%s%s",
              path_labels[k], failing[0] ? "; failing:" : "", failing);
    }
    if (has_f24)
        CHECK(f24_ok && f24_cases > 0, "avx512vnni path with the 2:4 frame kernel on is bit-exact with the reference "
              "(%d cases reach it)", f24_cases);
    else
        printf("# skip: the 2:4 frame kernel needs AVX-512 VNNI and VBMI; not tested\n");
    if (sparq_gemm_path_supported("avx2"))
        CHECK(wide_ok, "avx2 path with the narrow u8 path disabled is bit-exact with the reference");
    else
        printf("# skip: avx2 wide variant (no avx2 on this CPU)\n");
}

// SPARQ_GEMM_PATH picks the path; a bad value is an error naming it.
static void test_path_choice(void)
{
    const char *fastest = sparq_gemm_path_supported("avx512vnni") ? "avx512vnni"
                          : sparq_gemm_path_supported("avx2")     ? "avx2"
                                                                  : "scalar";
    unsetenv("SPARQ_GEMM_PATH");
    CHECK(strcmp(sparq_gemm_fast_kernel(), fastest) == 0, "automatic path is the fastest present (%s, got %s)", fastest,
          sparq_gemm_fast_kernel());
    setenv("SPARQ_GEMM_PATH", "scalar", 1);
    CHECK(strcmp(sparq_gemm_fast_kernel(), "scalar") == 0, "SPARQ_GEMM_PATH=scalar selects the scalar path");
    struct sparq_packed p;
    int8_t codes[16] = { 1 }, x[16] = { 1 };
    int32_t y[1];
    struct sparq_gemm_prepared *prep = NULL;
    int rc = pack_codes(&p, codes, 1, 16, 8, 4) || sparq_gemm_prepare(&prep, &p);
    setenv("SPARQ_GEMM_PATH", "avx9000", 1);
    rc = rc ? rc : sparq_gemm_fast(y, 1, x, 16, prep, 1, 0);
    CHECK(rc == SPARQ_EINVAL && strstr(sparq_last_error(), "SPARQ_GEMM_PATH=avx9000"),
          "a bad SPARQ_GEMM_PATH fails naming the variable (%s)", sparq_last_error());
    unsetenv("SPARQ_GEMM_PATH");
    CHECK(sparq_gemm_set_path("avx9000") == SPARQ_EINVAL && sparq_gemm_set_path("auto") == 0,
          "sparq_gemm_set_path rejects an unknown path");
    sparq_gemm_prepared_free(prep);
    sparq_packed_free(&p);
}

// Independent requantization: exact 128-bit product, floor((v*m + 2^(s-1)) / 2^s).
static int8_t requant_wide(int32_t acc, int32_t bias, int32_t mult, int shift)
{
    int32_t v = (int32_t)((uint32_t)acc + (uint32_t)bias);
    __int128 p = (__int128)v * mult;
    if (shift > 0) {
        __int128 num = p + ((__int128)1 << (shift - 1));
        __int128 d = (__int128)1 << shift;
        __int128 q = num / d;
        if ((num % d != 0) && (num < 0))
            q -= 1; // floor division
        p = q;
    }
    return (int8_t)(p < -128 ? -128 : p > 127 ? 127 : p);
}

static void test_requant(void)
{
    // Hand-worked: scale 0.5 = 2^30 * 2^-31. 3 * 0.5 = 1.5 -> 2 (half up);
    // -3 * 0.5 = -1.5 -> -1 (half up, toward +inf); 1000 * 0.5 -> 127.
    int32_t m;
    int s;
    int rc = sparq_requant_from_scale(0.5, &m, &s);
    CHECK(rc == 0 && m == (1 << 30) && s == 31, "scale 0.5 is mult 2^30, shift 31 (got %d, %d)", m, s);
    CHECK(sparq_requant(3, 0, m, s) == 2 && sparq_requant(-3, 0, m, s) == -1 && sparq_requant(1000, 0, m, s) == 127 &&
              sparq_requant(-1000, 0, m, s) == -128 && sparq_requant(1, 2, m, s) == 2,
          "requant rounds half up, saturates, adds bias first");
    int agree = 1;
    for (int i = 0; i < 200000; i++) {
        int32_t acc = (int32_t)rnd() >> (rnd() % 31), bias = (int32_t)rnd() >> (rnd() % 31 + 1);
        int32_t mult = (int32_t)(rnd() & 0x7FFFFFFF);
        int shift = (int)(rnd() % 63);
        agree &= sparq_requant(acc, bias, mult, shift) == requant_wide(acc, bias, mult, shift);
    }
    CHECK(agree, "sparq_requant equals a 128-bit floor computation on 200000 random inputs");
    int close = 1;
    for (int i = 0; i < 2000; i++) {
        double scale = (double)(rnd() + 1) / 4294967296.0 * (1 << (rnd() % 20)) / (1 << 10);
        if (sparq_requant_from_scale(scale, &m, &s)) {
            close = 0;
            continue;
        }
        double got = ldexp((double)m, -s); // the scale mult * 2^-shift stands for
        close &= m >= (1 << 30) && fabs(got - scale) <= scale * 1e-9;
    }
    CHECK(close, "requant_from_scale keeps mult in [2^30, 2^31) with relative error < 1e-9");
    CHECK(sparq_requant_from_scale(0.0, &m, &s) != 0 && sparq_requant_from_scale(1e12, &m, &s) != 0,
          "zero and huge scales are rejected");
}

int main(void)
{
    rng_state = check_seed(777);
    test_gemm_kernels();
    test_path_choice();
    test_requant();
    return check_done();
}
