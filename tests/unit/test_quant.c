// Fake quantization equals the packer bit for bit; straight-through
// gradients at and around the clipping boundaries; N:M masks; scale choice.
#include <math.h>
#include <string.h>

#include "check.h"
#include "sparq_gemm.h"
#include "sparq_quant.h"
#include "sparq_rng.h"

static uint64_t rng_state;
static float rndf(void)
{
    return (float)(sparq_rng_next(&rng_state) >> 40) / (float)(1 << 24) * 2.0f - 1.0f;
}

static void test_fake_quant_equals_pack(void)
{
    int count, all_equal = 1, masks_ok = 1, cases = 0;
    const struct sparq_format_type *types = sparq_format_all(&count);
    for (int iter = 0; iter < 72; iter++) {
        const struct sparq_format_type *t = &types[iter % count];
        struct sparq_quantizer q = { t->width, (iter / count) % 2 ? SPARQ_GRID_FULL : SPARQ_GRID_SYMMETRIC };
        enum sparq_scale_method method = (iter / (2 * count)) % 2 ? SPARQ_SCALE_MSE : SPARQ_SCALE_MAXABS;
        int out = 3 + iter % 5, in = 5 + (iter * 7) % 61;
        float *w = malloc(sizeof(float) * out * in), *fq = malloc(sizeof(float) * out * in);
        float *back = malloc(sizeof(float) * out * in), *scales = malloc(sizeof(float) * out);
        uint8_t *mask = malloc((size_t)out * in);
        for (int i = 0; i < out * in; i++)
            w[i] = rndf() * (i % 11 == 0 ? 4.0f : 1.0f); // some outliers
        sparq_nm_mask(mask, w, out, in, t->kept);
        for (int o = 0; o < out; o++)
            for (int g = 0; g * 4 + 4 <= in; g++) {
                int n = 0;
                for (int j = 0; j < 4; j++)
                    n += mask[o * in + g * 4 + j];
                masks_ok &= n == t->kept;
            }
        sparq_quant_scales(scales, w, mask, out, in, &q, method);
        sparq_fake_quant_forward(fq, w, mask, scales, out, in, &q);
        struct sparq_packed p;
        struct sparq_pack_options opt = { q.grid, scales };
        if (sparq_pack(&p, w, mask, t->width, t->kept, out, in, &opt) == 0) {
            sparq_unpack(&p, back);
            all_equal &= memcmp(fq, back, sizeof(float) * out * in) == 0;
            sparq_packed_free(&p);
        } else
            all_equal = 0;
        cases++;
        free(w);
        free(fq);
        free(back);
        free(scales);
        free(mask);
    }
    CHECK(masks_ok, "N:M masks keep exactly N of every full group of 4");
    CHECK(all_equal, "fake_quant(W) == unpack(pack(W)) bit for bit (%d cases: every format, both grids, max-abs and MSE)",
          cases);
}

static void test_ste(void)
{
    // int4 symmetric, scale 1: clipping range [-7, 7].
    struct sparq_quantizer q = { 4, SPARQ_GRID_SYMMETRIC };
    float w[8] = { 6.9f, 7.0f, 7.6f, -7.0f, -7.2f, 0.4f, 3.0f, -1.0f };
    uint8_t mask[8] = { 1, 1, 1, 1, 1, 1, 0, 0 };
    float scale = 1.0f, dwq[8], dw[8];
    for (int i = 0; i < 8; i++)
        dwq[i] = 1.0f + i;
    memset(dw, 0, sizeof dw);
    sparq_fake_quant_backward(dw, NULL, dwq, w, mask, &scale, 1, 8, &q, SPARQ_MASK_GRAD_MASKED, 0);
    CHECK(dw[0] == 1 && dw[1] == 2 && dw[3] == 4 && dw[5] == 6, "STE passes gradient inside and on the clip boundary");
    CHECK(dw[2] == 0 && dw[4] == 0, "STE blocks gradient just outside the clip range (7.6, -7.2)");
    CHECK(dw[6] == 0 && dw[7] == 0, "fixed masks give pruned weights no gradient");
    memset(dw, 0, sizeof dw);
    sparq_fake_quant_backward(dw, NULL, dwq, w, mask, &scale, 1, 8, &q, SPARQ_MASK_GRAD_STE, 0);
    CHECK(dw[6] == 7 && dw[7] == 8, "mask STE passes gradient to pruned weights");
    memset(dw, 0, sizeof dw);
    sparq_fake_quant_backward(dw, NULL, dwq, w, mask, &scale, 1, 8, &q, SPARQ_MASK_GRAD_SRSTE, 0.5f);
    CHECK(dw[6] == 7 + 1.5f && dw[7] == 8 - 0.5f && dw[0] == 1, "SR-STE adds lambda*w to pruned weights only");

    // LSQ scale gradient, hand-worked: kept weights 6.9, 7.0, 7.6, -7.0, -7.2, 0.4
    // with dwq = 1..6: inside (round(v) - v): 0.1*1, 0*2, 0*4, -0.4*6; outside: qmax*3, qmin*5.
    float ds = 0;
    sparq_fake_quant_backward(dw, &ds, dwq, w, mask, &scale, 1, 8, &q, SPARQ_MASK_GRAD_MASKED, 0);
    double expect = (0.1 * 1 + 0 + 7.0 * 3 + 0 - 7.0 * 5 - 0.4 * 6) / sqrt(6.0 * 7.0);
    CHECK(fabs(ds - expect) < 1e-5, "LSQ scale gradient matches the hand-worked value (%g vs %g)", ds, expect);

    // Around the int2 ternary boundary: v = 1.4999 inside, 1.5001 outside.
    struct sparq_quantizer q2 = { 2, SPARQ_GRID_SYMMETRIC };
    float w2[2] = { 0.99f, 1.01f }, d2[2] = { 0, 0 }, g2[2] = { 1, 1 };
    sparq_fake_quant_backward(d2, NULL, g2, w2, NULL, &scale, 1, 2, &q2, SPARQ_MASK_GRAD_MASKED, 0);
    CHECK(d2[0] == 1 && d2[1] == 0, "int2 ternary: gradient stops at |w| > 1 * scale");
}

static void test_scales(void)
{
    struct sparq_quantizer q = { 4, SPARQ_GRID_SYMMETRIC };
    // Heavy-tailed row (cube of uniform): clipping the few large values pays.
    float row[64];
    for (int i = 0; i < 64; i++) {
        float u = rndf();
        row[i] = u * u * u;
    }
    row[17] = 1.0f; // the max-abs value
    float s_max, s_mse, fq[64];
    sparq_quant_scales(&s_max, row, NULL, 1, 64, &q, SPARQ_SCALE_MAXABS);
    sparq_quant_scales(&s_mse, row, NULL, 1, 64, &q, SPARQ_SCALE_MSE);
    double e_max = 0, e_mse = 0;
    sparq_fake_quant_forward(fq, row, NULL, &s_max, 1, 64, &q);
    for (int i = 0; i < 64; i++)
        e_max += (row[i] - fq[i]) * (row[i] - fq[i]);
    sparq_fake_quant_forward(fq, row, NULL, &s_mse, 1, 64, &q);
    for (int i = 0; i < 64; i++)
        e_mse += (row[i] - fq[i]) * (row[i] - fq[i]);
    CHECK(s_max == 1.0f / 7.0f, "max-abs scale is maxabs/7 for int4");
    CHECK(e_mse <= e_max && s_mse < s_max, "MSE clipping lowers the error (%.5f <= %.5f) with a smaller scale", e_mse,
          e_max);
    float x[5] = { 0.26f, -300.0f, 300.0f, 0.25f, -0.75f }, xq[5];
    sparq_fake_quant_act(xq, x, 5, 0.5f);
    CHECK(xq[0] == 0.5f && xq[1] == -63.5f && xq[2] == 63.5f && xq[3] == 0.0f && xq[4] == -1.0f,
          "activation fake-quant rounds half to even and clamps to +-127");
}

// Activation fake-quant (vectorized, through sparq_gemm_act.h) against its
// scalar definition c * s, c = clamp(rintf(x / s), +-127), bit for bit on
// every GEMM path: signed zeros, half-integer quotients, long rows.
static void test_act_fake_quant_bits(void)
{
    static const char *const paths[] = { "scalar", "avx2", "avx512vnni" };
    int bad = 0, tested = 0;
    for (int p = 0; p < 3; p++) {
        if (sparq_gemm_set_path(paths[p])) {
            printf("# skip: path %s is not supported by this CPU\n", paths[p]);
            continue;
        }
        tested++;
        for (int iter = 0; iter < 40; iter++) {
            int n = 1 + (iter * 37) % 700;
            float *x = malloc(sizeof(float) * n), *got = malloc(sizeof(float) * n), *want = malloc(sizeof(float) * n);
            for (int i = 0; i < n; i++)
                x[i] = iter % 2 ? rndf() * 3.0f : (float)((i % 9) - 4) * 0.25f; // halves at s = 0.5
            float s = iter % 2 ? sparq_act_row_scale(x, n) : 0.5f;
            for (int i = 0; i < n; i++) {
                float c = rintf(x[i] / s);
                c = c < -127.0f ? -127.0f : c > 127.0f ? 127.0f : c;
                want[i] = c * s;
            }
            sparq_fake_quant_act(got, x, n, s);
            bad += memcmp(got, want, sizeof(float) * n) != 0;
            free(x);
            free(got);
            free(want);
        }
    }
    sparq_gemm_set_path(NULL);
    CHECK(tested && !bad, "activation fake-quant equals c * s bit for bit (signed zeros too) on %d paths: %d wrong",
          tested, bad);
}

int main(void)
{
    rng_state = check_seed(4242);
    test_fake_quant_equals_pack();
    test_ste();
    test_scales();
    test_act_fake_quant_bits();
    return check_done();
}
