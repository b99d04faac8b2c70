// The int8 read-out defined once (sparq_readout.h): fine-tuning's float
// simulation of a matmul's q8 path equals the device semantics (per-row int8
// activations, sparq_gemm_ref, sparq_requant, the host's read-back) bit for
// bit; clip levels round-trip through the model file; a file without them
// (every .spq written before read-out version 1) still reads, an unknown
// version or a bad clip level is refused with a message naming the section.
#include <math.h>
#include <string.h>

#include "check.h"
#include "sparq_error.h"
#include "sparq_format.h"
#include "sparq_gemm.h"
#include "sparq_quant.h"
#include "sparq_readout.h"
#include "sparq_rng.h"

static uint64_t rng;
static float rndf(void) { return (float)(2.0 * sparq_rng_uniform(&rng) - 1.0); }

// The device path, written independently of sparq_readout_*: int8 codes per
// row as the runtime makes them, the golden GEMM, per-channel requantization.
static void device_path(float *out, int8_t *q8, const float *x, int N, const struct sparq_packed *p,
                        const struct sparq_requant_params *rq, const float *deq, const float *bias)
{
    int IN = p->in, OUT = p->out;
    int8_t *xq = malloc((size_t)N * IN);
    float *rs = malloc(sizeof(float) * (size_t)N);
    int32_t *acc = malloc(sizeof(int32_t) * (size_t)N * OUT);
    for (int t = 0; t < N; t++) {
        float s = sparq_act_row_scale(x + (size_t)t * IN, IN);
        rs[t] = s;
        for (int k = 0; k < IN; k++) {
            float c = rintf(x[(size_t)t * IN + k] / s);
            xq[(size_t)t * IN + k] = (int8_t)(c > 127.0f ? 127 : c < -127.0f ? -127 : (int)c);
        }
    }
    sparq_gemm_ref(acc, OUT, xq, IN, p, N, 0);
    sparq_requant_ref(q8, OUT, acc, OUT, rq, N, OUT);
    for (int t = 0; t < N; t++)
        for (int o = 0; o < OUT; o++)
            out[(size_t)t * OUT + o] = (float)q8[(size_t)t * OUT + o] * (rs[t] * deq[o]) + bias[o];
    free(xq);
    free(rs);
    free(acc);
}

// One random case: int4 2:4 (or int8 dense) weights, clip levels from a
// fraction of each channel's largest accumulator so some outputs saturate.
static void check_case(int width, int kept, int N, int IN, int OUT, double clip_frac)
{
    size_t nw = (size_t)OUT * IN;
    float *w = malloc(sizeof(float) * nw), *x = malloc(sizeof(float) * (size_t)N * IN);
    float *wcode = malloc(sizeof(float) * nw), *bias = malloc(sizeof(float) * (size_t)OUT);
    int8_t *codes = malloc(nw), *q8 = malloc((size_t)N * OUT);
    uint8_t *mask = malloc(nw);
    for (size_t i = 0; i < nw; i++)
        w[i] = rndf() * (1.0f + (float)(i % 7));
    for (int i = 0; i < N * IN; i++)
        x[i] = rndf() * (i % 5 == 0 ? 4.0f : 1.0f);
    for (int o = 0; o < OUT; o++)
        bias[o] = 0.1f * rndf();
    sparq_nm_mask(mask, w, OUT, IN, kept);
    struct sparq_packed p;
    int rc = sparq_pack(&p, w, kept < 4 ? mask : NULL, width, kept, OUT, IN, NULL);
    sparq_unpack_codes(&p, codes);
    for (size_t i = 0; i < nw; i++)
        wcode[i] = codes[i];
    // Simulation: float accumulators first, to set the clip levels.
    float *acc = malloc(sizeof(float) * (size_t)N * OUT), *rs = malloc(sizeof(float) * (size_t)N);
    float *sim = malloc(sizeof(float) * (size_t)N * OUT), *dev = malloc(sizeof(float) * (size_t)N * OUT);
    float *deq = malloc(sizeof(float) * (size_t)OUT);
    struct sparq_requant_params *rq = malloc(sizeof *rq * (size_t)OUT);
    rc = rc ? rc : sparq_readout_acc(acc, rs, x, N, IN, wcode, OUT);
    for (int o = 0; !rc && o < OUT; o++) {
        float mx = 0;
        for (int t = 0; t < N; t++)
            mx = fmaxf(mx, fabsf(acc[(size_t)t * OUT + o]));
        rc = sparq_readout_channel(fmax(1.0, clip_frac * mx), p.scales[o], &rq[o], &deq[o]);
    }
    if (rc) {
        CHECK(0, "case %s %dx%d: %s", p.type ? p.type->name : "?", OUT, IN, sparq_last_error());
        return;
    }
    sparq_readout_apply(sim, acc, rs, N, OUT, rq, deq, bias);
    device_path(dev, q8, x, N, &p, rq, deq, bias);
    int sat = 0, mid = 0;
    for (int e = 0; e < N * OUT; e++) {
        sat += q8[e] == 127 || q8[e] == -128;
        mid += q8[e] != 0 && q8[e] > -100 && q8[e] < 100;
    }
    CHECK(memcmp(sim, dev, sizeof(float) * (size_t)N * OUT) == 0 && sat > 0 && mid > N * OUT / 4,
          "%s %d x %d, %d rows, clip %.2f x max: simulated q8 path == device path bit for bit (%d saturated, "
          "%d inside)",
          p.type->name, OUT, IN, N, clip_frac, sat, mid);
    sparq_packed_free(&p);
    free(w), free(x), free(wcode), free(bias), free(codes), free(q8), free(mask);
    free(acc), free(rs), free(sim), free(dev), free(deq), free(rq);
}

static void check_params(void)
{
    struct sparq_requant_params p;
    float deq;
    int rc = sparq_readout_channel(254.0, 0.5f, &p, &deq);
    // 127 / 254 = 0.5 = 2^30 / 2^31: mult 2^30, shift 31; deq = 0.5 * 2.
    CHECK(rc == 0 && p.bias == 0 && p.mult == (1 << 30) && p.shift == 31 && deq == 1.0f &&
              sparq_requant(254, 0, p.mult, p.shift) == 127 && sparq_requant(-254, 0, p.mult, p.shift) == -127 &&
              sparq_requant(3, 0, p.mult, p.shift) == 2 && sparq_requant(-3, 0, p.mult, p.shift) == -1 &&
              sparq_requant(1000, 0, p.mult, p.shift) == 127,
          "clip 254: mult 2^30, shift 31, deq 1; 254 -> 127, 3 -> 2 and -3 -> -1 (half up), 1000 saturates");
    CHECK(sparq_readout_channel(0.0, 1.0f, &p, &deq) != 0 && sparq_readout_channel(NAN, 1.0f, &p, &deq) != 0,
          "a clip level of 0 or NaN is refused (%s)", sparq_last_error());
}

static void check_file(void)
{
    const float clip[3] = { 10.0f, 2.5f, 1000.0f };
    struct sparq_mfile f, g;
    sparq_mfile_init(&f);
    int rc = sparq_mfile_add_f32(&f, "w", clip, 3);
    const float *got = clip;
    int present = 1;
    rc = rc ? rc : sparq_readout_present(&f, "old.spq", &present);
    rc = rc ? rc : sparq_readout_get(&f, "old.spq", "w", 3, &got);
    CHECK(rc == 0 && !present && got == NULL, "a file without read-out sections (before version 1) reads: no clips");
    rc = sparq_readout_add(&f, "w", clip, 3);
    rc = rc ? rc : sparq_readout_add(&f, "v", clip, 2);
    uint8_t *bytes = NULL;
    size_t size = 0;
    rc = rc ? rc : sparq_mfile_serialize(&f, &bytes, &size);
    rc = rc ? rc : sparq_mfile_parse(&g, bytes, size, "new.spq");
    rc = rc ? rc : sparq_readout_get(&g, "new.spq", "w", 3, &got);
    CHECK(rc == 0 && got && memcmp(got, clip, sizeof clip) == 0 &&
              sparq_mfile_find(&g, SPARQ_READOUT_SECTION, SPARQ_MF_I32)->count == 1,
          "clip levels round-trip through the model file, one version section for two tensors");
    rc = sparq_readout_get(&g, "new.spq", "u", 4, &got);
    CHECK(rc == 0 && got == NULL, "a tensor without a clip section: none (the runtime's fallback)");
    rc = sparq_readout_get(&g, "new.spq", "w", 4, &got);
    CHECK(rc != 0 && strstr(sparq_last_error(), "w.q8clip"), "a wrong count is refused: %s", sparq_last_error());
    ((int32_t *)sparq_mfile_find(&g, SPARQ_READOUT_SECTION, SPARQ_MF_I32)->data)[0] = SPARQ_READOUT_VERSION + 1;
    rc = sparq_readout_get(&g, "new.spq", "w", 3, &got);
    CHECK(rc != 0 && strstr(sparq_last_error(), "version 2"), "an unknown read-out version is refused: %s",
          sparq_last_error());
    float bad[2] = { 1.0f, -1.0f };
    CHECK(sparq_readout_add(&f, "z", bad, 2) != 0, "a negative clip level is not written (%s)", sparq_last_error());
    char tensor[64];
    CHECK(sparq_readout_section("layer0.ffn1_w1.q8clip", tensor, sizeof tensor) == 2 &&
              !strcmp(tensor, "layer0.ffn1_w1") && sparq_readout_section("readout", tensor, sizeof tensor) == 1 &&
              sparq_readout_section("layer0.ffn1_w1", tensor, sizeof tensor) == 0 &&
              sparq_readout_section(".q8clip", tensor, sizeof tensor) == 0,
          "read-out section names are recognised");
    free(bytes);
    sparq_mfile_free(&f);
    sparq_mfile_free(&g);
}

int main(void)
{
    rng = check_seed(1616);
    check_params();
    check_case(4, 2, 9, 40, 21, 0.5);
    check_case(8, 4, 5, 96, 16, 0.8);
    check_case(2, 1, 17, 35, 7, 0.3);
    check_file();
    return check_done();
}
