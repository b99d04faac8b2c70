// Decoding a dataset in a pipeline across batches (issue 16): while the
// device stage of batch i runs (its device calls and the host float ops
// between them, which depend on each other), another thread computes the
// fbank and the host-placed front-end of batch i+1 and the CTC decode of
// batch i-1. Two workers take batches in turn; a baton lets device stages run
// one at a time in batch order, so the device sees the serial run's calls in
// the serial run's order (same counters, same bytes) and every batch runs the
// same forward on its own activations (same logits). Each stage's host CPU
// time is measured per batch for the report's whole-model time.
#include <omp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "runtime_internal.h"
#include "sparq_clock.h"
#include "sparq_ctc.h"
#include "sparq_error.h"
#include "sparq_fbank.h"
#include "sparq_layers.h"
#include "sparq_train.h"

double rt_thread_cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double rt_cpu_now(void)
{
    if (omp_in_parallel() || omp_get_max_threads() == 1)
        return rt_thread_cpu();
    // libgomp keeps a pool of team threads per calling thread: their clocks
    // summed cover the stage's parallel loops (and their spin-waits).
    double s = 0;
#pragma omp parallel reduction(+ : s)
    s += rt_thread_cpu();
    return s;
}

void rt_pipe_free(struct rt_pipe_record *p, int n_weights)
{
    (void)n_weights;
    for (size_t i = 0; p && i < p->n; i++)
        free(p->b[i].dev);
    if (p)
        free(p->b);
    free(p);
}

struct pipe {
    struct sparq_runtime *rt;
    const struct sparq_dataset *ds;
    const struct sparq_ctc_beam_options *dec;
    const struct sparq_pipeline_options *po;
    char **hyps;
    struct sparq_fbank_plan *plan;
    struct sparq_batches bt;
    struct rt_pipe_record *rec;
    const float *sub_lin_w; // the device stage starts after this matmul (fe_outside)
    int nt;                 // OpenMP threads of each worker
    int padded;             // run padded rows too (sparq_pipeline_options)
    pthread_mutex_t mu;
    pthread_cond_t cv;
    size_t next_claim; // the next batch a worker takes
    size_t next_dev;   // the batch whose device stage may run (the baton)
    int rc;
};

struct worker {
    struct pipe *p;
    struct sparq_model m; // the runtime's model with this worker's hook
    struct sparq_acts *a;
    float *feats;
    int *lens;
    size_t batch;
    int B, T2, valid;  // the batch: utterances, padded subsampled frames, the utterances' own sum
    int *ol;           // (B) each utterance's subsampled frames
    float *vin, *vout; // a call's valid rows, in and out
    size_t cap_vin, cap_vout;
    int holding;                          // in the device stage
    double c_dev, d_dev;                  // rt_cpu_now, rt->dev_cpu at its start
    struct sparq_runtime_layer_stats *s0; // the counters at its start
};

static void fail(struct pipe *p, int rc)
{
    pthread_mutex_lock(&p->mu);
    if (!p->rc)
        p->rc = rc;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

// Waits for the baton (batch order), then notes the counters.
static int enter_device(struct worker *w)
{
    struct pipe *p = w->p;
    struct sparq_runtime *rt = p->rt;
    pthread_mutex_lock(&p->mu);
    while (p->next_dev != w->batch && !p->rc)
        pthread_cond_wait(&p->cv, &p->mu);
    int rc = p->rc;
    pthread_mutex_unlock(&p->mu);
    if (rc)
        return rc;
    w->holding = 1;
    pthread_mutex_lock(&rt->lock);
    memcpy(w->s0, rt->stats, sizeof *w->s0 * (size_t)rt->n_weights);
    w->d_dev = rt->dev_cpu;
    pthread_mutex_unlock(&rt->lock);
    w->c_dev = rt_cpu_now();
    return SPARQ_OK;
}

// The device stage's counters and host CPU time into the batch's record; the
// baton to the next batch.
static void leave_device(struct worker *w)
{
    struct pipe *p = w->p;
    struct sparq_runtime *rt = p->rt;
    struct rt_batch_record *r = &p->rec->b[w->batch];
    double c1 = rt_cpu_now();
    pthread_mutex_lock(&rt->lock);
    for (int i = 0; i < rt->n_weights; i++) {
        const struct sparq_runtime_layer_stats *a = &w->s0[i], *b = &rt->stats[i];
        struct sparq_runtime_layer_stats *d = &r->dev[i];
        memset(d, 0, sizeof *d);
        memcpy(d->name, b->name, sizeof d->name);
        memcpy(d->format, b->format, sizeof d->format);
        d->host = b->host;
        d->chain = b->chain;
        if (b->host) // the other thread's front-end calls: not this stage's, and never on the device
            continue;
        d->calls = b->calls - a->calls;
        d->busy_cycles = b->busy_cycles - a->busy_cycles;
        d->model_busy = b->model_busy - a->model_busy;
        d->wire_to_dev = b->wire_to_dev - a->wire_to_dev;
        d->wire_from_dev = b->wire_from_dev - a->wire_from_dev;
        d->model_to_dev = b->model_to_dev - a->model_to_dev;
        d->model_from_dev = b->model_from_dev - a->model_from_dev;
    }
    r->enc_cpu = (c1 - w->c_dev) - (rt->dev_cpu - w->d_dev);
    pthread_mutex_unlock(&rt->lock);
    w->holding = 0;
    pthread_mutex_lock(&p->mu);
    p->next_dev++;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

// Whether a call on wt with N rows is one of the batch's frame-row matmuls
// (sub_lin_w and everything after it: B x T2 rows; the subsampling convs run
// per utterance) that the runtime computes in integers, with padded rows in
// it; *reads: whether the runtime reads its input (a running chain's W2
// returns the codes its W1's call kept).
static int has_padding(const struct worker *w, const float *wt, int N, int *reads)
{
    const struct sparq_runtime *rt = w->p->rt;
    const struct sparq_params *mp = &w->m.p;
    // (a tensor the front-end option leaves empty shares its neighbour's address)
    const float *sub2 = w->m.cfg.subsampling == SPARQ_SUB_DWSEP4 ? mp->sub2_pw_w : mp->sub2_w;
    if (w->p->padded || w->valid >= N || N != w->B * w->T2 || rt->kind == BACKEND_FLOAT || wt == mp->sub1_w ||
        wt == sub2)
        return 0;
    for (int i = 0; i < rt->n_weights; i++)
        if (rt->weights[i].w == wt) {
            const struct rt_weight *rw = &rt->weights[i];
            *reads = !(rt->use_chain && rw->chain >= 0 && rt->chains[rw->chain].w2 == i);
            return rw->packed;
        }
    return 0;
}

static int grow_floats(float **p, size_t *cap, size_t n)
{
    if (*cap >= n)
        return 1;
    float *q = realloc(*p, sizeof(float) * n);
    if (!q)
        return 0;
    *p = q;
    *cap = n;
    return 1;
}

// The call on the batch's valid rows only: the rows of padded frames (past
// an utterance's subsampled length) go neither to the device nor through the
// host's kernel, and their outputs are 0. No valid frame reads them: the
// host ops work row by row, attention and the depthwise conv stop at each
// utterance's length.
static int valid_rows_linear(struct worker *w, float *out, const float *inp, const float *wt, const float *b, int N,
                             int IN, int OUT, int reads)
{
    const size_t V = (size_t)w->valid;
    if ((reads && !grow_floats(&w->vin, &w->cap_vin, V * IN + 1)) || !grow_floats(&w->vout, &w->cap_vout, V * OUT + 1))
        return rt_linear(w->p->rt, out, inp, wt, b, N, IN, OUT); // no memory: every row, as before
    size_t at = 0;
    for (int k = 0; reads && k < w->B; at += (size_t)w->ol[k++])
        memcpy(w->vin + at * IN, inp + (size_t)k * w->T2 * IN, sizeof(float) * (size_t)w->ol[k] * IN);
    int r = rt_linear(w->p->rt, w->vout, reads ? w->vin : inp, wt, b, w->valid, IN, OUT);
    if (r == 0 || r == SPARQ_LINEAR_NO_ACT) // the float path's (every row of inp), or a chain's W1: nothing written
        return r;
    at = 0;
    for (int k = 0; k < w->B; at += (size_t)w->ol[k++]) {
        float *o = out + (size_t)k * w->T2 * OUT;
        memcpy(o, w->vout + at * OUT, sizeof(float) * (size_t)w->ol[k] * OUT);
        memset(o + (size_t)w->ol[k] * OUT, 0, sizeof(float) * (size_t)(w->T2 - w->ol[k]) * OUT);
    }
    return r;
}

// The worker's model hook: the runtime's (on the valid rows), and the device
// stage starts once the front-end's last matmul (sub_lin_w) is done, when the
// front-end runs outside it.
static int pipe_linear(void *ctx, float *out, const float *inp, const float *wt, const float *b, int N, int IN, int OUT)
{
    struct worker *w = ctx;
    int reads = 1;
    int r = has_padding(w, wt, N, &reads) ? valid_rows_linear(w, out, inp, wt, b, N, IN, OUT, reads)
                                          : rt_linear(w->p->rt, out, inp, wt, b, N, IN, OUT);
    if (wt == w->p->sub_lin_w && !w->holding) {
        if (!r) // the float path computes it: in the front-end stage still
            linear_forward(out, inp, wt, b, N, IN, OUT);
        w->p->rec->b[w->batch].fe_cpu += rt_cpu_now();
        if (enter_device(w))
            memset(out, 0, sizeof(float) * (size_t)N * OUT); // another worker failed: results are dropped
        return 1;
    }
    return r;
}

// Features of batch bi into w->feats (padded to the longest), lengths into w->lens.
static int features(struct worker *w, size_t bi, int *T)
{
    struct pipe *p = w->p;
    const struct sparq_dataset *ds = p->ds;
    const int D = w->m.cfg.n_mels;
    size_t s0 = p->bt.start[bi], B = p->bt.start[bi + 1] - s0;
    *T = 0;
    for (size_t k = 0; k < B; k++) {
        w->lens[k] = ds->frames[p->bt.order[s0 + k]];
        *T = w->lens[k] > *T ? w->lens[k] : *T;
    }
    memset(w->feats, 0, sizeof(float) * B * (size_t)*T * (size_t)D);
    int frc = SPARQ_OK;
#pragma omp parallel for schedule(dynamic)
    for (size_t k = 0; k < B; k++) {
        int r = sparq_dataset_features(ds, p->bt.order[s0 + k], p->plan, 0, &w->m, w->feats + k * (size_t)*T * D);
        if (r) {
#pragma omp critical
            frc = r;
        }
    }
    return frc;
}

// CTC decoding of batch bi's logits into the hypotheses.
static int decode(struct worker *w, size_t bi, int T2)
{
    struct pipe *p = w->p;
    const int V = w->m.cfg.vocab;
    size_t s0 = p->bt.start[bi], B = p->bt.start[bi + 1] - s0;
    const float *lg = sparq_acts_logits(w->a);
    const int *ol = sparq_acts_out_lens(w->a);
#pragma omp parallel for schedule(dynamic)
    for (size_t k = 0; k < B; k++) {
        size_t cap = (size_t)ol[k] + 2;
        char *h = malloc(cap);
        const float *x = lg + k * (size_t)T2 * V;
        if (h) {
            if (p->dec && p->dec->beam > 1)
                sparq_ctc_beam_ex(x, ol[k], V, p->dec, h, cap);
            else
                sparq_ctc_greedy(x, ol[k], V, h, cap);
        }
        p->hyps[p->bt.order[s0 + k]] = h;
    }
    for (size_t k = 0; k < B; k++)
        if (!p->hyps[p->bt.order[s0 + k]])
            return sparq_fail(SPARQ_ENOMEM, "out of memory for hypotheses");
    return SPARQ_OK;
}

// One batch through the three stages.
static int run_batch(struct worker *w, size_t bi)
{
    struct pipe *p = w->p;
    struct rt_batch_record *r = &p->rec->b[bi];
    size_t B = p->bt.start[bi + 1] - p->bt.start[bi];
    w->batch = bi;
    r->fe_cpu = -rt_cpu_now();
    int T = 0, rc = features(w, bi, &T);
    if (rc)
        return rc;
    w->B = (int)B;
    w->T2 = sparq_sub_frames(T);
    w->valid = 0;
    for (size_t k = 0; k < B; k++)
        w->valid += w->ol[k] = sparq_sub_frames(w->lens[k]);
    if (!p->rec->fe_outside) { // the front-end uses the device: all of the forward is the device stage
        r->fe_cpu += rt_cpu_now();
        if ((rc = enter_device(w)))
            return rc;
    }
    int T2 = sparq_forward(&w->m, w->a, w->feats, w->lens, (int)B, T, 0);
    if (!w->holding) // failed before the device stage
        return T2 < 0 ? T2 : sparq_fail(SPARQ_EINVAL, "pipeline: batch %zu never reached the device stage", bi);
    leave_device(w);
    if (T2 < 0)
        return T2;
    if (p->rc)
        return p->rc;
    if (p->po && p->po->on_batch)
        p->po->on_batch(p->po->ctx, bi, p->bt.order + p->bt.start[bi], B, sparq_acts_logits(w->a), T2, w->m.cfg.vocab);
    double d0 = rt_cpu_now();
    rc = decode(w, bi, T2);
    r->dec_cpu = rt_cpu_now() - d0;
    return rc;
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct pipe *p = w->p;
    omp_set_num_threads(p->nt); // a new thread starts from OpenMP's defaults
    for (;;) {
        pthread_mutex_lock(&p->mu);
        size_t bi = p->next_claim++;
        int stop = p->rc || bi >= p->bt.n;
        pthread_mutex_unlock(&p->mu);
        if (stop)
            break;
        int rc = run_batch(w, bi);
        if (rc) {
            fail(p, rc);
            break;
        }
    }
    return NULL;
}

// The second worker runs on a helper thread kept for the life of the process,
// as OpenMP keeps its own pool: a thread that exits would take with it the
// per-thread buffers of the kernels it ran (and its OpenMP team's). One
// decode at a time uses it; another waits.
static pthread_once_t helper_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t helper_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t helper_cv = PTHREAD_COND_INITIALIZER;
static struct worker *helper_job;
static int helper_ok;

static void *helper_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&helper_mu);
    for (;;) {
        while (!helper_job)
            pthread_cond_wait(&helper_cv, &helper_mu);
        struct worker *w = helper_job;
        pthread_mutex_unlock(&helper_mu);
        worker_main(w);
        pthread_mutex_lock(&helper_mu);
        helper_job = NULL;
        pthread_cond_broadcast(&helper_cv);
    }
    return NULL;
}

static void helper_start(void)
{
    pthread_t t;
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    helper_ok = pthread_create(&t, &at, helper_main, NULL) == 0;
    pthread_attr_destroy(&at);
}

// Hands w to the helper thread (after any other decode's job).
static int helper_submit(struct worker *w)
{
    pthread_once(&helper_once, helper_start);
    if (!helper_ok)
        return sparq_fail(SPARQ_EINVAL, "pipeline: cannot start a thread");
    pthread_mutex_lock(&helper_mu);
    while (helper_job)
        pthread_cond_wait(&helper_cv, &helper_mu);
    helper_job = w;
    pthread_cond_broadcast(&helper_cv);
    pthread_mutex_unlock(&helper_mu);
    return SPARQ_OK;
}

static void helper_wait(const struct worker *w)
{
    pthread_mutex_lock(&helper_mu);
    while (helper_job == w)
        pthread_cond_wait(&helper_cv, &helper_mu);
    pthread_mutex_unlock(&helper_mu);
}

// A worker's buffers: activations and features for the largest batch.
static int worker_init(struct worker *w, struct pipe *p)
{
    memset(w, 0, sizeof *w);
    w->p = p;
    w->m = *sparq_runtime_model(p->rt);
    w->m.hooks.linear = (struct sparq_linear_hook){ pipe_linear, w };
    w->m.hooks.conv = (struct sparq_conv_hook){ rt_conv, p->rt };
    const struct sparq_config *c = &w->m.cfg;
    w->a = sparq_acts_create_eval(c, 1, 64);
    w->lens = malloc(sizeof(int) * (p->ds->n + 1));
    w->ol = malloc(sizeof(int) * (p->ds->n + 1));
    w->s0 = malloc(sizeof *w->s0 * ((size_t)p->rt->n_weights + 1));
    if (!w->a || !w->lens || !w->ol || !w->s0)
        return sparq_fail(SPARQ_ENOMEM, "pipeline: out of memory");
    size_t cap = 0;
    for (size_t bi = 0; bi < p->bt.n; bi++) {
        size_t s0 = p->bt.start[bi], B = p->bt.start[bi + 1] - s0;
        int T = 0;
        for (size_t k = 0; k < B; k++)
            T = p->ds->frames[p->bt.order[s0 + k]] > T ? p->ds->frames[p->bt.order[s0 + k]] : T;
        int rc = sparq_acts_reserve(w->a, (int)B, T);
        if (rc)
            return rc;
        cap = B * (size_t)T * c->n_mels > cap ? B * (size_t)T * c->n_mels : cap;
    }
    w->feats = sparq_malloc(sizeof(float) * (cap + 1), "features");
    return w->feats ? SPARQ_OK : SPARQ_ENOMEM;
}

static void worker_free(struct worker *w)
{
    sparq_acts_free(w->a);
    free(w->feats);
    free(w->lens);
    free(w->ol);
    free(w->vin);
    free(w->vout);
    free(w->s0);
}

// The front-end runs outside the device stage when none of its packed
// matmuls uses the device (or the model device's plan, on cpu).
static int frontend_outside(const struct sparq_runtime *rt)
{
    for (int i = 0; i < rt->n_weights; i++)
        if (rt->weights[i].packed && !rt->weights[i].host && rt_is_frontend(rt->stats[i].name) &&
            rt->kind != BACKEND_FLOAT)
            return 0;
    return 1;
}

int sparq_runtime_batch_frames(const struct sparq_dataset *ds, int max_frames, int min_batches)
{
    long long total = 0, longest = 0;
    for (size_t i = 0; i < ds->n; i++) {
        total += ds->frames[i];
        longest = ds->frames[i] > longest ? ds->frames[i] : longest;
    }
    if (min_batches <= 0)
        min_batches = SPARQ_PIPELINE_BATCHES;
    long long cap = (total + min_batches - 1) / min_batches;
    cap = cap > longest ? cap : longest; // a batch holds one utterance at least
    return cap < max_frames ? (int)cap : max_frames;
}

// Keeps batches rank, rank + ranks, ... of b (each one's utterances in order).
static int rank_share(struct sparq_batches *b, int rank, int ranks)
{
    if (rank < 0 || rank >= ranks)
        return sparq_fail(SPARQ_EINVAL, "pipeline: rank %d of %d", rank, ranks);
    size_t n = 0, at = 0;
    for (size_t i = (size_t)rank; i < b->n; i += (size_t)ranks) {
        size_t s0 = b->start[i], len = b->start[i + 1] - s0;
        memmove(b->order + at, b->order + s0, sizeof *b->order * len); // at <= s0: moves left
        b->start[n++] = at;
        at += len;
    }
    b->start[n] = at;
    b->n = n;
    return SPARQ_OK;
}

static int pipe_setup(struct pipe *p, int max_frames)
{
    struct sparq_runtime *rt = p->rt;
    struct sparq_fbank_options fo;
    sparq_fbank_default_options(&fo);
    fo.num_mel_bins = rt->m.cfg.n_mels;
    int rc = sparq_fbank_plan_create(&p->plan, &fo);
    int frames = sparq_runtime_batch_frames(p->ds, max_frames, p->po ? p->po->min_batches : 0);
    rc = rc ? rc : sparq_batches_make(&p->bt, p->ds, frames, 0);
    if (!rc && p->po && p->po->ranks > 1)
        rc = rank_share(&p->bt, p->po->rank, p->po->ranks);
    p->rec = rc ? NULL : sparq_calloc(1, sizeof *p->rec, "pipeline record");
    if (!rc && !p->rec)
        rc = SPARQ_ENOMEM;
    if (rc)
        return rc;
    p->rec->n = p->bt.n;
    p->rec->batch_frames = frames;
    p->rec->padded = p->padded;
    p->rec->b = sparq_calloc(p->bt.n + 1, sizeof *p->rec->b, "pipeline record");
    for (size_t i = 0; p->rec->b && i < p->bt.n; i++)
        if (!(p->rec->b[i].dev = sparq_calloc((size_t)rt->n_weights + 1, sizeof *p->rec->b[i].dev, "record")))
            return SPARQ_ENOMEM;
    return p->rec->b ? SPARQ_OK : SPARQ_ENOMEM;
}

int sparq_runtime_decode(struct sparq_runtime *rt, const struct sparq_dataset *ds, int max_frames,
                         const struct sparq_ctc_beam_options *dec, const struct sparq_pipeline_options *po, char **hyps)
{
    int threads = po ? po->threads : 2;
    if (threads < 1 || threads > 2)
        return sparq_fail(SPARQ_EINVAL, "pipeline: %d threads (expected 1: serial, or 2: overlapped)", threads);
    struct pipe p;
    memset(&p, 0, sizeof p);
    p.rt = rt;
    p.ds = ds;
    p.dec = dec;
    p.po = po;
    p.hyps = hyps;
    p.nt = omp_get_max_threads();
    p.sub_lin_w = rt->m.p.sub_lin_w;
    p.padded = po ? po->padded : 0;
    pthread_mutex_init(&p.mu, NULL);
    pthread_cond_init(&p.cv, NULL);
    struct worker w[2];
    memset(w, 0, sizeof w);
    double t0 = sparq_clock_s();
    int rc = pipe_setup(&p, max_frames);
    if (!rc) {
        p.rec->threads = threads;
        p.rec->fe_outside = frontend_outside(rt);
    }
    for (int k = 0; !rc && k < threads; k++)
        rc = worker_init(&w[k], &p);
    rt->timing = 1; // before the helper starts: a call must not see it change
    int started = !rc && threads == 2 && !(rc = helper_submit(&w[1]));
    if (!rc)
        worker_main(&w[0]);
    if (started)
        helper_wait(&w[1]);
    rt->timing = 0;
    rc = rc ? rc : p.rc;
    if (!rc && rt->error)
        rc = rt->error;
    for (int k = 0; k < 2; k++)
        worker_free(&w[k]);
    rt_pipe_free(rt->pipe, rt->n_weights);
    rt->pipe = NULL;
    rt->rows_valid = !rc && !p.padded;
    if (!rc && !(po && po->ranks > 1)) {
        p.rec->wall = sparq_clock_s() - t0;
        rt->pipe = p.rec;
    } else
        rt_pipe_free(p.rec, rt->n_weights);
    sparq_batches_free(&p.bt);
    sparq_fbank_plan_free(p.plan);
    pthread_cond_destroy(&p.cv);
    pthread_mutex_destroy(&p.mu);
    return rc;
}

int sparq_runtime_stage_counters(const struct sparq_runtime *rt, size_t batch, struct sparq_runtime_layer_stats *out)
{
    if (!rt->pipe || batch >= rt->pipe->n)
        return sparq_fail(SPARQ_EINVAL, "pipeline: no batch %zu in the last decode", batch);
    memcpy(out, rt->pipe->b[batch].dev, sizeof *out * (size_t)rt->n_weights);
    return SPARQ_OK;
}
