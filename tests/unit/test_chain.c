// The FFN chain's integer parameters and its float simulation
// (sparq_chain.h): the table against a definition written out here (known
// answers at its ends and middle), W1's folded bias with round-half-even
// known answers, the requant scales, the float simulation (fine-tuning, the
// float backend) against the integer reference chain (sparq_gemm_ref ->
// requant with bias -> table -> sparq_gemm_ref -> requant) bit for bit, and
// the model-file sections (round trip, bad values and versions rejected
// with the section's name).
#include <math.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "sparq_chain.h"
#include "sparq_error.h"
#include "sparq_gemm.h"
#include "sparq_readout.h"
#include "sparq_rng.h"

static uint64_t rng;
static float rndf(void) { return (float)(2.0 * sparq_rng_uniform(&rng) - 1.0); }

// Round half to even, written out (not rintf).
static double rhe(double v)
{
    double f = floor(v), d = v - f;
    return d > 0.5 ? f + 1 : d < 0.5 ? f : (fmod(f, 2.0) == 0.0 ? f : f + 1);
}

static void check_lut(void)
{
    const float a_1s[] = { 6.0f, 0.75f, 23.5f };
    int all = 1, bad_i = -1;
    for (size_t k = 0; k < sizeof a_1s / sizeof a_1s[0]; k++) {
        struct sparq_chain_ffn c;
        memset(&c, 0, sizeof c);
        float s_w = 0.01f, b = 0.0f;
        if (sparq_chain_make(&c, 2.0f, a_1s[k], &s_w, &b, 1, NULL, NULL, 1)) {
            CHECK(0, "chain params for A_1 = %g: %s", (double)a_1s[k], sparq_last_error());
            continue;
        }
        float s_1 = a_1s[k] / 127.0f, s_2 = (a_1s[k] / (1.0f + expf(-a_1s[k]))) / 127.0f;
        CHECK(c.s_1 == s_1 && c.s_2 == s_2 && c.s_in == 2.0f / 127.0f,
              "A_1 = %g: s_1 = A_1/127, s_2 = Swish(A_1)/127, s_in = A_in/127", (double)a_1s[k]);
        for (int i = 0; i < 256; i++) {
            float x = (float)(i - 128) * s_1;
            double r = rhe((double)((x / (1.0f + expf(-x))) / s_2));
            int want = r > 127 ? 127 : r < -127 ? -127 : (int)r;
            if (c.lut[i] != want && bad_i < 0)
                bad_i = i, all = 0;
        }
        // Known answers: code 0 -> Swish(0) = 0; code 127 -> Swish(A_1) = 127 s_2;
        // code -128 is the most negative input (Swish there is small and negative).
        CHECK(c.lut[128] == 0 && c.lut[255] == 127 && c.lut[0] <= 0 && c.lut[129] >= 0,
              "A_1 = %g: table known answers lut[128] = 0, lut[255] = 127 (got %d, %d)", (double)a_1s[k],
              c.lut[128], c.lut[255]);
        sparq_chain_free(&c);
    }
    CHECK(all, "table: every entry = clamp(rhe(Swish((i-128) s_1) / s_2)) (first mismatch at %d)", bad_i);
}

static void check_bias(void)
{
    // b / (s_in * s_w) exactly 2.5, 3.5, -2.5, 0.5 (powers of two: exact in float and double).
    const float bs[] = { 2.5f * 0.25f, 3.5f * 0.25f, -2.5f * 0.25f, 0.5f * 0.25f, 1e12f, -1e12f };
    const int32_t want[] = { 2, 4, -2, 0, INT32_MAX, INT32_MIN };
    int ok = 1;
    for (int k = 0; k < 6; k++)
        ok &= sparq_chain_bias(bs[k], 0.5f, 0.5f) == want[k];
    CHECK(ok, "W1 bias in accumulator units: round half to even (2.5 -> 2, 3.5 -> 4, -2.5 -> -2), saturating");
    struct sparq_chain_ffn c;
    memset(&c, 0, sizeof c);
    float sw[3] = { 0.5f, 0.02f, 0.003f }, b1[3] = { 0.625f, -0.3f, 0.0015f };
    int rc = sparq_chain_make(&c, 1.0f, 4.0f, sw, b1, 3, NULL, NULL, 1);
    int ok2 = !rc;
    for (int o = 0; ok2 && o < 3; o++) {
        double sx = (double)(1.0f / 127.0f) * sw[o];
        double want_b = rhe((double)b1[o] / sx);
        int32_t m;
        int sh;
        sparq_requant_from_scale(sx / (double)(4.0f / 127.0f), &m, &sh);
        ok2 = c.q1[o].bias == (int32_t)want_b && c.q1[o].mult == m && c.q1[o].shift == sh;
    }
    CHECK(ok2, "W1 requant: bias = rhe(b1 / (s_in s_w)), mult/shift = requant_from_scale(s_in s_w / s_1)");
    sparq_chain_free(&c);
}

// Random packed (out, in) int4 2:4 matrix with scales.
static void make_matrix(struct sparq_packed *p, int out, int in, float *dense_codes)
{
    float *w = malloc(sizeof(float) * (size_t)out * in);
    for (int i = 0; i < out * in; i++)
        w[i] = rndf();
    sparq_pack(p, w, NULL, 4, 2, out, in, NULL);
    int8_t *codes = malloc((size_t)out * in);
    sparq_unpack_codes(p, codes);
    for (int i = 0; i < out * in; i++)
        dense_codes[i] = codes[i];
    free(codes);
    free(w);
}

static void check_sim(void)
{
    enum { N = 37, D = 24, F = 96 };
    struct sparq_packed p1, p2;
    static float c1[F * D], c2[D * F], x[N * D], b1[F], b2[D], clip2[D], ysim[N * D], yint[N * D], z[N * F];
    make_matrix(&p1, F, D, c1);
    make_matrix(&p2, D, F, c2);
    for (int i = 0; i < N * D; i++)
        x[i] = 3.0f * rndf();
    x[5] = 1e6f; // saturates at +127
    for (int o = 0; o < F; o++)
        b1[o] = 0.5f * rndf();
    for (int o = 0; o < D; o++) {
        b2[o] = 0.5f * rndf();
        clip2[o] = 2000.0f + 500.0f * rndf();
    }
    struct sparq_chain_ffn c;
    memset(&c, 0, sizeof c);
    int rc = sparq_chain_make(&c, 2.5f, 12.0f, p1.scales, b1, F, p2.scales, clip2, D);
    CHECK(rc == 0, "chain params made");
    // Simulation (float).
    static float acc1[N * F];
    static int8_t q1[N * F];
    rc = rc ? rc : sparq_chain_sim_acc1(acc1, x, N, D, c1, F, c.s_in);
    if (!rc)
        sparq_chain_sim_q1(q1, z, acc1, &c, N);
    rc = rc ? rc : sparq_chain_sim_w2(ysim, NULL, q1, &c, c2, b2, N);
    // Integer reference: the device's steps.
    static int8_t xq[N * D], h[N * F], y8[N * D];
    static int32_t a1[N * F], a2[N * D];
    for (int i = 0; i < N * D; i++) {
        double r = rhe((double)(x[i] / c.s_in));
        xq[i] = (int8_t)(r > 127 ? 127 : r < -127 ? -127 : r);
    }
    sparq_gemm_ref(a1, F, xq, D, &p1, N, 0);
    int zok = 1;
    for (int t = 0; t < N; t++)
        for (int o = 0; o < F; o++) {
            int8_t q = sparq_requant(a1[t * F + o], c.q1[o].bias, c.q1[o].mult, c.q1[o].shift);
            zok &= z[t * F + o] == (float)q * c.s_1;
            h[t * F + o] = c.lut[q + 128];
        }
    int8_t h2[N * F];
    sparq_chain_hidden(h2, a1, &c, N);
    sparq_gemm_ref(a2, D, h, F, &p2, N, 0);
    sparq_chain_out(y8, a2, &c, N);
    for (int t = 0; t < N; t++)
        for (int o = 0; o < D; o++)
            yint[t * D + o] = (float)y8[t * D + o] * (c.s_2 * c.deq2[o]) + b2[o];
    CHECK(!rc && zok, "simulation: W1's output = requant(acc1 + bias) * s_1, as the integers");
    CHECK(memcmp(h, h2, sizeof h) == 0, "sparq_chain_hidden = requant with the folded bias, then the table");
    CHECK(!rc && memcmp(ysim, yint, sizeof ysim) == 0,
          "simulation (float, fine-tuning and the float backend) == integer chain, bit for bit");
    int sat = 0;
    for (int t = 0; t < N * F; t++)
        sat += q1[t] == 127 || q1[t] == -128;
    printf("# %d of %d hidden codes saturated\n", sat, N * F);
    sparq_chain_free(&c);
    sparq_packed_free(&p1);
    sparq_packed_free(&p2);
}

static void check_file(void)
{
    char path[] = "/tmp/sparq_chain_XXXXXX";
    close(mkstemp(path));
    struct sparq_mfile f;
    sparq_mfile_init(&f);
    int rc = sparq_chain_add(&f, "layer0.ffn1_w1", 3.0f, 7.5f);
    rc = rc ? rc : sparq_chain_add(&f, "layer1.ffn2_w1", 1.0f, 2.0f);
    rc = rc ? rc : sparq_mfile_write(&f, path);
    sparq_mfile_free(&f);
    float a = 0, b = 0;
    int found = 0, present = 0;
    rc = rc ? rc : sparq_mfile_read(&f, path);
    rc = rc ? rc : sparq_chain_present(&f, path, &present);
    rc = rc ? rc : sparq_chain_get(&f, path, "layer0.ffn1_w1", &a, &b, &found);
    CHECK(!rc && present && found && a == 3.0f && b == 7.5f, "chain clips written and read back");
    rc = sparq_chain_get(&f, path, "layer0.ffn2_w1", &a, &b, &found);
    CHECK(!rc && !found, "an FFN without clips is not chained");
    ((float *)f.sections[1].data)[1] = -1.0f;
    rc = sparq_chain_get(&f, path, "layer0.ffn1_w1", &a, &b, &found);
    CHECK(rc && strstr(sparq_last_error(), "layer0.ffn1_w1.chain") && strstr(sparq_last_error(), "A_1"),
          "a negative A_1 is rejected naming the section (%s)", sparq_last_error());
    ((int32_t *)f.sections[0].data)[0] = 2;
    rc = sparq_chain_present(&f, path, &present);
    CHECK(rc && strstr(sparq_last_error(), "chain version 2"), "another chain version is rejected (%s)",
          sparq_last_error());
    sparq_mfile_free(&f);
    char w2[64], b1[64], b2[64];
    CHECK(sparq_chain_names("layer3.ffn2_w1", w2, b1, b2, sizeof w2) && !strcmp(w2, "layer3.ffn2_w2") &&
              !strcmp(b1, "layer3.ffn2_b1") && !strcmp(b2, "layer3.ffn2_b2") &&
              !sparq_chain_names("layer3.ffn2_w2", w2, b1, b2, sizeof w2) &&
              !sparq_chain_names("layer3.att_in_w", w2, b1, b2, sizeof w2),
          "FFN names: W1 -> W2, b1, b2; nothing else is a chain's W1");
    unlink(path);
}

int main(void)
{
    rng = check_seed(4242);
    check_lut();
    check_bias();
    check_sim();
    check_file();
    return check_done();
}
