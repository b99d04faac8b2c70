// The feed-forward chain's integer parameters and model-file sections
// (sparq_chain.h): one definition for the cpu backend, the device path and
// fine-tuning.
#include "sparq_chain.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sparq_error.h"
#include "sparq_gemm_act.h"
#include "sparq_layers.h"
#include "sparq_readout.h"

float sparq_chain_swish(float x) { return x / (1.0f + expf(-x)); }

void sparq_chain_lut(int8_t lut[256], float s_1, float s_2)
{
    for (int i = 0; i < 256; i++) {
        float r = rintf(sparq_chain_swish((float)(i - 128) * s_1) / s_2);
        lut[i] = (int8_t)(r > 127.0f ? 127 : r < -127.0f ? -127 : (int)r);
    }
}

int32_t sparq_chain_bias(float b, float s_in, float s_w)
{
    double v = rint((double)b / ((double)s_in * (double)s_w));
    return v >= 2147483647.0 ? INT32_MAX : v <= -2147483648.0 ? INT32_MIN : (int32_t)v;
}

void sparq_chain_free(struct sparq_chain_ffn *c)
{
    free(c->q1);
    free(c->q2);
    free(c->deq2);
    c->q1 = c->q2 = NULL;
    c->deq2 = NULL;
}

int sparq_chain_make(struct sparq_chain_ffn *c, float a_in, float a_1, const float *s_w1, const float *b1, int F,
                     const float *s_w2, const float *clip2, int d)
{
    if (!(a_in > 0.0f) || !isfinite(a_in) || !(a_1 > 0.0f) || !isfinite(a_1))
        return sparq_fail(SPARQ_EINVAL, "FFN chain: clips A_in = %g, A_1 = %g, want finite values > 0", (double)a_in,
                          (double)a_1);
    if (!c->q1 || c->F != F)
        free(c->q1), c->q1 = sparq_malloc(sizeof *c->q1 * (size_t)F, "chain params");
    if (clip2 && (!c->q2 || c->d != d)) {
        free(c->q2), c->q2 = sparq_malloc(sizeof *c->q2 * (size_t)d, "chain params");
        free(c->deq2), c->deq2 = sparq_malloc(sizeof *c->deq2 * (size_t)d, "chain params");
    }
    if (!c->q1 || (clip2 && (!c->q2 || !c->deq2)))
        return SPARQ_ENOMEM;
    c->F = F;
    c->d = d;
    c->a_in = a_in;
    c->a_1 = a_1;
    c->s_in = a_in / 127.0f;
    c->s_1 = a_1 / 127.0f;
    c->s_2 = sparq_chain_swish(a_1) / 127.0f; // Swish is increasing above its minimum: the largest table output
    if (!(c->s_2 > 0.0f) || !(c->s_in > 0.0f) || !(c->s_1 > 0.0f))
        return sparq_fail(SPARQ_EINVAL, "FFN chain: clips A_in = %g, A_1 = %g give a zero scale", (double)a_in,
                          (double)a_1);
    for (int o = 0; o < F; o++) {
        double sx = (double)c->s_in * (double)s_w1[o];
        int shift;
        int rc = sparq_requant_from_scale(sx / (double)c->s_1, &c->q1[o].mult, &shift);
        if (rc)
            return sparq_fail(rc, "FFN chain: W1 channel %d: scale %g: %s", o, sx / c->s_1, sparq_last_error());
        c->q1[o].shift = (int8_t)shift;
        c->q1[o].bias = sparq_chain_bias(b1 ? b1[o] : 0.0f, c->s_in, s_w1[o]);
    }
    sparq_chain_lut(c->lut, c->s_1, c->s_2);
    for (int o = 0; clip2 && o < d; o++) {
        int rc = sparq_readout_channel(clip2[o], s_w2[o], &c->q2[o], &c->deq2[o]);
        if (rc)
            return sparq_fail(rc, "FFN chain: W2 channel %d: %s", o, sparq_last_error());
    }
    return SPARQ_OK;
}

void sparq_chain_hidden(int8_t *h, const int32_t *acc1, const struct sparq_chain_ffn *c, int t)
{
    // The device's requantization (sparq_requant_rows: sparq_requant bit for
    // bit, vectorized), then the table in place.
    sparq_requant_rows(h, c->F, acc1, c->F, c->q1, t, c->F);
    sparq_lut_bytes(h, (size_t)t * (size_t)c->F, c->lut);
}

void sparq_chain_out(int8_t *y8, const int32_t *acc2, const struct sparq_chain_ffn *c, int t)
{
    sparq_requant_rows(y8, c->d, acc2, c->d, c->q2, t, c->d);
}

int sparq_chain_add(struct sparq_mfile *f, const char *w1, float a_in, float a_1)
{
    char name[SPARQ_MF_NAME_MAX + 8];
    int rc = SPARQ_OK;
    if (!sparq_mfile_find(f, SPARQ_CHAIN_SECTION, SPARQ_MF_I32)) {
        int32_t v = SPARQ_CHAIN_VERSION;
        rc = sparq_mfile_add_i32(f, SPARQ_CHAIN_SECTION, &v, 1);
    }
    if (!rc && (!(a_in > 0.0f) || !isfinite(a_in) || !(a_1 > 0.0f) || !isfinite(a_1)))
        rc = sparq_fail(SPARQ_EINVAL, "FFN chain of %s: A_in = %g, A_1 = %g, want finite values > 0", w1,
                        (double)a_in, (double)a_1);
    if (!rc && snprintf(name, sizeof name, "%s%s", w1, SPARQ_CHAIN_SUFFIX) > SPARQ_MF_NAME_MAX)
        rc = sparq_fail(SPARQ_EINVAL, "FFN chain of %s: section name too long", w1);
    float v[2] = { a_in, a_1 };
    return rc ? rc : sparq_mfile_add_f32(f, name, v, 2);
}

int sparq_chain_present(const struct sparq_mfile *f, const char *label, int *present)
{
    *present = 0;
    const struct sparq_mf_section *s = sparq_mfile_find(f, SPARQ_CHAIN_SECTION, SPARQ_MF_I32);
    if (!s)
        return SPARQ_OK;
    if (s->count != 1)
        return sparq_fail(SPARQ_EFORMAT, "%s: section '%s': %zu ints, expected 1 (the chain version)", label,
                          SPARQ_CHAIN_SECTION, s->count);
    int32_t v = ((const int32_t *)s->data)[0];
    if (v != SPARQ_CHAIN_VERSION)
        return sparq_fail(SPARQ_EFORMAT, "%s: section '%s': chain version %d; this build reads version %d", label,
                          SPARQ_CHAIN_SECTION, (int)v, SPARQ_CHAIN_VERSION);
    *present = 1;
    return SPARQ_OK;
}

int sparq_chain_get(const struct sparq_mfile *f, const char *label, const char *w1, float *a_in, float *a_1,
                    int *found)
{
    *found = 0;
    int present;
    int rc = sparq_chain_present(f, label, &present);
    if (rc || !present)
        return rc;
    char name[SPARQ_MF_NAME_MAX + 8];
    snprintf(name, sizeof name, "%s%s", w1, SPARQ_CHAIN_SUFFIX);
    const struct sparq_mf_section *s = sparq_mfile_find(f, name, SPARQ_MF_F32);
    if (!s)
        return SPARQ_OK;
    const float *v = s->data;
    if (s->count != 2)
        return sparq_fail(SPARQ_EFORMAT, "%s: section '%s': %zu floats, expected 2 (A_in, A_1)", label, name,
                          s->count);
    // A_1 below 1e-30 would make Swish(A_1) / 127 underflow to a zero scale.
    for (int k = 0; k < 2; k++)
        if (!(v[k] > 1e-30f) || !isfinite(v[k]) || !(v[k] < 1e30f))
            return sparq_fail(SPARQ_EFORMAT, "%s: section '%s': %s = %g, want a finite value in (1e-30, 1e30)",
                              label, name, k ? "A_1" : "A_in", (double)v[k]);
    *a_in = v[0];
    *a_1 = v[1];
    *found = 1;
    return SPARQ_OK;
}

int sparq_chain_section(const char *name, char *tensor, size_t size)
{
    if (!strcmp(name, SPARQ_CHAIN_SECTION))
        return 1;
    size_t n = strlen(name), k = strlen(SPARQ_CHAIN_SUFFIX);
    if (n <= k || strcmp(name + n - k, SPARQ_CHAIN_SUFFIX) || n - k >= size)
        return 0;
    memcpy(tensor, name, n - k);
    tensor[n - k] = 0;
    return 2;
}

int sparq_chain_names(const char *w1, char *w2, char *b1, char *b2, size_t size)
{
    int l, k, n = 0;
    if (sscanf(w1, "layer%d.ffn%d_w1%n", &l, &k, &n) != 2 || w1[n] || (k != 1 && k != 2) || l < 0)
        return 0;
    snprintf(w2, size, "layer%d.ffn%d_w2", l, k);
    snprintf(b1, size, "layer%d.ffn%d_b1", l, k);
    snprintf(b2, size, "layer%d.ffn%d_b2", l, k);
    return 1;
}

int sparq_chain_sim_acc1(float *acc1, const float *x, int N, int d, const float *w1code, int F, float s_in)
{
    size_t n = (size_t)N * d;
    int8_t *q = malloc(n ? n : 1);
    float *xc = malloc(sizeof(float) * (n ? n : 1));
    if (!q || !xc) {
        free(q);
        free(xc);
        return sparq_fail(SPARQ_ENOMEM, "FFN chain: out of memory for a %d x %d input", N, d);
    }
    sparq_act_quantize(q, x, (int)n, s_in); // the runtime's quantizer (true division, rintf)
    for (size_t i = 0; i < n; i++)
        xc[i] = (float)q[i];
    linear_forward(acc1, xc, w1code, NULL, N, d, F);
    free(q);
    free(xc);
    return SPARQ_OK;
}

// An exact integer accumulator held in a float, as the device's int32.
static int32_t acc_int(float a)
{
    return a >= 2147483520.0f ? INT32_MAX : a <= -2147483648.0f ? INT32_MIN : (int32_t)lrintf(a);
}

void sparq_chain_sim_q1(int8_t *q1, float *z, const float *acc1, const struct sparq_chain_ffn *c, int N)
{
    const int F = c->F;
    for (int r = 0; r < N; r++)
        for (int o = 0; o < F; o++) {
            size_t e = (size_t)r * F + o;
            q1[e] = sparq_requant(acc_int(acc1[e]), c->q1[o].bias, c->q1[o].mult, c->q1[o].shift);
            if (z)
                z[e] = (float)q1[e] * c->s_1;
        }
}

int sparq_chain_sim_w2(float *y, float *acc2, const int8_t *q1, const struct sparq_chain_ffn *c, const float *w2code,
                       const float *b2, int N)
{
    const int F = c->F, d = c->d;
    size_t n = (size_t)N * F;
    float *h = malloc(sizeof(float) * (n ? n : 1));
    float *acc = acc2 ? acc2 : malloc(sizeof(float) * ((size_t)N * d + 1));
    if (!h || !acc) {
        free(h);
        if (!acc2)
            free(acc);
        return sparq_fail(SPARQ_ENOMEM, "FFN chain: out of memory for a %d x %d hidden activation", N, F);
    }
    for (size_t i = 0; i < n; i++)
        h[i] = (float)c->lut[q1[i] + 128];
    linear_forward(acc, h, w2code, NULL, N, F, d);
    for (int r = 0; c->q2 && y && r < N; r++)
        for (int o = 0; o < d; o++) {
            size_t e = (size_t)r * d + o;
            int8_t q = sparq_requant(acc_int(acc[e]), c->q2[o].bias, c->q2[o].mult, c->q2[o].shift);
            y[e] = (float)q * (c->s_2 * c->deq2[o]) + (b2 ? b2[o] : 0.0f);
        }
    free(h);
    if (!acc2)
        free(acc);
    return SPARQ_OK;
}
