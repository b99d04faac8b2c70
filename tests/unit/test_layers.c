#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
// Every layer's backward against central finite differences of its forward.
// loss = sum(out * R) for a fixed random R, accumulated in double; the
// tolerance for each layer is a named constant with its reason.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "sparq_ctc.h"
#include "sparq_fbank.h"
#include "sparq_layers.h"
#include "sparq_rng.h"
#include "sparq_vmath.h"

// Float32 forward passes: step 1e-2 keeps the rounding error of (L+ - L-)
// well below the O(h^2) truncation error for these smooth functions.
#define FD_STEP 1e-2f
// Smooth pointwise/affine layers: relative error of the difference quotient.
#define TOL_SMOOTH 2e-3
// Softmax attention and normalisation layers (sum over many terms).
#define TOL_NORM 5e-3
// Floor under the relative-error denominator: gradients this small are
// compared absolutely (loss values are O(1)).
#define GRAD_FLOOR 1e-3
// Entries probed per tensor.
#define PROBES 40

static uint64_t rng;
static void fill(float *x, size_t n, float scale)
{
    for (size_t i = 0; i < n; i++)
        x[i] = (float)((2.0 * sparq_rng_uniform(&rng) - 1.0) * scale);
}
static float *rnd(size_t n, float scale)
{
    float *x = malloc(sizeof(float) * (n ? n : 1));
    fill(x, n, scale);
    return x;
}
static float *zeros(size_t n) { return calloc(n ? n : 1, sizeof(float)); }

typedef double (*loss_fn)(void *ctx);

// Max relative error between analytic gradient g and finite differences of f
// with respect to x over PROBES random entries.
static double fd_check(float *x, size_t n, const float *g, loss_fn f, void *ctx)
{
    double worst = 0.0;
    for (int p = 0; p < PROBES; p++) {
        size_t i = (size_t)(sparq_rng_next(&rng) % n);
        float keep = x[i];
        x[i] = keep + FD_STEP;
        double lp = f(ctx);
        x[i] = keep - FD_STEP;
        double lm = f(ctx);
        x[i] = keep;
        double num = (lp - lm) / (2.0 * (double)FD_STEP);
        double den = fabs(num) + fabs((double)g[i]);
        double err = fabs(num - g[i]) / (den > GRAD_FLOOR ? den : GRAD_FLOOR);
        if (err > worst)
            worst = err;
    }
    return worst;
}

static double dot(const float *a, const float *b, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += (double)a[i] * b[i];
    return s;
}

// ---- linear --------------------------------------------------------------
struct lin { int N, IN, OUT; float *x, *w, *b, *out, *R; };
static double lin_loss(void *c)
{
    struct lin *s = c;
    linear_forward(s->out, s->x, s->w, s->b, s->N, s->IN, s->OUT);
    return dot(s->out, s->R, (size_t)s->N * s->OUT);
}
static void test_linear(void)
{
    struct lin s = { 5, 7, 6 };
    s.x = rnd(35, 1), s.w = rnd(42, 1), s.b = rnd(6, 1), s.out = zeros(30), s.R = rnd(30, 1);
    float *dx = zeros(35), *dw = zeros(42), *db = zeros(6);
    lin_loss(&s);
    linear_backward(dx, dw, db, s.R, s.x, s.w, s.N, s.IN, s.OUT);
    CHECK(fd_check(s.x, 35, dx, lin_loss, &s) < TOL_SMOOTH, "linear: d input");
    CHECK(fd_check(s.w, 42, dw, lin_loss, &s) < TOL_SMOOTH, "linear: d weight");
    CHECK(fd_check(s.b, 6, db, lin_loss, &s) < TOL_SMOOTH, "linear: d bias");
    // backward adds: a second call doubles the gradient
    float before = dw[3];
    linear_backward(NULL, dw, NULL, s.R, s.x, s.w, s.N, s.IN, s.OUT);
    CHECK(fabsf(dw[3] - 2 * before) <= 1e-5f * fabsf(before) + 1e-6f, "linear: backward accumulates");
    free(s.x), free(s.w), free(s.b), free(s.out), free(s.R), free(dx), free(dw), free(db);
}

// ---- layernorm -----------------------------------------------------------
struct ln { int N, C; float *x, *w, *b, *out, *m, *r, *R; };
static double ln_loss(void *c)
{
    struct ln *s = c;
    layernorm_forward(s->out, s->m, s->r, s->x, s->w, s->b, s->N, s->C);
    return dot(s->out, s->R, (size_t)s->N * s->C);
}
static void test_layernorm(void)
{
    struct ln s = { 4, 9 };
    size_t n = 36;
    s.x = rnd(n, 2), s.w = rnd(9, 1), s.b = rnd(9, 1), s.out = zeros(n), s.m = zeros(4), s.r = zeros(4);
    s.R = rnd(n, 1);
    float *dx = zeros(n), *dw = zeros(9), *db = zeros(9);
    ln_loss(&s);
    layernorm_backward(dx, dw, db, s.R, s.x, s.w, s.m, s.r, s.N, s.C);
    CHECK(fd_check(s.x, n, dx, ln_loss, &s) < TOL_NORM, "layernorm: d input");
    CHECK(fd_check(s.w, 9, dw, ln_loss, &s) < TOL_SMOOTH, "layernorm: d weight");
    CHECK(fd_check(s.b, 9, db, ln_loss, &s) < TOL_SMOOTH, "layernorm: d bias");
    free(s.x), free(s.w), free(s.b), free(s.out), free(s.m), free(s.r), free(s.R), free(dx), free(dw), free(db);
}

// ---- silu, glu -----------------------------------------------------------
struct pw { int N, C, glu; float *x, *out, *R; };
static double pw_loss(void *c)
{
    struct pw *s = c;
    if (s->glu)
        glu_forward(s->out, s->x, s->N, s->C);
    else
        silu_forward(s->out, s->x, (size_t)s->N * s->C);
    return dot(s->out, s->R, (size_t)s->N * s->C);
}
static void test_pointwise(void)
{
    for (int glu = 0; glu <= 1; glu++) {
        struct pw s = { 3, 8, glu };
        size_t nin = (size_t)s.N * s.C * (glu ? 2 : 1);
        s.x = rnd(nin, 3), s.out = zeros(24), s.R = rnd(24, 1);
        float *dx = zeros(nin);
        pw_loss(&s);
        if (glu)
            glu_backward(dx, s.R, s.x, s.N, s.C);
        else
            silu_backward(dx, s.R, s.x, 24);
        CHECK(fd_check(s.x, nin, dx, pw_loss, &s) < TOL_SMOOTH, "%s: d input", glu ? "glu" : "silu");
        free(s.x), free(s.out), free(s.R), free(dx);
    }
}

// ---- attention -----------------------------------------------------------
struct att { int B, T, d, H; int *lens; float *qkv, *out, *P, *R; };
static double att_loss(void *c)
{
    struct att *s = c;
    attention_forward(s->out, s->P, s->qkv, s->lens, s->B, s->T, s->d, s->H);
    return dot(s->out, s->R, (size_t)s->B * s->T * s->d);
}
static void test_attention(void)
{
    int lens[2] = { 6, 4 };
    struct att s = { 2, 6, 8, 2, lens };
    size_t nq = (size_t)2 * 6 * 24, no = 2 * 6 * 8;
    s.qkv = rnd(nq, 1.5f), s.out = zeros(no), s.P = zeros(2 * 2 * 36), s.R = rnd(no, 1);
    // dout at padded query rows is zero in the model (CTC ignores them).
    for (int t = 4; t < 6; t++)
        memset(s.R + (size_t)(6 + t) * 8, 0, sizeof(float) * 8);
    float *dq = zeros(nq);
    att_loss(&s);
    attention_backward(dq, s.R, s.qkv, s.P, lens, 2, 6, 8, 2);
    CHECK(fd_check(s.qkv, nq, dq, att_loss, &s) < TOL_NORM, "attention: d qkv (with key padding)");
    // padded keys/values of utterance 1 get no gradient and change nothing
    double base = att_loss(&s);
    float *pad = s.qkv + (size_t)(6 + 5) * 24;
    fill(pad, 24, 100.0f);
    double after = att_loss(&s);
    double gpad = 0.0;
    for (int j = 0; j < 24; j++)
        gpad += fabs(dq[(size_t)(6 + 5) * 24 + j]);
    CHECK(base == after && gpad == 0.0, "attention: padded frames neither affect outputs nor get gradient");
    free(s.qkv), free(s.out), free(s.P), free(s.R), free(dq);
}

// ---- depthwise conv ------------------------------------------------------
struct dwc { int B, T, C, K; int *lens; float *x, *w, *b, *out, *R; };
static double dwc_loss(void *c)
{
    struct dwc *s = c;
    dwconv_forward(s->out, s->x, s->w, s->b, s->lens, s->B, s->T, s->C, s->K);
    return dot(s->out, s->R, (size_t)s->B * s->T * s->C);
}
static void test_dwconv(void)
{
    int lens[2] = { 7, 5 };
    struct dwc s = { 2, 7, 4, 5, lens };
    size_t n = 56;
    s.x = rnd(n, 1), s.w = rnd(20, 1), s.b = rnd(4, 1), s.out = zeros(n), s.R = rnd(n, 1);
    float *dx = zeros(n), *dw = zeros(20), *db = zeros(4);
    dwc_loss(&s);
    dwconv_backward(dx, dw, db, s.R, s.x, s.w, lens, 2, 7, 4, 5);
    CHECK(fd_check(s.x, n, dx, dwc_loss, &s) < TOL_SMOOTH, "dwconv: d input");
    CHECK(fd_check(s.w, 20, dw, dwc_loss, &s) < TOL_SMOOTH, "dwconv: d weight");
    CHECK(fd_check(s.b, 4, db, dwc_loss, &s) < TOL_SMOOTH, "dwconv: d bias");
    double base = dwc_loss(&s);
    fill(s.x + (size_t)(7 + 5) * 4, 8, 50.0f); // frames 5, 6 of utterance 1 are padding
    CHECK(dwc_loss(&s) == base, "dwconv: padded frames do not leak into valid outputs");
    free(s.x), free(s.w), free(s.b), free(s.out), free(s.R), free(dx), free(dw), free(db);
}

// ---- batchnorm -----------------------------------------------------------
struct bn { int B, T, C, training; int *lens; float *x, *w, *b, *out, *m, *r, *rm, *rv, *R; };
static double bn_loss(void *c)
{
    struct bn *s = c;
    batchnorm_forward(s->out, s->m, s->r, s->x, s->w, s->b, s->rm, s->rv, s->lens, s->B, s->T, s->C, s->training,
                      NULL);
    return dot(s->out, s->R, (size_t)s->B * s->T * s->C);
}
static void test_batchnorm(void)
{
    int lens[2] = { 5, 3 };
    for (int training = 1; training >= 0; training--) {
        struct bn s = { 2, 5, 3, training, lens };
        size_t n = 30;
        s.x = rnd(n, 2), s.w = rnd(3, 1), s.b = rnd(3, 1), s.out = zeros(n), s.m = zeros(3), s.r = zeros(3);
        s.rm = rnd(3, 0.5f), s.rv = rnd(3, 0.5f), s.R = rnd(n, 1);
        for (int c = 0; c < 3; c++)
            s.rv[c] += 1.0f;
        // Running stats must not drift while differencing: pass copies each time in training mode.
        float rm0[3], rv0[3];
        memcpy(rm0, s.rm, sizeof rm0), memcpy(rv0, s.rv, sizeof rv0);
        float *dx = zeros(n), *dw = zeros(3), *db = zeros(3);
        bn_loss(&s);
        batchnorm_backward(dx, dw, db, s.R, s.x, s.w, s.m, s.r, lens, 2, 5, 3, training, NULL);
        const char *mode = training ? "train" : "eval";
        CHECK(fd_check(s.x, n, dx, bn_loss, &s) < TOL_NORM, "batchnorm %s: d input", mode);
        CHECK(fd_check(s.w, 3, dw, bn_loss, &s) < TOL_SMOOTH, "batchnorm %s: d weight", mode);
        CHECK(fd_check(s.b, 3, db, bn_loss, &s) < TOL_SMOOTH, "batchnorm %s: d bias", mode);
        memcpy(s.rm, rm0, sizeof rm0), memcpy(s.rv, rv0, sizeof rv0);
        double base = bn_loss(&s);
        memcpy(s.rm, rm0, sizeof rm0), memcpy(s.rv, rv0, sizeof rv0);
        fill(s.x + (size_t)(5 + 3) * 3, 6, 80.0f); // padded frames of utterance 1
        CHECK(bn_loss(&s) == base, "batchnorm %s: padded frames do not enter the statistics", mode);
        free(s.x), free(s.w), free(s.b), free(s.out), free(s.m), free(s.r), free(s.rm), free(s.rv), free(s.R);
        free(dx), free(dw), free(db);
    }
    // running statistics: momentum 0.1, unbiased variance, valid frames only
    int l1[1] = { 4 };
    float x[6] = { 1, 2, 3, 6, 100, -100 }, w = 1, b = 0, out[6], m, r, rm = 0, rv = 1;
    batchnorm_forward(out, &m, &r, x, &w, &b, &rm, &rv, l1, 1, 6, 1, 1, NULL);
    // mean 3, unbiased var (4+1+0+9)/3
    CHECK(fabsf(rm - 0.3f) < 1e-6f && fabsf(rv - (0.9f + 0.1f * 14.0f / 3.0f)) < 1e-6f,
          "batchnorm: running stats %.6f %.6f", rm, rv);
}

// ---- hooks ---------------------------------------------------------------
static int hook_calls;
static int take_over(void *ctx, float *out, const float *inp, const float *w, const float *b, int N, int IN, int OUT)
{
    (void)inp, (void)w, (void)b, (void)IN;
    hook_calls++;
    for (int i = 0; i < N * OUT; i++)
        out[i] = *(const float *)ctx;
    return 1;
}
static int decline(void *ctx, float *out, const float *inp, const float *w, const float *b, int N, int IN, int OUT)
{
    (void)ctx, (void)out, (void)inp, (void)w, (void)b, (void)N, (void)IN, (void)OUT;
    hook_calls++;
    return 0;
}
// A hook that ran a whole module in this call: out left as it was.
static int whole_module(void *ctx, float *out, const float *inp, const float *w, const float *b, int N, int IN, int OUT)
{
    (void)ctx, (void)out, (void)inp, (void)w, (void)b, (void)N, (void)IN, (void)OUT;
    hook_calls++;
    return SPARQ_LINEAR_NO_ACT;
}
// Two replicas holding the same batch: every sum is twice this one's.
static void twin_sum(void *ctx, double *buf, size_t n)
{
    (*(int *)ctx)++;
    for (size_t i = 0; i < n; i++)
        buf[i] *= 2.0;
}

static void test_hooks(void)
{
    float *x = rnd(4 * 5, 1), *w = rnd(3 * 5, 1), *b = rnd(3, 1), *ref = zeros(12), *out = zeros(12), v = 42.0f;
    linear_forward(ref, x, w, b, 4, 5, 3);
    struct sparq_linear_hook h = { take_over, &v };
    hook_calls = 0;
    linear_forward_hooked(&h, out, x, w, b, 4, 5, 3);
    int all_v = 1;
    for (int i = 0; i < 12; i++)
        all_v &= out[i] == v;
    CHECK(hook_calls == 1 && all_v, "linear hook that takes over computes the output");
    h.fn = decline;
    linear_forward_hooked(&h, out, x, w, b, 4, 5, 3);
    CHECK(hook_calls == 2 && memcmp(out, ref, sizeof(float) * 12) == 0,
          "linear hook that declines: the float path, bit for bit");
    h.fn = whole_module;
    for (int i = 0; i < 12; i++)
        out[i] = NAN;
    linear_forward_hooked(&h, out, x, w, b, 4, 5, 3);
    int zero = 1;
    for (int i = 0; i < 12; i++)
        zero &= out[i] == 0.0f && !signbit(out[i]);
    CHECK(hook_calls == 3 && zero, "linear hook that ran the whole module (SPARQ_LINEAR_NO_ACT): zeros, as before");
    free(x), free(w), free(b), free(ref), free(out);

    // BatchNorm over two identical replicas normalises exactly as one alone.
    int lens[2] = { 5, 3 }, sums = 0;
    struct sparq_batch_sum twins = { twin_sum, &sums };
    size_t n = 30;
    float *bx = rnd(n, 2), *bw = rnd(3, 1), *bb = rnd(3, 1), *g = rnd(n, 1);
    float *o1 = zeros(n), *o2 = zeros(n), *d1 = zeros(n), *d2 = zeros(n), m[3], r[3], rm[3] = { 0 }, rv[3] = { 1, 1, 1 };
    batchnorm_forward(o1, m, r, bx, bw, bb, rm, rv, lens, 2, 5, 3, 1, NULL);
    batchnorm_backward(d1, NULL, NULL, g, bx, bw, m, r, lens, 2, 5, 3, 1, NULL);
    batchnorm_forward(o2, m, r, bx, bw, bb, rm, rv, lens, 2, 5, 3, 1, &twins);
    CHECK(sums == 2 && memcmp(o1, o2, sizeof(float) * n) == 0,
          "batchnorm forward sums over replicas twice (%d), twin replicas = one", sums);
    batchnorm_backward(d2, NULL, NULL, g, bx, bw, m, r, lens, 2, 5, 3, 1, &twins);
    CHECK(sums == 3 && memcmp(d1, d2, sizeof(float) * n) == 0,
          "batchnorm backward sums once more (%d), same input gradient", sums);
    batchnorm_forward_idle(&twins, 3);
    batchnorm_backward_idle(&twins, 3);
    batchnorm_forward_idle(NULL, 3);
    batchnorm_backward_idle(NULL, 3);
    CHECK(sums == 6, "an idle replica makes the same 3 sums per layer (%d), none without a sum", sums - 3);
    free(bx), free(bw), free(bb), free(g), free(o1), free(o2), free(d1), free(d2);
}

// ---- conv2d stride 2 -----------------------------------------------------
struct cv { int tout, Fin, Cin, Cout; float *x, *w, *b, *out, *col, *R; };
static double cv_loss(void *c)
{
    struct cv *s = c;
    conv2d_s2_forward(NULL, s->out, s->x, s->w, s->b, s->col, s->tout, s->Fin, s->Cin, s->Cout);
    return dot(s->out, s->R, (size_t)s->tout * ((s->Fin - 1) / 2) * s->Cout);
}
static void test_conv2d(void)
{
    struct cv s = { 3, 9, 2, 3 };
    int Tin = 7, Fout = 4;
    size_t nx = (size_t)Tin * 9 * 2, nw = 3 * 9 * 2, no = (size_t)3 * Fout * 3;
    s.x = rnd(nx, 1), s.w = rnd(nw, 1), s.b = rnd(3, 1), s.out = zeros(no), s.R = rnd(no, 1);
    s.col = zeros((size_t)3 * Fout * 18);
    float *dcol = zeros((size_t)3 * Fout * 18), *dx = zeros(nx), *dw = zeros(nw), *db = zeros(3);
    cv_loss(&s);
    conv2d_s2_backward(dx, dw, db, s.R, s.x, s.w, s.col, dcol, 3, 9, 2, 3);
    CHECK(fd_check(s.x, nx, dx, cv_loss, &s) < TOL_SMOOTH, "conv2d s2: d input");
    CHECK(fd_check(s.w, nw, dw, cv_loss, &s) < TOL_SMOOTH, "conv2d s2: d weight");
    CHECK(fd_check(s.b, 3, db, cv_loss, &s) < TOL_SMOOTH, "conv2d s2: d bias");
    // one output against a direct sum: out[t=1][f=2][o=1]
    double ref = s.b[1];
    for (int kh = 0; kh < 3; kh++)
        for (int kw = 0; kw < 3; kw++)
            for (int ci = 0; ci < 2; ci++)
                ref += (double)s.w[((1 * 3 + kh) * 3 + kw) * 2 + ci] * s.x[((2 + kh) * 9 + (4 + kw)) * 2 + ci];
    cv_loss(&s);
    CHECK(fabs(s.out[(1 * Fout + 2) * 3 + 1] - ref) < 1e-5, "conv2d s2: direct sum");
    free(s.x), free(s.w), free(s.b), free(s.out), free(s.R), free(s.col), free(dcol), free(dx), free(dw), free(db);

    // One input channel (the first conv: im2col copies 3 floats per row
    // without memcpy): every output against a direct sum, odd Fin = 11.
    enum { T1 = 4, F1 = 11, FO = 5, CO = 2 };
    float *x = rnd((size_t)(2 * T1 + 1) * F1, 1), *w = rnd(CO * 9, 1), *b = rnd(CO, 1), *out = zeros(T1 * FO * CO);
    float *col = zeros(T1 * FO * 9);
    conv2d_s2_forward(NULL, out, x, w, b, col, T1, F1, 1, CO);
    double worst = 0;
    for (int t = 0; t < T1; t++)
        for (int f = 0; f < FO; f++)
            for (int o = 0; o < CO; o++) {
                double r = b[o];
                for (int kh = 0; kh < 3; kh++)
                    for (int kw = 0; kw < 3; kw++)
                        r += (double)w[o * 9 + kh * 3 + kw] * x[(2 * t + kh) * F1 + 2 * f + kw];
                worst = fmax(worst, fabs(out[(t * FO + f) * CO + o] - r));
            }
    CHECK(worst < 1e-5, "conv2d s2, one input channel: every output == a direct sum (worst %.2g)", worst);
    free(x), free(w), free(b), free(out), free(col);
}

// ---- depthwise conv2d stride 2 (dwsep4 front-end) ----------------------
struct dv { int tout, Fin, C; float *x, *w, *b, *out, *R; };
static double dv_loss(void *c)
{
    struct dv *s = c;
    dwconv2d_s2_forward(s->out, s->x, s->w, s->b, s->tout, s->Fin, s->C);
    return dot(s->out, s->R, (size_t)s->tout * ((s->Fin - 1) / 2) * s->C);
}
static void test_dwconv2d(void)
{
    // Fin = 10 (even, like 80 mels): the last input column is never read.
    struct dv s = { 3, 10, 5 };
    int Tin = 7, Fout = 4;
    size_t nx = (size_t)Tin * 10 * 5, nw = 5 * 9, no = (size_t)3 * Fout * 5;
    s.x = rnd(nx, 1), s.w = rnd(nw, 1), s.b = rnd(5, 1), s.out = zeros(no), s.R = rnd(no, 1);
    float *dx = zeros(nx), *dw = zeros(nw), *db = zeros(5);
    dv_loss(&s);
    dwconv2d_s2_backward(dx, dw, db, s.R, s.x, s.w, 3, 10, 5);
    CHECK(fd_check(s.x, nx, dx, dv_loss, &s) < TOL_SMOOTH, "depthwise conv2d s2: d input");
    CHECK(fd_check(s.w, nw, dw, dv_loss, &s) < TOL_SMOOTH, "depthwise conv2d s2: d weight");
    CHECK(fd_check(s.b, 5, db, dv_loss, &s) < TOL_SMOOTH, "depthwise conv2d s2: d bias");
    // one output against a direct sum: out[t=2][f=3][c=4], w (C, 3, 3)
    double ref = s.b[4];
    for (int kh = 0; kh < 3; kh++)
        for (int kw = 0; kw < 3; kw++)
            ref += (double)s.w[(4 * 3 + kh) * 3 + kw] * s.x[((4 + kh) * 10 + (6 + kw)) * 5 + 4];
    dv_loss(&s);
    CHECK(fabs(s.out[(2 * Fout + 3) * 5 + 4] - ref) < 1e-5, "depthwise conv2d s2: direct sum");
    free(s.x), free(s.w), free(s.b), free(s.out), free(s.R), free(dx), free(dw), free(db);
}

// ---- CTC -----------------------------------------------------------------
struct ctc { int T, V, L; int *lab; float *x; };
static double ctc_l(void *c)
{
    struct ctc *s = c;
    return sparq_ctc_loss(s->x, s->T, s->V, s->lab, s->L, 1.0f, NULL);
}
static void test_ctc(void)
{
    int lab[4] = { 3, 3, 5, 1 };
    struct ctc s = { 9, 6, 4, lab };
    s.x = rnd(54, 2);
    float *g = zeros(54);
    sparq_ctc_loss(s.x, 9, 6, lab, 4, 1.0f, g);
    CHECK(fd_check(s.x, 54, g, ctc_l, &s) < TOL_SMOOTH, "ctc: d logits (repeated label)");
    // brute force over all 6^3 paths for T=3, labels {1,2}
    float x3[18];
    fill(x3, 18, 2);
    int l2[2] = { 1, 2 };
    double tot = 0.0;
    for (int a = 0; a < 6; a++)
        for (int b = 0; b < 6; b++)
            for (int c = 0; c < 6; c++) {
                int path[3] = { a, b, c }, out[3], n = 0, prev = -1;
                for (int t = 0; t < 3; t++) {
                    if (path[t] != 0 && path[t] != prev)
                        out[n++] = path[t];
                    prev = path[t];
                }
                if (n != 2 || out[0] != 1 || out[1] != 2)
                    continue;
                double p = 1.0;
                for (int t = 0; t < 3; t++) {
                    double z = 0.0;
                    for (int k = 0; k < 6; k++)
                        z += exp(x3[t * 6 + k]);
                    p *= exp(x3[t * 6 + path[t]]) / z;
                }
                tot += p;
            }
    double l = sparq_ctc_loss(x3, 3, 6, l2, 2, 1.0f, NULL);
    CHECK(fabs(l + log(tot)) < 1e-9, "ctc: loss equals brute-force path sum (%.9f vs %.9f)", l, -log(tot));
    int rep[2] = { 2, 2 };
    CHECK(isinf(sparq_ctc_loss(x3, 2, 6, rep, 2, 1.0f, g)), "ctc: infeasible alignment gives infinity");
    free(s.x), free(g);
}

// Inverted dropout: kept values scaled by exactly 1/(1-p), about p dropped,
// the same seed gives the same mask, p = 0 changes nothing.
static void test_dropout(void)
{
    const size_t n = 200000;
    const float p = 0.25f;
    uint64_t seed = sparq_rng_next(&rng);
    float *x = malloc(sizeof(float) * n), *y = malloc(sizeof(float) * n);
    for (size_t i = 0; i < n; i++)
        x[i] = y[i] = 1.0f + (float)(i % 7);
    dropout_apply(x, n, p, seed);
    size_t kept = 0, bad = 0;
    for (size_t i = 0; i < n; i++) {
        float want = (1.0f + (float)(i % 7)) * (1.0f / (1.0f - p));
        if (x[i] != 0.0f) {
            kept++;
            bad += x[i] != want;
        }
    }
    double frac = (double)kept / (double)n; // binomial sd 0.001
    CHECK(bad == 0 && fabs(frac - (1.0 - p)) < 0.01,
          "dropout %.2f: kept %.4f of the values, each scaled by 1/(1-p) (%zu wrong)", (double)p, frac, bad);
    dropout_apply(y, n, p, seed);
    int same = !memcmp(x, y, sizeof(float) * n);
    for (size_t i = 0; i < n; i++)
        y[i] = 1.0f + (float)(i % 7);
    dropout_apply(y, n, p, seed + 1);
    size_t differ = 0;
    for (size_t i = 0; i < n; i++)
        differ += (x[i] == 0.0f) != (y[i] == 0.0f);
    for (size_t i = 0; i < n; i++)
        y[i] = 1.0f + (float)(i % 7);
    dropout_apply(y, n, 0.0f, seed);
    size_t touched = 0;
    for (size_t i = 0; i < n; i++)
        touched += y[i] != 1.0f + (float)(i % 7);
    CHECK(same && differ > n / 4 && touched == 0,
          "dropout masks replay with their seed, another seed differs in %zu places, p = 0 changes nothing", differ);
    free(x);
    free(y);
}

// ---- vectorized exp and the ops built on it (sparq_vmath.h) -------------
// Error of sparq_expf in ulps of the correctly rounded float exp (from
// double exp: off by at most one double ulp, far below a float ulp).
static double exp_ulps(float x)
{
    double ref = exp((double)x);
    float rf = (float)ref;
    double ulp = (double)nextafterf(rf, INFINITY) - (double)rf;
    if (!(ulp > 0))
        ulp = ldexp(1.0, -149);
    return fabs((double)sparq_expf(x) - ref) / ulp;
}

// 2 ulp: the documented bound (sparq_vmath.h); SPARQ_VMATH_EXHAUSTIVE=1 sweeps
// every float of [-87.3, 88.7] instead of a random million.
#define EXP_MAX_ULPS 2.0
static void test_vmath_exp(void)
{
    double worst = 0;
    float at = 0;
    if (getenv("SPARQ_VMATH_EXHAUSTIVE")) {
        for (float x = -87.3f; x <= 88.7f; x = nextafterf(x, INFINITY)) {
            double e = exp_ulps(x);
            if (e > worst)
                worst = e, at = x;
        }
    } else {
        for (int i = 0; i < 1000000; i++) {
            float x = (float)(-87.3 + 176.0 * sparq_rng_uniform(&rng));
            double e = exp_ulps(x);
            if (e > worst)
                worst = e, at = x;
        }
    }
    printf("# sparq_expf: max %.3f ulp at %.9g\n", worst, at);
    CHECK(worst <= EXP_MAX_ULPS, "sparq_expf within %.1f ulp on [-87.3, 88.7] (max %.3f at %.9g)", EXP_MAX_ULPS,
          worst, at);
    double sub = 0; // subnormal results: absolute error in units of 2^-149
    for (float x = -103.9f; x < -87.4f; x += 0.0137f) {
        double e = fabs((double)sparq_expf(x) - exp((double)x)) / ldexp(1.0, -149);
        sub = e > sub ? e : sub;
    }
    CHECK(sub <= 1.0, "sparq_expf subnormal range within 2^-149 (max %.3f)", sub);
    CHECK(sparq_expf(0.0f) == 1.0f && sparq_expf(-INFINITY) == 0.0f && sparq_expf(INFINITY) == INFINITY &&
              sparq_expf(89.0f) == INFINITY && sparq_expf(-105.0f) == 0.0f && isnan(sparq_expf(NAN)) &&
              sparq_expf(88.7f) < INFINITY,
          "sparq_expf special values (0, +-inf, NaN, overflow, underflow)");
}

static int same_bits(const float *a, const float *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!(isnan(a[i]) && isnan(b[i])) && memcmp(&a[i], &b[i], sizeof(float)))
            return 0;
    return 1;
}

// Every path against the scalar definitions, bit for bit, on ragged lengths
// with special values mixed in.
static void test_vmath_paths(void)
{
    static const char *const paths[] = { "avx2", "avx512" };
    enum { MAXN = 300 };
    float x[MAXN], g[MAXN], w[MAXN], b[MAXN], want[MAXN], got[MAXN];
    for (int p = 0; p < 2; p++) {
        if (!sparq_vmath_path_supported(paths[p])) {
            printf("# skip vmath path %s: not supported by this CPU\n", paths[p]);
            continue;
        }
        int bad[6] = { 0 };
        for (int trial = 0; trial < 200; trial++) {
            int n = 1 + (int)(sparq_rng_next(&rng) % (trial < 100 ? 40 : MAXN));
            float scale = trial % 3 == 0 ? 100.0f : 8.0f;
            fill(x, MAXN, scale), fill(g, MAXN, scale), fill(w, MAXN, 1), fill(b, MAXN, 1);
            if (trial % 4 == 1) { // specials, not in softmax/layernorm rows
                x[sparq_rng_next(&rng) % n] = NAN;
                x[sparq_rng_next(&rng) % n] = -INFINITY;
                g[sparq_rng_next(&rng) % n] = INFINITY;
                x[sparq_rng_next(&rng) % n] = -0.0f;
            }
            void (*un[3])(float *, const float *, size_t) = { sparq_vexp, sparq_vsigmoid, sparq_vsilu };
            for (int f = 0; f < 3; f++) {
                sparq_vmath_set_path("scalar");
                un[f](want, x, (size_t)n);
                sparq_vmath_set_path(paths[p]);
                memcpy(got, want, sizeof got);
                un[f](got, x, (size_t)n);
                bad[f] += !same_bits(want, got, (size_t)n);
            }
            sparq_vmath_set_path("scalar");
            sparq_vglu(want, x, g, (size_t)n);
            sparq_vmath_set_path(paths[p]);
            sparq_vglu(got, x, g, (size_t)n);
            bad[3] += !same_bits(want, got, (size_t)n);
            if (trial % 4 != 1) {
                memcpy(want, x, sizeof x), memcpy(got, x, sizeof x);
                sparq_vmath_set_path("scalar");
                sparq_vsoftmax(want, n);
                sparq_vmath_set_path(paths[p]);
                sparq_vsoftmax(got, n);
                bad[4] += !same_bits(want, got, (size_t)n);
                float m0, r0, m1, r1;
                sparq_vmath_set_path("scalar");
                sparq_vlayernorm(want, &m0, &r0, x, w, b, n, 1e-5f);
                sparq_vmath_set_path(paths[p]);
                sparq_vlayernorm(got, &m1, &r1, x, w, b, n, 1e-5f);
                bad[5] += !same_bits(want, got, (size_t)n) || m0 != m1 || r0 != r1;
            }
        }
        sparq_vmath_set_path(NULL);
        static const char *const what[6] = { "exp", "sigmoid", "silu", "glu", "softmax", "layernorm" };
        for (int f = 0; f < 6; f++)
            CHECK(bad[f] == 0, "vmath %s: %s bit-identical to scalar (%d of 200 trials differ)", paths[p], what[f],
                  bad[f]);
    }
    // The ops against plain float formulas (libm exp), loosely: a wrong
    // formula (say the softmax not normalised) is far outside these bounds.
    fill(x, MAXN, 6), fill(w, MAXN, 1), fill(b, MAXN, 1);
    double e_sm = 0, e_ln = 0, sum = 0, mx = x[0], mean = 0, var = 0;
    for (int i = 0; i < 77; i++)
        mx = x[i] > mx ? x[i] : mx, mean += x[i];
    mean /= 77;
    for (int i = 0; i < 77; i++)
        sum += exp(x[i] - mx), var += (x[i] - mean) * (x[i] - mean);
    var /= 77;
    memcpy(got, x, sizeof x);
    sparq_vsoftmax(got, 77);
    float m, r;
    sparq_vlayernorm(want, &m, &r, x, w, b, 77, 1e-5f);
    for (int i = 0; i < 77; i++) {
        e_sm = fmax(e_sm, fabs(got[i] - exp(x[i] - mx) / sum));
        e_ln = fmax(e_ln, fabs(want[i] - ((x[i] - mean) / sqrt(var + 1e-5) * w[i] + b[i])));
    }
    CHECK(e_sm < 1e-6 && e_ln < 1e-5, "vmath softmax / layernorm match double formulas (%.2g, %.2g)", e_sm, e_ln);
}

int main(void)
{
    rng = check_seed(20261126);
    test_linear();
    test_layernorm();
    test_pointwise();
    test_attention();
    test_dwconv();
    test_batchnorm();
    test_hooks();
    test_conv2d();
    test_dwconv2d();
    test_ctc();
    test_dropout();
    test_vmath_exp();
    test_vmath_paths();
    return check_done();
}
