// Random GEMM cases checked bit for bit against sparq_gemm_ref: one
// generator instead of a copy in each device check.
#include "sparq_gemm_case.h"

#include <stdlib.h>
#include <string.h>

#include "sparq_error.h"
#include "sparq_rng.h"

int sparq_gemm_case_reference(struct sparq_gemm_case *c, int width, int kept)
{
    sparq_packed_free(&c->w);
    struct sparq_pack_options opt = { SPARQ_GRID_FULL, NULL };
    int rc = sparq_pack(&c->w, c->wf, NULL, width, kept, c->out, c->in, &opt);
    if (rc)
        return rc;
    size_t n = (size_t)c->t * (size_t)c->out;
    sparq_gemm_ref(c->want, c->out, c->x, c->in, &c->w, c->t, 0);
    for (size_t i = 0; i < n; i++) // the accumulator wraps (unsigned add), as on the device
        c->want_acc[i] = (int32_t)((uint32_t)c->y0[i] + (uint32_t)c->want[i]);
    sparq_requant_ref(c->want8, c->out, c->want, c->out, c->qp, c->t, c->out);
    return SPARQ_OK;
}

int sparq_gemm_case_make(struct sparq_gemm_case *c, int t, int out, int in, int width, int kept, uint64_t *rng)
{
    memset(c, 0, sizeof *c);
    if (t < 1 || out < 1 || in < 1)
        return sparq_fail(SPARQ_EINVAL, "gemm case: shape %dx%dx%d is empty", t, out, in);
    c->t = t;
    c->out = out;
    c->in = in;
    size_t nw = (size_t)out * (size_t)in, nx = (size_t)t * (size_t)in, ny = (size_t)t * (size_t)out;
    c->wf = malloc(sizeof *c->wf * nw);
    c->x = malloc(nx);
    c->qp = malloc(sizeof *c->qp * (size_t)out);
    c->y = malloc(sizeof *c->y * ny);
    c->y8 = malloc(ny);
    c->y0 = malloc(sizeof *c->y0 * ny);
    c->want = malloc(sizeof *c->want * ny);
    c->want_acc = malloc(sizeof *c->want_acc * ny);
    c->want8 = malloc(ny);
    if (!c->wf || !c->x || !c->qp || !c->y || !c->y8 || !c->y0 || !c->want || !c->want_acc || !c->want8) {
        sparq_gemm_case_free(c);
        return sparq_fail(SPARQ_ENOMEM, "gemm case: out of memory for %dx%dx%d", t, out, in);
    }
    for (size_t i = 0; i < nw; i++)
        c->wf[i] = (float)((int)(sparq_rng_next(rng) % 2001) - 1000);
    for (size_t i = 0; i < nx; i++)
        c->x[i] = (int8_t)sparq_rng_next(rng);
    for (size_t i = 0; i < ny; i++)
        c->y[i] = c->y0[i] = (int32_t)sparq_rng_next(rng);
    memset(c->y8, 0, ny);
    // Shifts around 30: the products land across the whole int8 range,
    // clamped at both ends sometimes.
    for (int o = 0; o < out; o++) {
        c->qp[o].bias = (int32_t)(sparq_rng_next(rng) % 20001) - 10000;
        c->qp[o].mult = (int32_t)(sparq_rng_next(rng) & 0x7FFFFFFF);
        c->qp[o].shift = (int8_t)(20 + sparq_rng_next(rng) % 22);
    }
    int rc = sparq_gemm_case_reference(c, width, kept);
    if (rc)
        sparq_gemm_case_free(c);
    return rc;
}

size_t sparq_gemm_case_mismatches(const struct sparq_gemm_case *c, const int32_t *y, int accumulate,
                                  const int8_t *y8)
{
    size_t n = (size_t)c->t * (size_t)c->out, bad = 0;
    const int32_t *want = accumulate ? c->want_acc : c->want;
    for (size_t i = 0; i < n; i++)
        bad += (y && y[i] != want[i]) + (y8 && y8[i] != c->want8[i]);
    return bad;
}

void sparq_gemm_case_free(struct sparq_gemm_case *c)
{
    sparq_packed_free(&c->w);
    free(c->wf);
    free(c->x);
    free(c->qp);
    free(c->y);
    free(c->y8);
    free(c->y0);
    free(c->want);
    free(c->want_acc);
    free(c->want8);
    memset(c, 0, sizeof *c);
}

int sparq_gemm_case_chain_ref(int8_t *want, const struct sparq_gemm_case *c1, const struct sparq_gemm_case *c2,
                              const int8_t *lut, int t)
{
    const int in = c1->in, hid = c1->out, out = c2->out;
    int8_t *h = malloc((size_t)t * (size_t)hid);
    int32_t *acc = malloc(sizeof(int32_t) * (size_t)t * (size_t)(hid > out ? hid : out));
    if (!h || !acc) {
        free(h);
        free(acc);
        return SPARQ_ENOMEM;
    }
    sparq_gemm_ref(acc, hid, c1->x, in, &c1->w, t, 0);
    sparq_requant_ref(h, hid, acc, hid, c1->qp, t, hid);
    for (size_t i = 0; lut && i < (size_t)t * (size_t)hid; i++)
        h[i] = lut[h[i] + 128];
    sparq_gemm_ref(acc, out, h, hid, &c2->w, t, 0);
    sparq_requant_ref(want, out, acc, out, c2->qp, t, out);
    free(h);
    free(acc);
    return SPARQ_OK;
}
