// The decode-only forward (sparq_acts_create_eval, issue 18) against the
// training-capable forward in eval mode: logits bit for bit (padded frames
// too) on random tiny models of several shapes, on batches that grow and
// shrink across calls of one set of eval activations; through a linear hook
// the hook sees the same calls (weight, rows, sizes, input bits; in the same
// order with one thread); through the integer runtime's cpu backend (an exported int4 2:4
// model) the logits match too. A training forward on eval activations is
// refused.
#include <math.h>
#include <omp.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "sparq_error.h"
#include "sparq_layers.h"
#include "sparq_rng.h"
#include "sparq_runtime.h"
#include "tiny_model.h"

static uint64_t rng_state;
static float rndf(void) { return (float)(2.0 * sparq_rng_uniform(&rng_state) - 1.0); }

// A hook that stands in for an integer runtime: it takes over the weights
// whose first element is positive (the rest fall through to the float path)
// with a per-row fake-quantized input, and logs each call's weight pointer,
// shape and a hash of the input bits. The subsampling convs call it from
// several threads at once (one utterance each), as they call the runtime.
struct call {
    const float *w;
    int N, IN, OUT;
    uint64_t h;
};
struct call_log {
    int n, cap;
    struct call *c;
};

static uint64_t hash_bits(const float *x, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    const unsigned char *p = (const unsigned char *)x;
    for (size_t i = 0; i < n * sizeof(float); i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

static int log_hook(void *ctx, float *out, const float *inp, const float *w, const float *b, int N, int IN, int OUT)
{
    struct call_log *lg = ctx;
    uint64_t h = hash_bits(inp, (size_t)N * IN);
#pragma omp critical(fwd_eval_log)
    {
        if (lg->n == lg->cap) {
            lg->cap = lg->cap ? 2 * lg->cap : 64;
            lg->c = realloc(lg->c, sizeof *lg->c * (size_t)lg->cap);
        }
        lg->c[lg->n].w = w;
        lg->c[lg->n].N = N;
        lg->c[lg->n].IN = IN;
        lg->c[lg->n].OUT = OUT;
        lg->c[lg->n].h = h;
        lg->n++;
    }
    if (!(w[0] > 0.0f))
        return 0; // the float path computes this one
    float *q = malloc(sizeof(float) * (size_t)N * IN);
    for (int i = 0; i < N; i++) {
        const float *x = inp + (size_t)i * IN;
        float mx = 0;
        for (int k = 0; k < IN; k++)
            mx = fabsf(x[k]) > mx ? fabsf(x[k]) : mx;
        float s = mx > 0 ? mx / 127.0f : 1.0f;
        for (int k = 0; k < IN; k++)
            q[(size_t)i * IN + k] = rintf(x[k] / s) * s;
    }
    linear_forward(out, q, w, b, N, IN, OUT);
    free(q);
    return 1;
}

// Logits (B, T2, vocab) of m on one batch through acts `a`; malloc'd copy.
static float *logits(struct sparq_model *m, struct sparq_acts *a, const float *x, const int *lens, int B, int T,
                     int *T2)
{
    *T2 = sparq_forward(m, a, x, lens, B, T, 0);
    if (*T2 < 0)
        return NULL;
    size_t n = (size_t)B * *T2 * m->cfg.vocab;
    float *out = malloc(sizeof(float) * n);
    memcpy(out, sparq_acts_logits(a), sizeof(float) * n);
    return out;
}

// Random batch: B utterances of 7..T frames (the first T long).
static float *batch(const struct sparq_config *c, int *lens, int B, int T)
{
    float *x = calloc((size_t)B * T * c->n_mels, sizeof(float));
    for (int b = 0; b < B; b++) {
        lens[b] = b == 0 ? T : 7 + (int)(sparq_rng_uniform(&rng_state) * (T - 6));
        if (lens[b] > T)
            lens[b] = T;
        for (int i = 0; i < lens[b] * c->n_mels; i++)
            x[(size_t)b * T * c->n_mels + i] = 2.0f * rndf();
    }
    return x;
}

static void random_model(struct sparq_model *m, const struct sparq_config *c, uint64_t seed)
{
    sparq_model_create(m, c);
    sparq_model_init(m, seed);
    for (int l = 0; l < c->n_layers; l++)
        for (int j = 0; j < c->d_model; j++) {
            m->buf.bn_mean[l][j] = 0.2f * rndf();
            m->buf.bn_var[l][j] = 1.0f + 0.5f * rndf();
        }
}

static int cmp_call(const void *pa, const void *pb)
{
    const struct call *a = pa, *b = pb; // any fixed order will do
    uintptr_t wa = (uintptr_t)a->w, wb = (uintptr_t)b->w;
    if (wa != wb)
        return wa < wb ? -1 : 1;
    if (a->N != b->N)
        return a->N < b->N ? -1 : 1;
    return a->h < b->h ? -1 : a->h > b->h;
}

// Same calls: in the same order with one thread; as multisets with more
// (the per-utterance subsampling calls then interleave in any order).
static int same_log(struct call_log *x, struct call_log *y)
{
    if (x->n != y->n)
        return 0;
    if (omp_get_max_threads() > 1 && x->n > 0) {
        qsort(x->c, (size_t)x->n, sizeof x->c[0], cmp_call);
        qsort(y->c, (size_t)y->n, sizeof y->c[0], cmp_call);
    }
    for (int i = 0; i < x->n; i++)
        if (x->c[i].w != y->c[i].w || x->c[i].N != y->c[i].N || x->c[i].IN != y->c[i].IN ||
            x->c[i].OUT != y->c[i].OUT || x->c[i].h != y->c[i].h)
            return 0;
    return 1;
}

// One model shape: a sequence of batch shapes through one eval acts object
// (grown, then shrunk), each against fresh training-capable acts; with no
// hook and with the logging hook.
static void check_shape(const char *name, const struct sparq_config *c, uint64_t seed)
{
    struct sparq_model m;
    random_model(&m, c, seed);
    static const int shapes[][2] = { { 1, 9 }, { 3, 40 }, { 4, 61 }, { 2, 23 }, { 1, 7 } };
    struct sparq_acts *ev = sparq_acts_create_eval(c, 1, 8);
    for (int hooked = 0; hooked < 2; hooked++) {
        int same = 1, same_calls = 1, shapes_run = 0, calls = 0;
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
            int B = shapes[s][0], T = shapes[s][1], lens[4];
            float *x = batch(c, lens, B, T);
            struct call_log l_old = { 0 }, l_new = { 0 };
            struct sparq_acts *old = sparq_acts_create(c, B, T);
            int T2o, T2n;
            m.hooks.linear = (struct sparq_linear_hook){ hooked ? log_hook : NULL, &l_old };
            float *lo = logits(&m, old, x, lens, B, T, &T2o);
            m.hooks.linear = (struct sparq_linear_hook){ hooked ? log_hook : NULL, &l_new };
            float *ln = logits(&m, ev, x, lens, B, T, &T2n);
            m.hooks.linear = (struct sparq_linear_hook){ NULL, NULL };
            int ok = lo && ln && T2o == T2n && !memcmp(lo, ln, sizeof(float) * (size_t)B * T2o * c->vocab) &&
                     !memcmp(sparq_acts_out_lens(old), sparq_acts_out_lens(ev), sizeof(int) * (size_t)B);
            if (!ok)
                printf("#   %s: batch %d x %d frames differs\n", name, B, T);
            same = same && ok;
            same_calls = same_calls && same_log(&l_old, &l_new);
            calls += l_new.n;
            shapes_run++;
            free(l_old.c);
            free(l_new.c);
            free(lo);
            free(ln);
            free(x);
            sparq_acts_free(old);
        }
        CHECK(same, "%s%s: eval-only logits == training-capable forward's eval logits, bit for bit (%d batches)",
              name, hooked ? ", linear hook" : "", shapes_run);
        if (hooked)
            CHECK(same_calls && calls > 0, "%s: the hook sees the same %d calls (weight, shape, input bits)%s", name,
                  calls, omp_get_max_threads() > 1 ? "" : " in order");
    }
    sparq_acts_free(ev);
    sparq_model_free(&m);
}

// The integer runtime (cpu backend, int4 2:4) drives the eval-only forward
// through its hook exactly as it drives the training-capable one.
static void check_runtime(uint64_t seed)
{
    struct sparq_config c;
    tiny_model_config(&c);
    struct sparq_model m;
    random_model(&m, &c, seed);
    struct sparq_compress_spec spec;
    sparq_compress_spec_parse(&spec, "int4-2:4,sub1_w=int8");
    char path[] = "/tmp/sparq_fwd_eval_XXXXXX";
    close(mkstemp(path));
    struct sparq_export_report rep;
    int rc = sparq_export(&m, &spec, NULL, SPARQ_SCALE_MSE, path, &rep);
    struct sparq_runtime *rt = NULL;
    if (!rc)
        rc = sparq_runtime_open(&rt, path, "cpu");
    CHECK(rc == 0, "tiny int4 2:4 model exported and opened on the cpu backend (%s)", rc ? sparq_last_error() : "ok");
    if (rc) {
        unlink(path);
        sparq_model_free(&m);
        return;
    }
    enum { B = 3, T = 50 };
    int lens[B], T2o, T2n;
    float *x = batch(&c, lens, B, T);
    struct sparq_model *mp = sparq_runtime_model(rt);
    struct sparq_acts *old = sparq_acts_create(&c, B, T), *ev = sparq_acts_create_eval(&c, 1, 8);
    sparq_runtime_activate(rt);
    float *lo = logits(mp, old, x, lens, B, T, &T2o);
    float *ln = logits(mp, ev, x, lens, B, T, &T2n);
    sparq_runtime_deactivate(rt);
    CHECK(lo && ln && T2o == T2n && !memcmp(lo, ln, sizeof(float) * (size_t)B * T2o * c.vocab) &&
              sparq_runtime_error(rt) == 0,
          "cpu backend, int4 2:4: eval-only logits == training-capable forward's, bit for bit");
    free(lo);
    free(ln);
    free(x);
    sparq_acts_free(old);
    sparq_acts_free(ev);
    sparq_runtime_close(rt);
    unlink(path);
    sparq_model_free(&m);
}

int main(void)
{
    uint64_t seed = check_seed(20261203);
    rng_state = seed;
    struct sparq_config c;
    tiny_model_config(&c);
    check_shape("tiny model", &c, seed + 1);
    // ffn_dim < 3 d (q|k|v is the widest matmul), 3 layers, 4 heads, kernel 5.
    tiny_model_config(&c);
    c.d_model = 24;
    c.n_heads = 4;
    c.ffn_dim = 40;
    c.kernel = 5;
    c.n_layers = 3;
    check_shape("d 24 / ffn 40 / 3 layers", &c, seed + 2);
    // One layer, wide FFN.
    tiny_model_config(&c);
    c.n_layers = 1;
    c.ffn_dim = 96;
    check_shape("1 layer / ffn 96", &c, seed + 3);
    check_runtime(seed + 4);

    tiny_model_config(&c);
    struct sparq_model m;
    random_model(&m, &c, seed + 5);
    struct sparq_acts *ev = sparq_acts_create_eval(&c, 1, 8);
    int lens[1];
    float *x = batch(&c, lens, 1, 20);
    int rc = sparq_forward(&m, ev, x, lens, 1, 20, 1);
    CHECK(rc == SPARQ_EINVAL && strstr(sparq_last_error(), "eval-only"), "a training forward on eval-only acts: %s",
          sparq_last_error());
    free(x);
    sparq_acts_free(ev);
    sparq_model_free(&m);
    return check_done();
}
