// The int8 read-out of a compressed matmul: parameters, simulation and model
// file sections (sparq_readout.h).
#include "sparq_readout.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sparq_error.h"
#include "sparq_layers.h"
#include "sparq_quant.h"

int sparq_readout_channel(double clip, float w_scale, struct sparq_requant_params *p, float *deq)
{
    if (!(clip > 0.0) || !isfinite(clip))
        return sparq_fail(SPARQ_EINVAL, "read-out: clip level %g is not finite and positive", clip);
    int shift;
    int rc = sparq_requant_from_scale(127.0 / clip, &p->mult, &shift);
    if (rc)
        return rc;
    p->bias = 0;
    p->shift = (int8_t)shift;
    *deq = (float)(w_scale * ldexp(1.0, shift) / (double)p->mult);
    return SPARQ_OK;
}

void sparq_readout_quantize_rows(float *xcode, float *rs, const float *x, int N, int IN)
{
    for (int t = 0; t < N; t++) {
        const float *xr = x + (size_t)t * IN;
        float s = sparq_act_row_scale(xr, IN);
        rs[t] = s;
        float *qr = xcode + (size_t)t * IN;
        for (int k = 0; k < IN; k++) {
            float c = rintf(xr[k] / s);
            qr[k] = c > 127.0f ? 127.0f : c < -127.0f ? -127.0f : c;
        }
    }
}

int sparq_readout_acc(float *acc, float *rs, const float *x, int N, int IN, const float *wcode, int OUT)
{
    float *xcode = malloc(sizeof(float) * (size_t)N * IN);
    if (!xcode)
        return sparq_fail(SPARQ_ENOMEM, "read-out: out of memory for a %d x %d input", N, IN);
    sparq_readout_quantize_rows(xcode, rs, x, N, IN);
    linear_forward(acc, xcode, wcode, NULL, N, IN, OUT);
    free(xcode);
    return SPARQ_OK;
}

void sparq_readout_apply(float *out, const float *acc, const float *rs, int N, int OUT,
                         const struct sparq_requant_params *p, const float *deq, const float *bias)
{
    for (int t = 0; t < N; t++)
        for (int o = 0; o < OUT; o++) {
            size_t e = (size_t)t * OUT + o;
            // An exact integer below 2^24; beyond, the float sum is already
            // rounded and lrintf keeps what there is (int32 range saturates).
            float a = acc[e];
            int32_t v = a >= 2147483520.0f ? INT32_MAX : a <= -2147483648.0f ? INT32_MIN : (int32_t)lrintf(a);
            int8_t q = sparq_requant(v, p[o].bias, p[o].mult, p[o].shift);
            out[e] = sparq_readout_dequant(q, rs[t], deq[o], bias ? bias[o] : 0.0f);
        }
}

int sparq_readout_add(struct sparq_mfile *f, const char *tensor, const float *clip, int out)
{
    char name[SPARQ_MF_NAME_MAX + 8];
    int rc = SPARQ_OK;
    if (!sparq_mfile_find(f, SPARQ_READOUT_SECTION, SPARQ_MF_I32)) {
        int32_t v = SPARQ_READOUT_VERSION;
        rc = sparq_mfile_add_i32(f, SPARQ_READOUT_SECTION, &v, 1);
    }
    for (int o = 0; !rc && o < out; o++)
        if (!(clip[o] > 0.0f) || !isfinite(clip[o]))
            rc = sparq_fail(SPARQ_EINVAL, "read-out of %s: clip[%d] = %g, want a finite value > 0", tensor, o,
                            (double)clip[o]);
    if (!rc && snprintf(name, sizeof name, "%s%s", tensor, SPARQ_READOUT_SUFFIX) > SPARQ_MF_NAME_MAX)
        rc = sparq_fail(SPARQ_EINVAL, "read-out of %s: section name too long", tensor);
    return rc ? rc : sparq_mfile_add_f32(f, name, clip, (size_t)out);
}

int sparq_readout_present(const struct sparq_mfile *f, const char *label, int *present)
{
    *present = 0;
    const struct sparq_mf_section *s = sparq_mfile_find(f, SPARQ_READOUT_SECTION, SPARQ_MF_I32);
    if (!s)
        return SPARQ_OK;
    if (s->count != 1)
        return sparq_fail(SPARQ_EFORMAT, "%s: section '%s': %zu ints, expected 1 (the read-out version)", label,
                          SPARQ_READOUT_SECTION, s->count);
    int32_t v = ((const int32_t *)s->data)[0];
    if (v != SPARQ_READOUT_VERSION)
        return sparq_fail(SPARQ_EFORMAT,
                          "%s: section '%s': read-out version %d; this build reads version %d (a newer sparq "
                          "wrote the file)",
                          label, SPARQ_READOUT_SECTION, (int)v, SPARQ_READOUT_VERSION);
    *present = 1;
    return SPARQ_OK;
}

int sparq_readout_get(const struct sparq_mfile *f, const char *label, const char *tensor, int out,
                      const float **clip)
{
    *clip = NULL;
    int present;
    int rc = sparq_readout_present(f, label, &present);
    if (rc || !present)
        return rc;
    char name[SPARQ_MF_NAME_MAX + 8];
    snprintf(name, sizeof name, "%s%s", tensor, SPARQ_READOUT_SUFFIX);
    const struct sparq_mf_section *s = sparq_mfile_find(f, name, SPARQ_MF_F32);
    if (!s)
        return SPARQ_OK;
    if (s->count != (size_t)out)
        return sparq_fail(SPARQ_EFORMAT, "%s: section '%s': %zu floats, expected %d (one per output channel)", label,
                          name, s->count, out);
    const float *v = s->data;
    for (int o = 0; o < out; o++)
        if (!(v[o] > 0.0f) || !isfinite(v[o]) || !(127.0 / v[o] < 2147483648.0))
            return sparq_fail(SPARQ_EFORMAT, "%s: section '%s': clip[%d] = %g, want a finite value > 127 / 2^31",
                              label, name, o, (double)v[o]);
    *clip = v;
    return SPARQ_OK;
}

int sparq_readout_section(const char *name, char *tensor, size_t size)
{
    if (!strcmp(name, SPARQ_READOUT_SECTION))
        return 1;
    size_t n = strlen(name), k = strlen(SPARQ_READOUT_SUFFIX);
    if (n <= k || strcmp(name + n - k, SPARQ_READOUT_SUFFIX) || n - k >= size)
        return 0;
    memcpy(tensor, name, n - k);
    tensor[n - k] = 0;
    return 2;
}
